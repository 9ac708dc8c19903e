"""The `rag` command: in process on the fakes (``main([...])``, fast), and as users run it (a real
process, a fresh data directory, the real model; slow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.index.embedding import Embedder, OnnxEmbedder

from ..conftest import ROOT, SEEDS

CITATION_KEYS = {"n", "unit_id", "title", "source", "locator", "text", "score"}


def run_rag(
    args: list[str],
    data_dir: Path,
    *,
    wrap: list[str] | None = None,
    stdin: str | None = None,
    python: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_CORPUS": str(SEEDS)}
    command = [*(wrap or []), *(python or [sys.executable]), "-m", "rag", *args]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, input=stdin
    )


def check_schema(data: dict) -> None:
    assert set(data) == {"question", "answer", "refused", "citations", "timings_ms"}
    assert isinstance(data["answer"], str) and isinstance(data["refused"], bool)
    assert set(data["timings_ms"]) == {"retrieve", "answer", "total"}
    for citation in data["citations"]:
        assert set(citation) == CITATION_KEYS
        assert isinstance(citation["n"], int) and isinstance(citation["score"], float)


@pytest.mark.slow
def test_ask_json_builds_the_index_first(tmp_path: Path) -> None:
    result = run_rag(["ask", "--json", "Who is Alex Vatanka?"], tmp_path / "data")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    check_schema(data)
    assert not data["refused"] and "Middle East Institute" in data["answer"]
    assert data["citations"][0]["locator"] == "paragraph 11"


@pytest.mark.slow
def test_ask_questions_file(tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(
            [
                json.dumps({"question": "Who is Alex Vatanka?"}),
                json.dumps(
                    {
                        "question": "Where does he work?",
                        "history": [{"role": "user", "content": "Who is Alex Vatanka?"}],
                    }
                ),
                "not json",
                json.dumps({"question": "Who won the 2024 Super Bowl?"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run_rag(["ask", "--questions", str(questions), "--json"], tmp_path / "data")
    assert result.returncode == 1  # one bad line
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 4
    check_schema(lines[0])
    check_schema(lines[1])
    assert "Middle East Institute" in lines[1]["answer"]
    assert "error" in lines[2] and "q.jsonl:3" in lines[2]["error"]
    check_schema(lines[3])
    assert lines[3]["refused"]


@pytest.mark.slow
def test_ingest_reports_bad_files_and_exit_codes(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    (folder / "empty.txt").write_text("", encoding="utf-8")
    result = run_rag(["ingest", "--quiet", str(folder)], tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "3 files: 2 added, 1 failed" in result.stdout
    assert "empty.txt" in result.stderr and "is empty" in result.stderr

    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.txt").write_bytes(b"\x00\x00")
    result = run_rag(["ingest", "--quiet", str(only_bad)], tmp_path / "data2")
    assert result.returncode == 1
    assert "x.txt" in result.stderr and "binary" in result.stderr


@pytest.mark.slow
def test_errors_are_clear_and_exit_2(tmp_path: Path) -> None:
    result = run_rag(["ask", ""], tmp_path / "data")
    assert result.returncode == 2
    assert "rag: error:" in result.stderr
    env_bad = run_rag(["ask", "--since", "yesterday", "Iran"], tmp_path / "data")
    assert env_bad.returncode == 2 and "--since" in env_bad.stderr


@pytest.mark.slow
def test_works_with_the_network_cut(tmp_path: Path) -> None:
    """Index and answer inside a network namespace with no network at all."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"]).returncode != 0:
        pytest.skip("unshare -n is not permitted here")
    result = run_rag(
        ["ask", "--json", "Why do analysts doubt a Russia-Iran split?"],
        tmp_path / "data",
        wrap=[unshare, "-n"],
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # Offline is what this test is about; what the answer says is tested in test_answer.py.
    assert not data["refused"] and data["citations"]
    assert all(c["source"].startswith("seeds/") for c in data["citations"])


@pytest.mark.slow
def test_answering_imports_neither_torch_nor_llama_index(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A cold ``rag ask`` pays for neither: importing them was most of its start (9.1 s with
    torch; 1.0 s of 2.5 with llama-index, ``python -X importtime``). Once the model is exported
    (here: the session's export, copied), indexing and answering run on ONNX Runtime."""
    assert isinstance(embedder, OnnxEmbedder)
    exported = tmp_path / "data" / "models" / "onnx"
    exported.mkdir(parents=True)
    shutil.copy(embedder.float32_path, exported)
    result = run_rag(["ask", "Who is Alex Vatanka?"], tmp_path / "data",
                     python=[sys.executable, "-X", "importtime"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Middle East Institute" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}  # fmt: skip
    assert "chromadb" in imported and "onnxruntime" in imported
    assert not {m.split(".")[0] for m in imported} & {
        "torch",
        "sentence_transformers",
        "llama_index",
    }


# --- in process, on the fakes ------------------------------------------------------------------


def test_main_ask_json(fake_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rag.app.cli import main

    assert main(["ask", "--json", "Who is Alex Vatanka?"]) == 0
    data = json.loads(capsys.readouterr().out)
    check_schema(data)
    assert not data["refused"] and data["citations"][0]["locator"] == "paragraph 11"


def test_main_ask_questions_file_reports_the_bad_line(
    fake_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.app.cli import main

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "Who is Alex Vatanka?"}) + "\nnot json\n", encoding="utf-8"
    )
    assert main(["ask", "--questions", str(questions), "--json"]) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    check_schema(first)
    assert "q.jsonl:2" in second["error"]


def test_main_ingest_counts_and_names_bad_files(
    fake_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.app.cli import main

    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    (folder / "empty.txt").write_text("", encoding="utf-8")
    assert main(["ingest", "--quiet", str(folder)]) == 0
    out = capsys.readouterr()
    assert "3 files: 2 added, 1 failed" in out.out
    assert "empty.txt" in out.err and "is empty" in out.err


def test_main_errors_exit_2_with_a_message(
    fake_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.app.cli import main

    assert main(["ask", ""]) == 2
    assert "rag: error:" in capsys.readouterr().err
    assert main(["ask", "--since", "yesterday", "Iran"]) == 2
    assert "--since" in capsys.readouterr().err


def test_python_dash_m_rag_runs_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m rag`` is the same CLI, its exit code passed on."""
    import runpy

    monkeypatch.setattr(sys, "argv", ["rag", "ask", ""])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("rag", run_name="__main__")
    assert info.value.code == 2
    assert "rag: error:" in capsys.readouterr().err
