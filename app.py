"""Start the citerag chat and HTTP API: ``python app.py [--host H] [--port N]``.

Defaults come from ``RAG_HOST`` / ``RAG_PORT`` (127.0.0.1:7860). The server never shares itself
publicly, and listens beyond loopback only with ``RAG_API_TOKEN`` set. The work lives in
``rag/app/server.py``; this file is the entry point people expect.
"""

from __future__ import annotations

import argparse

from rag import _offline  # noqa: F401  (before gradio is imported)


def main() -> None:
    parser = argparse.ArgumentParser(description="citerag chat and HTTP API")
    parser.add_argument("--host", help="interface to listen on (default RAG_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default RAG_PORT or 7860)")
    parser.add_argument(
        "--workers", type=int, default=1, help="API processes (needs --api-only); one per core"
    )
    parser.add_argument("--api-only", action="store_true", help="the HTTP API without the chat")
    args = parser.parse_args()
    from rag.app.server import serve
    from rag.errors import RagError

    try:
        serve(host=args.host, port=args.port, workers=args.workers, api_only=args.api_only)
    except RagError as exc:
        raise SystemExit(f"citerag: error: {exc}") from None


if __name__ == "__main__":
    main()
