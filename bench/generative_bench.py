"""Local generation against extractive answers on the seed corpus (`make bench-llm`): time to
first text, total time, tokens per second, on the same questions; and what the local reader
(``RAG_READER=local``) adds to an extractive answer."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from rag.chain import RagChain
from rag.config import Settings
from rag.query.reader import CANDIDATES, PROMPTS

ROOT = Path(__file__).resolve().parent.parent


def bench_generative(questions: list[str]) -> dict[str, float]:
    """Extractive vs local generation on the same questions: time to first text, total time,
    tokens per second, and the share of generated sentences the verifier dropped."""
    from rag.query.llm import packaged_model

    with tempfile.TemporaryDirectory() as tmp:
        where = {"data_dir": Path(tmp), "corpus": [ROOT / "seeds"],
                 "llm_model_path": packaged_model(ROOT / ".rag")}  # fmt: skip
        chain = RagChain(Settings.load(answerer="local", **where))
        chain.warm_up()
        chain.ingest()
        chain.ask(questions[1], answerer="extractive")
        chain.answerer_for("local").generator.warm_up()  # type: ignore[attr-defined]
        reading = RagChain(Settings.load(reader="local", **where))
        reading.warm_up()
        reading.ask(questions[1], answerer="extractive")
        rows = {"extractive": [], "local": [], "reader": []}  # type: dict[str, list[tuple[float, float, int, float]]]
        for name in rows:
            for question in questions:
                start = time.perf_counter()
                first = gen_start = None
                tokens = 0
                asking = reading if name == "reader" else chain
                answerer = "extractive" if name == "reader" else name
                for event in asking.stream(question, answerer=answerer):
                    now = time.perf_counter()
                    if first is None:
                        first = now
                    if event.kind == "token":
                        tokens += 1
                        gen_start = gen_start or now
                end = time.perf_counter()
                rate = tokens / (end - gen_start) if gen_start and tokens > 1 else 0.0
                rows[name].append((first - start, end - start, tokens, rate))  # type: ignore[operator]
    out: dict[str, float] = {}
    for name, values in rows.items():
        out[f"{name}_first_text_s"] = statistics.median(v[0] for v in values)
        out[f"{name}_total_s"] = statistics.median(v[1] for v in values)
        rates = [v[3] for v in values if v[3]]
        out[f"{name}_tokens_per_s"] = statistics.median(rates) if rates else 0.0
    print(
        f"{'':12}{'first text':>12}{'total':>10}{'tokens/s':>10}  (medians over "
        f"{len(questions)} questions)"
    )
    for name in rows:
        print(
            f"{name:12}{out[name + '_first_text_s']:>11.2f}s{out[name + '_total_s']:>9.2f}s"
            f"{out[name + '_tokens_per_s']:>10.1f}"
        )
    print(f"local/extractive total time: {out['local_total_s'] / out['extractive_total_s']:.0f}x")
    out["reader_max_s"] = max(v[1] for v in rows["reader"])
    print(f"extractive with the reader ({CANDIDATES} candidates x {len(PROMPTS)} prompts read): "
          f"median {out['reader_total_s']:.2f} s, at most {out['reader_max_s']:.2f} s, "
          f"{out['reader_total_s'] / out['extractive_total_s']:.0f}x extractive alone")  # fmt: skip
    return out
