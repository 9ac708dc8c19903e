"""The embedding backends on the real model: the int8 file is made from the float32 export, kept
close to it, and indexed apart from it; sentence windows pooled from their paragraph's pass agree
across backends; broken files get errors that say what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.errors import ModelError
from rag.index.embedding import INT8_AGREEMENT, Embedder, OnnxEmbedder

from ..conftest import SEEDS

pytestmark = pytest.mark.slow


def _paragraphs() -> list[str]:
    return [
        line for file in sorted(SEEDS.glob("*.txt")) for line in file.read_text().splitlines()
        if len(line) > 40
    ]  # fmt: skip


@pytest.fixture(scope="module")
def float32(embedder: Embedder) -> OnnxEmbedder:
    if not isinstance(embedder, OnnxEmbedder) or embedder.int8:
        pytest.skip("the session's embedder is not the float32 ONNX path")
    return embedder


@pytest.fixture(scope="module")
def int8(float32: OnnxEmbedder, tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    cache = tmp_path_factory.mktemp("onnx")
    shutil.copy(float32.float32_path, cache / float32.float32_path.name)
    model = OnnxEmbedder(float32.model_path, cache, int8=True)
    model.warm_up()
    return model


def test_int8_is_made_once_from_the_float32_file(int8: OnnxEmbedder) -> None:
    assert int8.onnx_path.is_file()
    assert int8.onnx_path != int8.float32_path
    # the matrices shrink 4x; the word-embedding table (47 MB) stays float32
    assert int8.onnx_path.stat().st_size < 0.7 * int8.float32_path.stat().st_size
    assert not list(int8.cache_dir.glob(".*partial"))


def test_quantising_leaves_logging_as_it_was(float32: OnnxEmbedder, tmp_path: Path) -> None:
    import logging

    shutil.copy(float32.float32_path, tmp_path / float32.float32_path.name)
    root = logging.getLogger()
    kept = list(root.handlers)
    root.handlers.clear()  # as in a plain process (pytest's own handlers hide basicConfig)
    try:
        OnnxEmbedder(float32.model_path, tmp_path, int8=True).warm_up()
        assert root.handlers == []
    finally:
        root.handlers[:] = kept


def test_int8_vectors_stay_close_to_float32(float32: OnnxEmbedder, int8: OnnxEmbedder) -> None:
    texts = _paragraphs()
    agreement = (float32.embed_array(texts) * int8.embed_array(texts)).sum(axis=1)
    assert agreement.min() >= INT8_AGREEMENT
    assert agreement.mean() < 0.9999  # it really is another file, not the float32 one again
    assert np.allclose(np.linalg.norm(int8.embed_array(texts[:3]), axis=1), 1, atol=1e-5)


def test_int8_has_its_own_index(float32: OnnxEmbedder, int8: OnnxEmbedder) -> None:
    assert int8.model_id == float32.model_id + "-int8"
    settings = Settings.load()
    assert settings.index.fingerprint(int8.model_id) != settings.index.fingerprint(float32.model_id)


def test_the_setting_selects_the_backend(tmp_path: Path) -> None:
    chosen = Embedder.from_settings(Settings.load(data_dir=tmp_path, embed_backend="onnx-int8"))
    assert isinstance(chosen, OnnxEmbedder) and chosen.int8
    assert chosen.onnx_path.parent == tmp_path / "models" / "onnx"


def test_a_damaged_int8_file_says_what_to_do(float32: OnnxEmbedder, tmp_path: Path) -> None:
    model = OnnxEmbedder(float32.model_path, tmp_path, int8=True)
    model.onnx_path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="delete it"):
        model.warm_up()


def _tiny_mpnet(folder: Path, tokenizer_from: Path) -> Path:
    """A two-layer MPNet with random weights, saved as a sentence-transformers folder: a model
    whose forward takes no token types, like all-mpnet-base-v2, in a few hundred kilobytes."""
    import json

    import torch
    from transformers import MPNetConfig, MPNetModel

    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=30527, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=130,
    )  # fmt: skip
    MPNetModel(config).eval().save_pretrained(folder)
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_from / name).is_file():
            shutil.copy(tokenizer_from / name, folder / name)
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    (folder / "modules.json").write_text(
        json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"},
        ])
    )  # fmt: skip
    return folder


def test_a_model_without_token_types_exports_and_agrees(
    float32: OnnxEmbedder, tmp_path: Path
) -> None:
    from rag.index.embedding import TorchEmbedder

    folder = _tiny_mpnet(tmp_path / "tiny-mpnet", float32.model_path)
    onnx = OnnxEmbedder(folder, tmp_path / "onnx")
    texts = _paragraphs()[:5]
    got = onnx.embed_array(texts)
    want = np.asarray(TorchEmbedder(folder).embed(texts), dtype=np.float32)
    assert got.shape == (5, 32)
    assert float((got * want).sum(axis=1).min()) > 0.9999
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx.onnx_path), providers=["CPUExecutionProvider"])
    assert {i.name for i in session.get_inputs()} == {"input_ids", "attention_mask"}


def _windows() -> tuple[list[str], list[list[tuple[int, int]]]]:
    from rag.text import split_sentences

    texts = [t for t in _paragraphs() if len(split_sentences(t)) >= 3][:6]
    spans = []
    for text in texts:
        s = split_sentences(text)
        spans.append([(s[i].start, s[i + 1].end) for i in range(len(s) - 1)])
    return texts, spans


def test_pooled_windows_come_from_the_paragraph_pass(float32: OnnxEmbedder) -> None:
    texts, spans = _windows()
    whole, parts = float32.embed_spans(texts, spans)
    assert np.allclose(whole, float32.embed_array(texts), atol=1e-5)
    alone = float32.embed_array([texts[0][a:b] for a, b in spans[0]])
    for got, own in zip(parts[0], alone, strict=True):
        assert abs(np.linalg.norm(got) - 1) < 1e-5
        # About the window's own meaning, coloured by its paragraph: close, not identical.
        assert 0.8 < float(np.dot(got, own)) < 0.9999
    assert [len(p) for p in parts] == [len(s) for s in spans]


def test_torch_pools_windows_as_onnx_does(float32: OnnxEmbedder) -> None:
    from rag.index.embedding import TorchEmbedder

    texts, spans = _windows()
    whole, parts = float32.embed_spans(texts, spans)
    twhole, tparts = TorchEmbedder(float32.model_path).embed_spans(texts, spans)
    assert float((np.asarray(whole) * np.asarray(twhole)).sum(axis=1).min()) > 0.9999
    flat = np.asarray([v for p in parts for v in p])
    tflat = np.asarray([v for p in tparts for v in p])
    assert float((flat * tflat).sum(axis=1).min()) > 0.9999
