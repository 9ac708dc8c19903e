"""Closed by default: the server listens on loopback, and anywhere else only behind a token.

With ``RAG_API_TOKEN`` set, every request needs it: API clients send ``Authorization: Bearer
TOKEN``; a browser is sent to ``/login``, which asks for the token once and keeps it in an
HttpOnly cookie, so the Gradio chat and its own endpoints are covered by the same check. Tokens are
compared in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qs

from rag.errors import ConfigError

COOKIE = "citerag_token"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def check_binding(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if host not in LOOPBACK and not token:
        raise ConfigError(
            f"RAG_HOST={host} would let anyone on the network use the chat and the API; set "
            "RAG_API_TOKEN to a long random secret (clients then send 'Authorization: Bearer "
            "<token>', browsers are asked for it once), or keep RAG_HOST=127.0.0.1"
        )


def same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


_LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>citerag: sign in</title></head><body>
<form method="post" action="/login"><p>This citerag server needs its access token.</p>
<p><label>Token <input type="password" name="token" autofocus></label>
<button type="submit">Sign in</button></p>{error}</form></body></html>"""


class TokenGuard:
    """ASGI middleware: passes a request on only when it carries the token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == "/login" and scope["type"] == "http":
            await self._login(scope, receive, send)
            return
        if self._authorised(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = _headers(scope)
        if scope.get("method") == "GET" and "text/html" in headers.get("accept", ""):
            await _respond(send, 303, b"", [(b"location", b"/login")])
            return
        body = b'{"detail": "missing or wrong access token; send Authorization: Bearer <token>"}'
        await _respond(
            send,
            401,
            body,
            [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],  # fmt: skip
        )

    def _authorised(self, scope: dict[str, Any]) -> bool:
        headers = _headers(scope)
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and same(auth[7:].strip(), self.token):
            return True
        cookies = dict(
            part.strip().split("=", 1)
            for part in headers.get("cookie", "").split(";")
            if "=" in part
        )
        return same(cookies.get(COOKIE), self.token)

    async def _login(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        page = [(b"content-type", b"text/html; charset=utf-8")]
        if scope.get("method") != "POST":
            await _respond(send, 200, _LOGIN_PAGE.format(error="").encode(), page)
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if len(raw) > 4096 or not message.get("more_body"):
                break
        given = parse_qs(raw[:4096].decode("utf-8", "replace")).get("token", [""])[0]
        if not same(given, self.token):
            error = "<p role='alert'>That is not the token.</p>"
            await _respond(send, 401, _LOGIN_PAGE.format(error=error).encode(), page)
            return
        cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        await _respond(send, 303, b"", [(b"location", b"/"), (b"set-cookie", cookie.encode())])


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
