import os
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
    assert settings.retrieval.top_k == 3  # from the TOML file
    assert settings.server.port == 9100  # the environment wins over the file
    assert settings.answer.max_answer_sentences == 2  # explicit arguments win over both
    assert settings.index.corpus == [Path("a"), Path("b")]


def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "lots")
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert "RAG_TOP_K (environment): Input should be a valid integer" in str(info.value)


def test_missing_config_file_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CONFIG", "/nowhere/rag.toml")
    with pytest.raises(ConfigError, match="RAG_CONFIG"):
        Settings.load()


def test_fingerprint_depends_on_model_and_splitting() -> None:
    base = Settings.load()
    assert base.index.fingerprint("m1") == Settings.load().index.fingerprint("m1")
    assert base.index.fingerprint("m1") != base.index.fingerprint("m2")
    assert base.index.fingerprint("m1") != Settings.load(sentence_window=3).index.fingerprint("m1")
    encoded = Settings.load(window_vectors="encoded")
    assert base.index.fingerprint("m1") != encoded.index.fingerprint("m1")


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
    assert Settings.load().llm.openai_api_key is not None
    assert Settings.load().llm.openai_api_key.get_secret_value() == "sk-ours"  # type: ignore[union-attr]
    toml = tmp_path / "rag.toml"
    toml.write_text('openai_api_key = "sk-toml"\n')
    monkeypatch.delenv("RAG_OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("RAG_CONFIG", str(toml))
    key = Settings.load().llm.openai_api_key
    assert key is not None and key.get_secret_value() == "sk-toml"


def test_settings_are_nested_by_concern_under_their_flat_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "rag.toml"
    toml.write_text('data_dir = "idx"\n[retrieval]\ncandidates = 60\n', encoding="utf-8")
    monkeypatch.setenv("RAG_CONFIG", str(toml))
    monkeypatch.setenv("rag_embed_backend", "torch")  # case-insensitive, as pydantic-settings
    monkeypatch.setenv("RAG_NOT_A_SETTING", "ignored")
    monkeypatch.setenv("RAG_CORPUS", f"a{os.pathsep}b")
    settings = Settings.load(api_token="a" * 16)
    assert settings.index.data_dir == Path("idx")  # a flat key in the file
    assert settings.retrieval.candidates == 60  # a section table in the file
    assert settings.retrieval.top_k == 8  # the section's other defaults stay
    assert settings.embedding.embed_backend == "torch"
    assert settings.index.corpus == [Path("a"), Path("b")]
    assert settings.server.token() == "a" * 16
    names = Settings.flat_names()
    assert len(names) == sum(len(m.model_fields) for m in Settings.sections().values())
    assert names["top_k"] == "retrieval" and names["port"] == "server"


def test_replace_validates_and_keeps_the_rest() -> None:
    settings = Settings.load(top_k=3, data_dir=Path("x"))
    moved = settings.replace(chroma_host="127.0.0.1", chroma_port=9)
    assert (moved.index.chroma_host, moved.index.chroma_port) == ("127.0.0.1", 9)
    assert moved.retrieval.top_k == 3 and moved.index.data_dir == Path("x")
    assert settings.index.chroma_host is None  # the original is unchanged
    with pytest.raises(ConfigError, match=r"chroma_port \(argument\)"):
        settings.replace(chroma_port="nine")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("top_kk = 3\n", r"top_kk in \S+rag.toml: not a setting \(did you mean top_k\?\)"),
        ("[retrieval]\ntop_k = 0\n", r"\[retrieval\] top_k in \S+rag.toml: Input should be"),
        ("top_k = 0\n", r"invalid settings: top_k in \S+rag.toml: Input should be"),
        ("[retrieval]\nport = 1\n", r"\[retrieval\] port in \S+: .*belongs in \[server\]"),
        ("top_k = [\n", "rag.toml"),  # not TOML at all
    ],
)
def test_bad_config_files_are_reported_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, named: str
) -> None:
    toml = tmp_path / "rag.toml"
    toml.write_text(text, encoding="utf-8")
    monkeypatch.setenv("RAG_CONFIG", str(toml))
    with pytest.raises(ConfigError, match=named):
        Settings.load()
