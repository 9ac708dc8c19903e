from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ConfigError


def test_env_and_toml_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "custom.toml"
    toml.write_text('top_k = 3\nport = 9000\ncorpus = ["a", "b"]\n', encoding="utf-8")
    monkeypatch.setenv("RAG_CONFIG", str(toml))
    monkeypatch.setenv("RAG_PORT", "9100")
    settings = Settings.load(max_answer_sentences=2)
    assert settings.top_k == 3  # from the TOML file
    assert settings.port == 9100  # the environment wins over the file
    assert settings.max_answer_sentences == 2  # explicit arguments win over both
    assert settings.corpus == [Path("a"), Path("b")]


def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "lots")
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert "RAG_TOP_K" in str(info.value)


def test_missing_config_file_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CONFIG", "/nowhere/rag.toml")
    with pytest.raises(ConfigError, match="RAG_CONFIG"):
        Settings.load()


def test_fingerprint_depends_on_model_and_splitting() -> None:
    base = Settings.load()
    assert base.index_fingerprint("m1") == Settings.load().index_fingerprint("m1")
    assert base.index_fingerprint("m1") != base.index_fingerprint("m2")
    assert base.index_fingerprint("m1") != Settings.load(sentence_window=3).index_fingerprint("m1")


def test_openai_key_is_read_in_one_place_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.query.llm import OpenAIGenerator

    monkeypatch.delenv("RAG_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-usual-variable")
    settings = Settings.load(openai_base_url="http://127.0.0.1:9/v1", openai_model="m")
    assert "sk-from" not in repr(settings) and "sk-from" not in str(settings.model_dump())
    assert OpenAIGenerator.from_settings(settings).api_key == "sk-from-the-usual-variable"
    monkeypatch.setenv("RAG_OPENAI_API_KEY", "sk-ours")
    assert Settings.load().openai_api_key is not None
    assert Settings.load().openai_api_key.get_secret_value() == "sk-ours"  # type: ignore[union-attr]
    toml = tmp_path / "rag.toml"
    toml.write_text('openai_api_key = "sk-toml"\n')
    monkeypatch.delenv("RAG_OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("RAG_CONFIG", str(toml))
    key = Settings.load().openai_api_key
    assert key is not None and key.get_secret_value() == "sk-toml"
