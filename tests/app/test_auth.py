"""Closed by default: loopback only unless a token is set; with one, nothing answers without it."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.app.auth import COOKIE, TokenGuard, check_binding
from rag.config import Settings
from rag.errors import ConfigError

TOKEN = "k3y-for-tests_0123456789abcdef"


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()

    @app.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/")
    def page() -> dict[str, str]:
        return {"page": "chat"}

    app.add_middleware(TokenGuard, token=TOKEN)
    return TestClient(app, follow_redirects=False)


def test_binding_beyond_loopback_needs_a_token() -> None:
    with pytest.raises(ConfigError) as info:
        check_binding("0.0.0.0", None)
    assert "RAG_API_TOKEN" in str(info.value)
    check_binding("0.0.0.0", TOKEN)
    check_binding("127.0.0.1", None)


def test_weak_tokens_are_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(api_token="short")
    assert "api_token (argument)" in str(info.value) and "token_urlsafe" in str(info.value)
    assert "short" not in str(info.value)  # a token, even a weak one, is not echoed
    monkeypatch.setenv("RAG_API_TOKEN", "short")
    with pytest.raises(ConfigError, match=r"RAG_API_TOKEN \(environment\).*token_urlsafe"):
        Settings.load()
    assert Settings.load(api_token=TOKEN).server.api_token is not None
    assert TOKEN not in repr(Settings.load(api_token=TOKEN))


def test_api_needs_the_bearer_token(client: TestClient) -> None:
    assert client.get("/api/health").status_code == 401
    wrong = client.get("/api/health", headers={"Authorization": "Bearer " + "x" * 30})
    assert wrong.status_code == 401 and "access token" in wrong.json()["detail"]
    right = client.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and right.json() == {"status": "ready"}


def test_a_browser_is_asked_for_the_token_once(client: TestClient) -> None:
    first = client.get("/", headers={"Accept": "text/html"})
    assert first.status_code == 303 and first.headers["location"] == "/login"
    form = client.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    bad = client.post("/login", data={"token": "nope"})
    assert bad.status_code == 401 and "not the token" in bad.text
    good = client.post("/login", data={"token": TOKEN})
    assert good.status_code == 303 and "HttpOnly" in good.headers["set-cookie"]
    client.cookies.set(COOKIE, TOKEN)
    assert client.get("/", headers={"Accept": "text/html"}).json() == {"page": "chat"}


def test_the_server_refuses_to_listen_openly_without_a_token() -> None:
    from rag.app.server import create_app

    with pytest.raises(ConfigError):
        create_app(Settings.load(host="0.0.0.0"))
