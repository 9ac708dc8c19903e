"""The chat and HTTP API as people and other apps meet them: a real server on a free loopback
port, a real browser (Debian's chromium driven by Playwright), httpx and gradio_client."""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from rag.app.server import _history_for_chain, citation_label, highlight, sources_markdown
from rag.results import Answer, Citation

from ..conftest import ROOT, SEEDS, free_port, running

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


# --- rendering (unit) ------------------------------------------------------------------------


def test_highlight_marks_the_quote_and_escapes_html() -> None:
    out = highlight("A <b>bold</b> claim. Then more.", ("A <b>bold</b> claim.",))
    assert out == "<mark>A &lt;b&gt;bold&lt;/b&gt; claim.</mark> Then more."


def test_citation_label_for_headlines_and_paragraphs() -> None:
    head = Citation(
        5,
        "u",
        "T",
        "s",
        "headline 5 (Jan 6, 2026)",
        "x",
        0.5,
        kind="headline",
        outlet="The Jerusalem Post",
        date="2026-01-06",
    )
    assert citation_label(head) == "headline 5 · The Jerusalem Post · Jan 6, 2026"
    para = Citation(1, "u", "T", "s", "paragraph 11", "x", 0.5)
    assert citation_label(para) == "paragraph 11"


def test_sources_markdown_lists_every_citation() -> None:
    c = Citation(
        1, "u", "Title", "seeds/a.txt", "paragraph 2", "Full text here.", 0.4, quotes=("Full text",)
    )
    md = sources_markdown(Answer("q", "Full text [1]", False, [c]))
    assert "**[1] Title**" in md and "<mark>Full text</mark> here." in md


def test_history_drops_sources_messages_and_reads_content_parts() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Who is Alex Vatanka?"}]},
        {"role": "assistant", "content": "He is an expert. [1]"},
        {"role": "assistant", "content": "sources...", "metadata": {"title": "Sources (1)"}},
    ]
    assert _history_for_chain(history) == [
        {"role": "user", "content": "Who is Alex Vatanka?"},
        {"role": "assistant", "content": "He is an expert. [1]"},
    ]


# --- the running server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data = tmp_path_factory.mktemp("server-data")
    env = {**os.environ, "RAG_DATA_DIR": str(data), "RAG_CORPUS": str(SEEDS)}
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()

    def ready() -> bool:
        return bool(httpx.get(f"{url}/api/health", timeout=2).json()["status"] == "ready")

    command = [sys.executable, "app.py", "--port", str(port)]
    with running(command, ready, data / "server.log", 300, cwd=ROOT, env=env) as proc:
        SERVER_PID[url] = proc.pid
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "startup_seconds.txt").write_text(f"{time.monotonic() - started:.1f}\n")
        yield url


pytestmark_slow = pytest.mark.slow
SERVER_PID: dict[str, int] = {}


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytestmark_slow
def test_api_happy_path(server: str) -> None:
    r = httpx.post(f"{server}/api/ask", json={"question": "Who is Alex Vatanka?"}, timeout=60)
    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"question", "answer", "refused", "citations", "timings_ms"}
    assert "Middle East Institute" in data["answer"] and data["citations"]


@pytestmark_slow
def test_api_follow_up_with_history_and_filters(server: str) -> None:
    body = {
        "question": "Where does he work?",
        "history": [{"role": "user", "content": "Who is Alex Vatanka?"}],
        "k": 5,
    }
    r = httpx.post(f"{server}/api/ask", json=body, timeout=60)
    assert r.status_code == 200 and "Middle East Institute" in r.json()["answer"]
    body = {
        "question": "What did Netanyahu plan with Trump?",
        "filters": {"date_from": "2025-12-22", "date_to": "2025-12-22"},
    }
    data = httpx.post(f"{server}/api/ask", json=body, timeout=60).json()
    assert all("Dec 22, 2025" in c["locator"] for c in data["citations"])


@pytestmark_slow
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 100_000},
        {"question": 5},
        {"question": "Iran", "k": "many"},
        {"question": "Iran", "k": 0},
        {"question": "Iran", "history": "not a list"},
        {"question": "Iran", "filters": {"date_from": "yesterday"}},
        {"question": "Iran", "surprise": True},
    ],
)
def test_api_bad_requests_get_a_clear_4xx(server: str, body: dict) -> None:
    r = httpx.post(f"{server}/api/ask", json=body, timeout=30)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["detail"]


@pytestmark_slow
def test_api_not_json_and_openapi(server: str) -> None:
    r = httpx.post(
        f"{server}/api/ask",
        content=b"not json",
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 422
    schema = httpx.get(f"{server}/openapi.json", timeout=30).json()
    assert "/api/ask" in schema["paths"] and "/api/health" in schema["paths"]


@pytestmark_slow
def test_two_simultaneous_questions_both_complete(server: str) -> None:
    questions = ["Why do analysts doubt a Russia-Iran split?", "Who is Samuel Charap?"]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda q: httpx.post(f"{server}/api/ask", json={"question": q}, timeout=120),
                questions,
            )
        )
    assert [r.status_code for r in results] == [200, 200]
    assert all(r.json()["citations"] for r in results)


@pytestmark_slow
def test_eight_clients_for_a_minute_no_errors_and_flat_memory(server: str) -> None:
    """A bounded load test on loopback that stops by itself: 8 clients asking in a loop for 60 s.
    Every request answered; the server's resident memory over the last 10 s within 10 % (plus
    the allocator's 32 MiB slack) of the first 10 s. Latencies go to tests/artifacts/load.txt."""
    questions = [q for q in (ROOT / "bench" / "questions.txt").read_text().splitlines() if q]
    pid, seconds = SERVER_PID[server], 60.0
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    memory: list[tuple[float, float]] = []

    def client(offset: int) -> None:
        with httpx.Client(timeout=60) as http:
            i = offset
            while time.monotonic() < stop:
                start = time.monotonic()
                response = http.post(
                    f"{server}/api/ask", json={"question": questions[i % len(questions)]}
                )
                latencies.append((time.monotonic() - start) * 1000)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                i += 1

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client, n) for n in range(8)]
        started = time.monotonic()
        while time.monotonic() < stop:
            memory.append((time.monotonic() - started, _rss_mib(pid)))
            time.sleep(1.0)
        for future in futures:
            future.result()
    assert not errors, errors[:3]
    first = [m for t, m in memory if t < 10]
    last = [m for t, m in memory if t > seconds - 10]
    ordered = sorted(latencies)
    p50, p95 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95)]
    (ARTIFACTS / "load.txt").write_text(
        f"{len(latencies)} answers in {seconds:.0f} s ({len(latencies) / seconds:.1f}/s), "
        f"0 errors, p50 {p50:.0f} ms, p95 {p95:.0f} ms, RSS first 10 s {max(first):.0f} MiB, "
        f"last 10 s {max(last):.0f} MiB\n"
    )
    assert len(latencies) >= 100
    assert max(last) <= max(first) * 1.10 + 32


@pytestmark_slow
def test_gradio_client_calls_the_chat(server: str) -> None:
    from gradio_client import Client

    client = Client(server + "/", verbose=False)
    result = client.predict("Who is Lee Smith?", 8, [], "", "", api_name="/chat")
    text = str(result)
    assert "senior editor" in text and "[1]" in text


@pytestmark_slow
def test_two_people_chatting_at_once_both_get_answers(server: str) -> None:
    from gradio_client import Client

    first, second = Client(server + "/", verbose=False), Client(server + "/", verbose=False)
    jobs = [
        first.submit("Who is Alex Vatanka?", 8, [], "", "", api_name="/chat"),
        second.submit("Who is Samuel Charap?", 8, [], "", "", api_name="/chat"),
    ]
    results = [str(job.result(timeout=120)) for job in jobs]
    assert "Middle East Institute" in results[0]
    assert "Rand" in results[1]


@pytestmark_slow
def test_chat_in_a_real_browser(server: str) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing in CI; `make browser` should install it")
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 1100})
        page.goto(server + "/")
        expect(page.locator("#status")).to_contain_text("Ready", timeout=60_000)
        box = page.locator("textarea[data-testid='textbox']").first
        bots = page.locator("#chatbot [data-testid='bot']")

        def ask(question: str) -> str:
            """Send a question, wait for the streamed answer to settle, return its text."""
            before = bots.count()
            box.fill(question)
            box.press("Enter")
            expect(bots).not_to_have_count(before, timeout=60_000)
            expect(box).to_be_editable(timeout=60_000)  # the chat re-enables it when done
            answers = [t for t in bots.all_inner_texts() if not t.strip().startswith("Sources (")]
            return answers[-1]

        answer_text = ask("Why do analysts doubt a Russia-Iran split?")
        assert re.search(r"\[1\]", answer_text) and re.search(r"\[2\]", answer_text)
        title = page.locator("#chatbot .thought-group .title").last
        expect(title).to_contain_text("Sources (")
        quote_box = page.locator("#chatbot blockquote").first
        for _ in range(2):  # the Sources section starts collapsed; open it like a reader would
            title.click()
            page.wait_for_timeout(500)
            box_size = quote_box.bounding_box()
            if box_size and box_size["height"] > 20:
                break
        else:
            pytest.fail("the Sources section did not open")
        quoted = page.locator("#chatbot blockquote mark").first
        expect(quoted).to_be_visible(timeout=10_000)
        # The highlighted part is the cited paragraph's own text, shown in full around it.
        assert quoted.inner_text().strip()[:40] in answer_text.replace("\n", " ")
        assert len(page.locator("#chatbot blockquote").first.inner_text()) > 40
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

        refusal = ask("What is the population of Tehran?")
        assert "don't cover" in refusal
        assert "Sources (" not in bots.last.inner_text()

        ask("Who is Alex Vatanka?")
        follow_up = ask("Where does he work?")
        assert "Middle East Institute" in follow_up
        page.screenshot(path=str(ARTIFACTS / "chat-follow-up.png"), full_page=True)

        # The documents to choose from are the index's, filled in once the chat is ready.
        page.locator("#options").get_by_text("Options").first.click()
        page.locator("#documents input").first.click()
        choice = page.get_by_role("option", name=re.compile("Today.s WorldView"))
        expect(choice).to_be_visible(timeout=10_000)
        browser.close()


@pytestmark_slow
def test_open_binding_needs_a_token_and_then_every_endpoint_checks_it(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_CORPUS": str(SEEDS)}
    env.pop("RAG_API_TOKEN", None)
    refused = subprocess.run(
        [sys.executable, "app.py", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "RAG_API_TOKEN" in refused.stderr and "Traceback" not in refused.stderr

    token = "tok-" + "0123456789abcdef" * 2
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bearer = {"Authorization": f"Bearer {token}"}

    def ready() -> bool:
        return bool(httpx.get(f"{url}/api/health", headers=bearer, timeout=2).status_code == 200)

    command = [sys.executable, "app.py", "--host", "0.0.0.0", "--port", str(port)]
    with running(command, ready, tmp_path / "server.log", 300, cwd=ROOT,
                 env={**env, "RAG_API_TOKEN": token}):  # fmt: skip
        ask = {"question": "Who is Alex Vatanka?"}
        assert httpx.post(f"{url}/api/ask", json=ask, timeout=60).status_code == 401
        assert httpx.post(f"{url}/api/ask", json=ask, headers=bearer, timeout=60).status_code == 200
        assert httpx.get(f"{url}/config", timeout=10).status_code == 401  # Gradio's own endpoint
        page = httpx.get(url + "/", headers={"Accept": "text/html"}, timeout=10)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        login = httpx.post(f"{url}/login", data={"token": token}, timeout=10)
        assert login.status_code == 303
        chat = httpx.get(url + "/", cookies=login.cookies, timeout=10)
        assert chat.status_code == 200 and "gradio" in chat.text.lower()


# --- the API fuzzed from its own OpenAPI schema (schemathesis, in process) ----------------------


@pytestmark_slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzzed_requests_never_cause_a_server_error(seed_chain, mode: str) -> None:
    """Requests generated from the API's own schema, valid ones and ones that break it: each is
    answered 2xx or refused 4xx with a ``detail`` saying why; never a 5xx."""
    import schemathesis

    from rag.app.server import Startup, build_api

    startup = Startup(seed_chain).start()
    startup.wait()
    schema = schemathesis.openapi.from_asgi("/openapi.json", build_api(seed_chain, startup))
    statuses: list[int] = []

    @given(case=schema.as_strategy(schemathesis.GenerationMode(mode)))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    def call(case) -> None:
        response = case.call()
        statuses.append(response.status_code)
        assert response.status_code < 500, (case.body, response.text)
        if response.status_code >= 400:
            assert response.json().get("detail"), response.text

    call()
    assert len(statuses) >= 100
    (ARTIFACTS / f"fuzzed-{mode}.txt").parent.mkdir(parents=True, exist_ok=True)
    summary = {code: statuses.count(code) for code in sorted(set(statuses))}
    (ARTIFACTS / f"fuzzed-{mode}.txt").write_text(f"{len(statuses)} requests: {summary}\n")


# --- the HTTP API in process, on the fakes (FastAPI's TestClient) -------------------------------


@pytest.fixture(scope="module")
def api(fake_chain):
    from fastapi.testclient import TestClient

    from rag.app.server import Startup, build_api

    startup = Startup(fake_chain).start()
    startup.wait()
    return TestClient(build_api(fake_chain, startup))


def test_api_answers_with_resolving_markers(api) -> None:
    assert api.get("/api/health").json()["status"] == "ready"
    response = api.post("/api/ask", json={"question": "Who is Alex Vatanka?"})
    assert response.status_code == 200
    data = response.json()
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers == {c["n"] for c in data["citations"]} and markers
    assert data["citations"][0]["locator"] == "paragraph 11"


def test_api_filters_and_refusals(api) -> None:
    body = {"question": "Iran protests", "filters": {"date_from": "2026-01-02"}}
    data = api.post("/api/ask", json=body).json()
    assert all(c["locator"].startswith("headline") for c in data["citations"])
    refused = api.post("/api/ask", json={"question": "Qwzx blorf snarfle?"}).json()
    assert refused["refused"] and refused["citations"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "q", "k": "many"}, "k"),
        ({"question": "q", "filters": {"date_from": "yesterday"}}, "date_from"),
    ],
)
def test_api_bad_requests_name_the_field(api, body: dict, field: str) -> None:
    response = api.post("/api/ask", json=body)
    assert response.status_code == 422 and field in response.text


def test_api_unknown_answerer_lists_the_available_ones(api) -> None:
    response = api.post("/api/ask", json={"question": "Who is Lee Smith?", "answerer": "gpt9"})
    assert response.status_code == 422 and "extractive" in response.text


@pytest.mark.parametrize(
    ("error", "status"),
    [("StoreError", 503), ("ModelError", 502), ("ConfigError", 500), ("QuestionError", 422)],
)
def test_api_maps_each_error_to_its_status_with_the_message(
    api,
    fake_chain,
    monkeypatch: pytest.MonkeyPatch,
    error: str,
    status: int,
) -> None:
    import rag.errors

    def fail(*args: object, **kwargs: object) -> None:
        raise getattr(rag.errors, error)("what went wrong, and what to do")

    monkeypatch.setattr(fake_chain, "ask", fail)
    response = api.post("/api/ask", json={"question": "Who is Lee Smith?"})
    assert response.status_code == status
    assert "what to do" in response.json()["detail"]


@pytestmark_slow
def test_api_workers_share_one_index_built_once(tmp_path: Path) -> None:
    """``--api-only --workers 2`` on an empty index: it is built once, before the workers start
    (they would race for the ingest lock), and both workers answer."""
    port = free_port()
    data = tmp_path / "data"
    env = {**os.environ, "RAG_DATA_DIR": str(data), "RAG_CORPUS": str(SEEDS)}
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        return bool(httpx.get(f"{url}/api/health", timeout=2).json()["status"] == "ready")

    command = [sys.executable, "app.py", "--port", str(port), "--api-only", "--workers", "2"]
    with running(command, ready, tmp_path / "server.log", 300, cwd=ROOT, env=env):
        pids: set[int] = set()
        deadline = time.monotonic() + 120
        while len(pids) < 2 and time.monotonic() < deadline:
            with httpx.Client() as client:  # a new connection may land on the other worker
                health = client.get(f"{url}/api/health", timeout=5).json()
            if health["status"] == "ready":
                pids.add(health["pid"])
        assert len(pids) == 2
        for _ in range(4):
            r = httpx.post(f"{url}/api/ask", json={"question": "Who is Alex Vatanka?"}, timeout=60)
            assert r.status_code == 200 and r.json()["citations"]
        assert httpx.get(f"{url}/", timeout=5).status_code == 404  # no chat in API-only mode


def test_several_workers_need_api_only(capsys: pytest.CaptureFixture[str]) -> None:
    from rag.app import cli

    assert cli.main(["serve", "--workers", "2"]) == 2
    assert "add --api-only" in capsys.readouterr().err
