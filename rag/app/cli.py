"""The ``rag`` command: ``rag ingest``, ``rag ask``, ``rag serve``.

$ rag ingest seeds/
$ rag ask "Who is Alex Vatanka?"
$ rag ask --questions questions.jsonl --json > answers.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from rag import _offline  # noqa: F401
from rag.errors import RagError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Cited answers about your articles.")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser(
        "ingest", help="index files or folders (default: the configured corpus)"
    )
    ingest.add_argument("paths", nargs="*", type=Path, help="files or folders (default: seeds/)")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument(
        "--rebuild", action="store_true", help="drop the index and build it again (if damaged)"
    )

    ask = sub.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question", nargs="?", help="the question (or use --questions)")
    ask.add_argument(
        "--questions",
        type=Path,
        help='JSONL file: {"question": ..., "history"?: [...]}'
        " per line; one answer per output line",
    )
    ask.add_argument("--json", action="store_true", help="print Answer.to_dict() as JSON")
    ask.add_argument("-k", type=int, default=None, help="number of units to draw evidence from")
    ask.add_argument(
        "--source",
        action="append",
        default=[],
        help="only this document (source path or title); repeatable",
    )
    ask.add_argument("--since", help="only headlines dated on or after YYYY-MM-DD")
    ask.add_argument("--until", help="only headlines dated on or before YYYY-MM-DD")
    ask.add_argument(
        "--answerer",
        choices=["extractive", "local", "openai"],
        help="override RAG_ANSWERER for this call",
    )

    serve = sub.add_parser("serve", help="start the chat and HTTP API (same as `python app.py`)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--workers", type=int, default=1, help="API processes (needs --api-only); one per core"
    )
    serve.add_argument("--api-only", action="store_true", help="the HTTP API without the chat")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "ingest":
            return _ingest(args)
        if args.command == "ask":
            return _ask(args)
        if args.command == "serve":
            from rag.app.server import serve

            serve(host=args.host, port=args.port, workers=args.workers, api_only=args.api_only)
            return 0
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "rag: interrupted; the index is left as it was before the file in progress",
            file=sys.stderr,
        )
        return 130
    return 0


def _chain() -> Any:
    from rag.chain import RagChain

    return RagChain.from_settings()


def _progress_bar(enabled: bool) -> Any:
    if not enabled:
        return None, None
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def progress(done: int, total: int, message: str) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit="passage", desc="embedding", file=sys.stderr)
        bar["bar"].set_postfix_str(message[-40:])
        bar["bar"].update(done - bar["bar"].n)

    def close() -> None:
        if "bar" in bar:
            bar["bar"].close()

    return progress, close


def _ingest(args: argparse.Namespace) -> int:
    chain = _chain()
    progress, close = _progress_bar(not args.quiet and sys.stderr.isatty() or not args.quiet)
    try:
        report = chain.ingest(args.paths or None, progress=progress, rebuild=args.rebuild)
    finally:
        if close:
            close()
    for outcome in report.outcomes:
        if outcome.status == "failed":
            print(f"skipped {outcome.source}: {outcome.reason}", file=sys.stderr)
        elif outcome.status == "removed":
            print(f"removed {outcome.source} (file no longer exists)", file=sys.stderr)
    rate = report.embedded / report.seconds if report.seconds and report.embedded else 0.0
    extra = f" ({report.embedded} passages embedded, {rate:.1f}/s)" if report.embedded else ""
    print(report.summary() + extra)
    return 0 if report.indexed_any else 1


def _filters(args: argparse.Namespace) -> Any:
    from rag.index.store import Filters

    return Filters.parse(args.source, args.since, args.until, names=("--since", "--until"))


def _ask(args: argparse.Namespace) -> int:
    if bool(args.question) == bool(args.questions):
        raise RagError("give either a QUESTION or --questions FILE.jsonl (not both, not neither)")
    chain = _chain()
    filters = _filters(args)
    if args.question:
        answer = chain.ask(args.question, k=args.k, filters=filters or None, answerer=args.answerer)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False))
        else:
            _print_answer(answer)
        return 0
    return _ask_batch(chain, args.questions, args.json, args.k, filters or None, args.answerer)


def _ask_batch(
    chain: Any, path: Path, as_json: bool, k: int | None, filters: Any, answerer: str | None
) -> int:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"cannot read {path} ({exc}); pass a UTF-8 JSONL file") from None
    failed = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise ValueError('each line must be an object with a "question" string')
            history = item.get("history")
            if history is not None and not isinstance(history, list):
                raise ValueError('"history" must be a list of messages')
            answer = chain.ask(
                item["question"], history=history, k=k, filters=filters, answerer=answerer
            )
        except (ValueError, RagError) as exc:
            failed += 1
            error = {"error": f"{path}:{number}: {exc}", "line": number}
            print(json.dumps(error) if as_json else f"{path}:{number}: {exc}", flush=True)
            continue
        if as_json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(f"Q: {answer.question}")
            _print_answer(answer)
            print()
    return 1 if failed else 0


def _print_answer(answer: Any) -> None:
    print(textwrap.fill(answer.answer, width=100))
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.n}] {c.title} - {c.locator} ({c.source})")
            print(textwrap.indent(textwrap.fill(c.text, width=94), "      "))
    print(f"\n({answer.timings_ms.get('total', 0):.0f} ms)")
