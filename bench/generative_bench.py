"""Local generation against extractive answers on the seed corpus (`make bench-llm`): time to
first text, total time, tokens per second, on the same questions."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from rag.chain import RagChain
from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def bench_generative(questions: list[str]) -> dict[str, float]:
    """Extractive vs local generation on the same questions: time to first text, total time,
    tokens per second, and the share of generated sentences the verifier dropped."""
    from rag.query.llm import packaged_model

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(
            data_dir=Path(tmp),
            corpus=[ROOT / "seeds"],
            answerer="local",
            llm_model_path=packaged_model(ROOT / ".rag"),
        )
        chain = RagChain(settings)
        chain.warm_up()
        chain.ingest()
        chain.ask(questions[1], answerer="extractive")
        chain.answerer_for("local").generator.warm_up()  # type: ignore[attr-defined]
        rows = {"extractive": [], "local": []}  # type: dict[str, list[tuple[float, float, int, float]]]
        for name in rows:
            for question in questions:
                start = time.perf_counter()
                first = gen_start = None
                tokens = 0
                for event in chain.stream(question, answerer=name):
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
    return out
