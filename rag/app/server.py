"""The product people use: a Gradio chat and a JSON API on one local server.

    $ python app.py                 # or: rag serve, make chat
    $ curl -s localhost:7860/api/ask -H 'content-type: application/json' \\
           -d '{"question": "Who is Alex Vatanka?"}'

The page comes up at once; the embedding model and (on first start) the index load in a
background thread while a status line says what is happening. Every answer shows its ``[n]``
markers and, under it, a collapsible *Sources* message with each cited unit's full text and the
quoted part highlighted. Refusals show no sources.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag import _offline  # noqa: F401
from rag.chain import MAX_QUESTION_CHARS, RagChain
from rag.config import Settings
from rag.errors import ConfigError, ModelError, QuestionError, RagError, StoreError
from rag.index.store import Filters
from rag.query.conversation import normalize_history
from rag.results import Answer, Citation

EXAMPLES = [
    "Why do analysts doubt a Russia-Iran split?",
    "Who is Alex Vatanka?",
    "What did Trump mean by locked and loaded?",
    "How many people were killed in Iran's protests according to The Jerusalem Post?",
]
CONCURRENCY = 4
READY_TIMEOUT_S = 900.0


class Startup:
    """Loads the model and builds the index in the background; tells anyone who asks how far."""

    def __init__(self, chain: RagChain) -> None:
        self.chain = chain
        self.status = "Starting…"
        self.error: str | None = None
        self.ready = threading.Event()
        self.started = time.monotonic()

    def start(self) -> Startup:
        threading.Thread(target=self._run, name="rag-startup", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            self.status = "Loading the embedding model…"
            self.chain.warm_up()
            self.status = "Opening the index…"

            def progress(done: int, total: int, source: str) -> None:
                self.status = f"Building the index (first start): {done}/{total} passages embedded"

            report = self.chain.ensure_index(progress=progress)
            built = f" (built {report.summary()})" if report else ""
            self.status = "Loading the keyword index…"
            self.chain.retriever.corpus()  # so that the first question does not pay for it
            files = self.chain.store.files()
            self.status = f"Ready: {len(files)} documents indexed{built}."
        except RagError as exc:
            self.error = str(exc)
            self.status = f"Cannot start: {exc}"
        finally:
            self.ready.set()

    def wait(self, timeout: float = READY_TIMEOUT_S) -> None:
        if not self.ready.wait(timeout):
            raise RagError(f"still starting after {timeout:.0f} s ({self.status}); try again")
        if self.error:
            raise RagError(self.error)


# --- rendering -------------------------------------------------------------------------------


def citation_label(c: Citation) -> str:
    """ "headline 5 · The Jerusalem Post · Jan 6, 2026" or "paragraph 11"."""
    if c.kind == "headline":
        parts = [f"headline {c.locator.split()[1]}"]
        if c.outlet:
            parts.append(c.outlet)
        if c.date:
            day = dt.date.fromisoformat(c.date)
            parts.append(f"{day:%b} {day.day}, {day.year}")
        return " · ".join(parts)
    return c.locator


def highlight(text: str, quotes: tuple[str, ...]) -> str:
    """The unit's text, HTML-escaped, with each quoted stretch wrapped in <mark>."""
    spans = []
    for quote in quotes:
        start = text.find(quote)
        if start >= 0:
            spans.append((start, start + len(quote)))
    if not spans and quotes:
        spans = [(0, len(text))]
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            start = pos
        if end <= start:
            continue
        out += [html.escape(text[pos:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def sources_markdown(answer: Answer) -> str:
    blocks = []
    for c in answer.citations:
        blocks.append(
            f"**[{c.n}] {html.escape(c.title)}** — {html.escape(citation_label(c))}  \n"
            f"<small>{html.escape(c.source)}</small>\n\n"
            f"<blockquote>{highlight(c.text, c.quotes)}</blockquote>"
        )
    return "\n\n".join(blocks)


def _history_for_chain(history: list[Any]) -> list[dict[str, str]]:
    """Gradio's messages (content as text or parts) minus the Sources messages."""
    messages = []
    for item in history or []:
        message = item if isinstance(item, dict) else getattr(item, "__dict__", {})
        metadata = message.get("metadata") or {}
        if isinstance(metadata, dict) and metadata.get("title"):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        if isinstance(content, str) and content.strip():
            messages.append({"role": str(message.get("role", "user")), "content": content})
    return normalize_history(messages)


def parse_filters(
    documents: list[str] | None, date_from: str | None, date_to: str | None
) -> Filters:
    return Filters.parse(documents or (), date_from, date_to, names=("From date", "To date"))


# --- the chat --------------------------------------------------------------------------------


def build_ui(chain: RagChain, startup: Startup) -> Any:
    import gradio as gr

    def respond(
        message: str,
        history: list[Any],
        k: float,
        documents: list[str] | None,
        date_from: str,
        date_to: str,
        answerer: str | None = None,
    ) -> Iterator[Any]:
        if not startup.ready.is_set():
            yield f"⏳ {startup.status} Your question will be answered as soon as it is ready."
        evidence, draft, answer = "", "", None
        try:
            startup.wait()
            filters = parse_filters(documents, date_from, date_to)
            events = chain.stream(
                message,
                history=_history_for_chain(history),
                k=int(k),
                filters=filters or None,
                answerer=answerer or None,
            )
            for event in events:
                if event.kind == "evidence":
                    evidence = event.text
                    yield f"{evidence}\n\n*Writing a fuller answer from these sources…*"
                elif event.kind == "token":
                    draft += event.text
                    yield f"{evidence}\n\n*Draft, not yet checked against the sources:* {draft}"
                else:
                    answer = event.result
        except RagError as exc:
            yield f"⚠️ {exc}"
            return
        if answer is None:
            yield "⚠️ The answer stream ended without an answer; please report this bug."
            return
        if answer.refused:
            yield answer.answer
            return
        if not evidence:  # the extractive answerer is instant: show it sentence by sentence
            shown = ""
            for sentence in answer.sentences:
                shown = f"{shown} {sentence}".strip()
                yield shown
        sources = sources_markdown(answer)
        if answer.dropped:
            removed = "".join(f"\n- {html.escape(d)}" for d in answer.dropped)
            sources += f"\n\n*Removed from the generated answer (not supported):*{removed}"
        yield [
            gr.ChatMessage(role="assistant", content=answer.answer),
            gr.ChatMessage(
                role="assistant",
                content=sources,
                metadata={"title": f"Sources ({len(answer.citations)})", "status": "done"},
            ),
        ]

    with gr.Blocks(title="citerag") as demo:
        gr.Markdown("## citerag — answers about the news, every sentence cited")
        status = gr.Markdown(startup.status, elem_id="status")
        timer = gr.Timer(1.0)
        with gr.Accordion("Options", open=False, elem_id="options") as options:
            k = gr.Slider(
                1,
                15,
                value=chain.settings.retrieval.top_k,
                step=1,
                label="Number of sources to draw the answer from",
            )
            documents = gr.Dropdown(
                [],
                multiselect=True,
                elem_id="documents",
                value=[],
                label="Only these documents (empty: all)",
            )
            with gr.Row():
                date_from = gr.Textbox(label="Headlines from (YYYY-MM-DD)", max_lines=1)
                date_to = gr.Textbox(label="Headlines to (YYYY-MM-DD)", max_lines=1)
            available = chain.available_answerers()
            configured = chain.settings.answer.answerer
            default = configured if configured in available else None
            answerer = gr.Radio(
                available,
                value=default or "extractive",
                label="Answerer (extractive quotes the sources; local and openai write an answer "
                "that is checked against them)",
                visible=len(available) > 1,
            )

        def refresh() -> tuple[str, Any, Any]:
            """The start-up status, each second until ready; then the documents to choose from."""
            if not startup.ready.is_set() or startup.error:
                return startup.status, gr.Timer(active=not startup.ready.is_set()), gr.update()
            try:
                titles = gr.update(choices=chain.document_titles())
            except RagError:
                titles = gr.update()  # the store is unreachable now; the chat says so when asked
            return startup.status, gr.Timer(active=False), titles

        timer.tick(
            refresh,
            outputs=[status, timer, documents],
            show_progress="hidden",
            api_visibility="private",
        )
        chat = gr.ChatInterface(
            respond,
            chatbot=gr.Chatbot(height=560, elem_id="chatbot", label="citerag"),
            additional_inputs=[k, documents, date_from, date_to, answerer],
            additional_inputs_accordion=options,
            api_name="chat",
            concurrency_limit=CONCURRENCY,
            fill_height=False,
        )
        gr.Examples(EXAMPLES, inputs=[chat.textbox], label="Try one of these")
    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


# --- the JSON API ----------------------------------------------------------------------------


class FilterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(default_factory=list, description="source paths or titles")
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class AskBody(BaseModel):
    """``POST /api/ask``: the question, optional conversation, evidence depth and filters."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    history: list[dict[str, Any] | list[str] | str] | None = None
    k: int | None = Field(default=None, ge=1, le=50)
    filters: FilterBody | None = None
    answerer: Literal["extractive", "local", "openai"] | None = None


def http_status(exc: RagError) -> int:
    """What an error means to an HTTP client: its question (422), the index being unreachable
    for now (503: retry), the language model's endpoint failing (502), and the server's own
    configuration or anything else (500: tell the operator)."""
    if isinstance(exc, QuestionError):
        return 422
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, ModelError):
        return 502
    return 500  # ConfigError and any other: the operator's to fix


def build_api(chain: RagChain, startup: Startup) -> Any:
    from fastapi import FastAPI, HTTPException
    from fastapi.concurrency import run_in_threadpool

    app = FastAPI(
        title="citerag API",
        version="0.1.0",
        description="Answers about the indexed articles, every sentence cited.",
    )

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        ready = startup.ready.is_set() and not startup.error
        return {
            "status": "ready" if ready else ("error" if startup.error else "starting"),
            "detail": startup.status,
            "pid": os.getpid(),  # which worker answered, when there are several
        }

    @app.post("/api/ask")
    async def ask(body: AskBody) -> dict[str, Any]:
        if not body.question.strip():
            raise HTTPException(422, "question is blank; send a question about the articles")
        filters = None
        if body.filters:
            f = body.filters
            try:
                filters = Filters.parse(f.sources, f.date_from, f.date_to)
            except QuestionError as exc:
                raise HTTPException(422, str(exc)) from None
        if body.answerer and body.answerer not in chain.available_answerers():
            available = ", ".join(chain.available_answerers())
            raise HTTPException(422, f"answerer {body.answerer!r} is not available here "
                                     f"(available: {available})")  # fmt: skip
        try:
            await run_in_threadpool(startup.wait, 120.0)
        except RagError as exc:
            raise HTTPException(503, str(exc)) from None
        try:
            answer = await run_in_threadpool(
                chain.ask, body.question, body.history, body.k, filters or None, body.answerer
            )
        except RagError as exc:
            raise HTTPException(http_status(exc), str(exc)) from None
        return answer.to_dict()

    return app


def create_app(settings: Settings | None = None) -> Any:
    """The FastAPI app with the chat mounted at ``/`` and the API under ``/api``."""
    import gradio as gr

    settings = settings or Settings.load()
    app, chain, startup = _api_app(settings)
    demo = build_ui(chain, startup)
    return gr.mount_gradio_app(app, demo, path="/")


def create_api(settings: Settings | None = None) -> Any:
    """The HTTP API alone, without the chat: what each process of ``serve(workers=N)`` runs
    (uvicorn calls it with no arguments; the settings come from the environment)."""
    return _api_app(settings or Settings.load())[0]


def _api_app(settings: Settings) -> tuple[Any, RagChain, Startup]:
    from rag.app.auth import TokenGuard, check_binding

    token = settings.server.token()
    check_binding(settings.server.host, token)
    chain = RagChain(settings)
    startup = Startup(chain).start()
    app = build_api(chain, startup)
    if token:
        app.add_middleware(TokenGuard, token=token)
    app.state.startup = startup
    app.state.chain = chain
    return app, chain, startup


def serve(
    host: str | None = None, port: int | None = None, workers: int = 1, api_only: bool = False
) -> None:
    """Serve the chat and the API, or (``api_only``) the API alone, from ``workers`` processes.

    Why workers: one process answers on one core at a time (the GIL); on 2 cores two API
    processes took 8 clients from 84 to 121 answers/s and p50 from 83 to 63 ms (bench/). The chat
    keeps its sessions in its process, so it runs in one; more chat capacity is more replicas
    behind a load balancer (README, "Outgrowing one machine")."""
    import uvicorn

    from rag.app.auth import check_binding

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = Settings.load(**overrides)
    if workers < 1:
        raise ConfigError(f"--workers {workers}: give 1 or more")
    if workers > 1 and not api_only:
        raise ConfigError(
            "the chat runs in one process (its sessions live there): add --api-only to serve the "
            "HTTP API from several workers, or run several chat replicas behind a load balancer"
        )
    what = "API" if api_only else "chat"
    listening = (
        f"citerag {what} on http://{settings.server.host}:{settings.server.port}/ "
        f"(API: /api/ask, /api/health, /docs){f'; {workers} workers' if workers > 1 else ''}"
    )
    if workers == 1:
        app = create_api(settings) if api_only else create_app(settings)
        print(listening, flush=True)
        uvicorn.run(app, host=settings.server.host, port=settings.server.port, log_level="warning")
        return
    # Refuse an unguarded public binding before anything starts (each worker checks it too), and
    # build the index here, once: workers starting on an empty index would race for the lock.
    check_binding(settings.server.host, settings.server.token())
    RagChain(settings).ensure_index()
    print(listening, flush=True)
    os.environ["RAG_HOST"], os.environ["RAG_PORT"] = settings.server.host, str(settings.server.port)
    uvicorn.run(
        "rag.app.server:create_api",
        factory=True,
        workers=workers,
        host=settings.server.host,
        port=settings.server.port,
        log_level="warning",
    )
