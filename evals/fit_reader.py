"""Fit the reader check (``rag/query/reader.json``) on the dev questions, and nothing else.

    python -m evals.fit_reader      # or: make fit-reader (needs make local-llm)

1. Every dev question is retrieved and featurised as ``evals.fit`` does; stage 1 with the shipped
   scorer's chosen ``C`` gives each sentence a probability held out by question (repeat 0 of the
   fit's shuffled folds), and the ``CANDIDATES`` best sentences are what the reader reads;
   the check's inputs are each prompt's best reading of the ``CHECKED`` first and the mean
   ``STATES`` reading of all (``rag.query.reader.reading_inputs``).
2. Each is read by the local model (``rag.query.reader.LocalReader``) with every prompt of
   ``PROMPTS``. Scores are kept in ``evals/reader_scores.json`` (``evals.readings``: by a hash
   of the whole chat the reader is asked), so a refit reads the model only for pairs it has not
   seen: one to two seconds a reading on two cores, about ten minutes a prompt for all of dev.
3. For each of ``evals.fit.REPEATS`` shuffled splits, stage 2's held-out probability (with the
   shipped scorer's question ``C``) and the readings' ``reading_inputs`` are the inputs of a
   logistic regression, itself held out by 5-fold cross-validation; its ``C`` minimises held-out
   log loss and its threshold follows ``evals.fit.choose_threshold`` (at most 5 % false refusals
   with 90 % confidence), averaged over the repeats. The final weights are fitted on every
   repeat's rows.
4. A read candidate after the lead that the reader (``STATES``) rejects can be left out of the
   quote (``ReaderCheck.leave_out_below``): the cut of ``LEAVE_OUT_GRID`` whose held-out answers
   score best by ``evals.fit.answer_objective`` (as the ratios are chosen), and its worth by 5-fold
   cross-validation over questions (the cut chosen on four folds answers the fifth).
5. With that cut, the read candidate whose readings (weighed by the check's final weights) are
   best goes first if they exceed the lead's by more than ``ReaderCheck.promote_above``: the
   margin of ``PROMOTE_GRID`` chosen and cross-validated the same way.

The test part and ``evals/corpus2`` are never read here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from evals import fit
from evals.harness import GoldItem, Response
from evals.readings import DEV, CachedReader
from rag.config import Settings
from rag.query.answer import ExtractiveAnswerer
from rag.query.llm import LocalGenerator
from rag.query.reader import (
    CANDIDATES,
    CHECKED,
    DEFAULT_PATH,
    FEATURES,
    LocalReader,
    ReaderCheck,
    question_logit,
    read,
    reading_inputs,
)
from rag.query.scorer import Scorer

#: The readings below which a read candidate after the lead may be left out (``None``: never).
#: The reader's logit differences on dev run from about -6 to 4 (mean -1.1, sd 1.3, reader.json).
LEAVE_OUT_GRID: tuple[float | None, ...] = (None, 0.0, -0.5, -1.0, -1.5, -2.0, -2.5, -3.0, -4.0)
#: The margins by which the best read candidate's weighed readings must exceed the lead's for it
#: to go first (``None``: never), in units of the check's logit; with the shipped check's weights
#: (reader.json, 2026-12-04) the best of the three after the lead less the lead runs from -6.3
#: to 4.2 on dev (mean -0.9, sd 1.5; 37 of 454 above 1, 15 above 2; the second's alone: mean
#: -1.2, 24 above 1).
PROMOTE_GRID: tuple[float | None, ...] = (None, 4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0)
#: Folds of dev questions for the cross-validated estimate of the chosen cut.
FOLDS = 5


def read_candidates(examples: list[fit.Example], probs: list[list[float]],
                    reader: CachedReader) -> list[list[list[float]]]:  # fmt: skip
    """Each question's readings (one list per prompt of ``PROMPTS``) of its ``CANDIDATES``
    first sentences, ranked as the answerer ranks them by ``probs``."""
    out = []
    for ex, ps in zip(examples, probs, strict=True):
        ranked = ExtractiveAnswerer.rank(ex.sentences, ex.rows, ps)[:CANDIDATES]
        out.append(read(reader, ex.question, [c.text for c in ranked]))
    return out


def reader_inputs(readings: list[list[list[float]]]) -> np.ndarray:
    """Each question's ``reading_inputs``, a row each (a question with no candidate gets each
    input's lowest value seen, as if read and rejected)."""
    rows = [reading_inputs(r) if r and r[0] else None for r in readings]
    floor = np.min([v for v in rows if v is not None], axis=0)
    return np.asarray([floor if v is None else v for v in rows])


def choose_by_answers(answers: dict[float | None, list[tuple[GoldItem, Response]]],
                      by_corpus: dict[str, list[fit.Example]]
                      ) -> tuple[float | None, dict[str, Any]]:  # fmt: skip
    """The setting (of ``ReaderCheck.leave_out_below`` or ``promote_above``) that composes the
    best held-out answers (``answers`` by setting, one per dev question), and what choosing it
    is worth: each of ``FOLDS`` folds of questions is answered with the setting chosen on the
    other four, on all of them and on each dev corpus's (``by_corpus``, in the answers' order).
    Ties go to the first in ``answers`` (``None``, doing nothing, first)."""
    cuts = list(answers)
    n = len(next(iter(answers.values())))

    def best(rows: np.ndarray) -> float | None:
        def objective(k: float | None) -> float:
            return fit.answer_objective(fit.answer_quality([answers[k][i] for i in rows]))

        return max(cuts, key=objective)

    chosen_by_fold: list[float | None] = []
    held: dict[int, tuple[GoldItem, Response]] = {}
    for train, test in KFold(FOLDS, shuffle=True, random_state=0).split(np.arange(n)):
        cut = best(train)
        chosen_by_fold.append(cut)
        held.update((int(i), answers[cut][i]) for i in test)
    chosen = best(np.arange(n))
    held_in_order = [held[i] for i in range(n)]
    cross_validated = fit.answer_quality(held_in_order)
    report = {
        "chosen": chosen,
        "chosen_by_fold": chosen_by_fold,
        "grid": {
            str(k): {m: round(v, 4) for m, v in fit.answer_quality(a).items()}
            for k, a in answers.items()
        },
        "cross_validated": {m: round(v, 4) for m, v in cross_validated.items()},
        "cross_validated_by_corpus": fit.quality_by_corpus([held_in_order], by_corpus),
    }
    return chosen, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)

    shipped = Scorer.load().provenance
    c, cq = float(shipped["sentence_C"]["chosen"]), float(shipped["question_C"]["chosen"])
    reader = CachedReader(DEV, lambda: LocalReader(LocalGenerator.from_settings(Settings.load())))
    with tempfile.TemporaryDirectory() as tmp:
        by_corpus, chain = fit.dev_examples(Path(tmp))
    examples = [ex for group in by_corpus.values() for ex in group]
    yq = np.asarray([int(ex.item.answerable) for ex in examples])
    probs0 = fit.out_of_fold(examples, c, 0)
    try:
        readings = read_candidates(examples, probs0, reader)
    finally:
        reader.save()
    inputs = reader_inputs(readings)
    print(f"reader scores: {len(reader.scores)} known, {reader.read} read now")

    from sklearn.metrics import roc_auc_score

    repeats = range(fit.REPEATS)
    rows = []
    for r in repeats:
        probs = fit.out_of_fold(examples, c, r)
        gate = fit.gate_out_of_fold(fit.question_rows(examples, probs), yq, cq, r)
        rows.append(np.column_stack([[question_logit(float(g)) for g in gate], inputs]))
    # Other seeds than stage 2's folds, so the check is not held out on the same partitions.
    held = {
        cc: [fit.gate_out_of_fold(rows[r], yq, cc, 100 + r) for r in repeats] for cc in fit.C_GRID
    }
    losses = {cc: statistics.fmean(fit.binary_log_loss(yq, g) for g in held[cc]) for cc in held}
    c_best = min(losses, key=lambda cc: losses[cc])
    gates = held[c_best]
    thresholds = [fit.choose_threshold(examples, g) for g in gates]
    threshold = statistics.fmean(thresholds)
    auc = statistics.fmean(float(roc_auc_score(yq, g)) for g in gates)
    alone = {
        name: round(float(roc_auc_score(yq, inputs[:, j])), 4)
        for j, name in enumerate(FEATURES[1:])
    }
    refused = statistics.fmean(
        float(np.mean(g[yq == 0] < t)) for g, t in zip(gates, thresholds, strict=True)
    )
    false = statistics.fmean(
        float(np.mean(g[yq == 1] < t)) for g, t in zip(gates, thresholds, strict=True)
    )
    print(f"C={c_best} held-out AUC {auc:.4f} (each reading input alone {alone}); refusals "
          f"{refused:.3f}, false refusals {false:.3f}, threshold {threshold:.4f}")  # fmt: skip

    model = fit._linear(
        fit._fit(np.vstack(rows), np.tile(yq, fit.REPEATS), c_best,
                 np.full(fit.REPEATS * len(yq), 1.0 / fit.REPEATS)),
        FEATURES,
    )  # fmt: skip

    # How the readings order the quote, on repeat 0 (whose ranking was read), with the scorer's
    # own ratios and this check's held-out probabilities and threshold: first which read
    # candidates to leave out, then (with that cut) when to put the second first.
    answerer = chain.extractive
    scorer = answerer.scorer

    def answers(checks: dict[float | None, ReaderCheck]) -> dict[float | None, Any]:
        return {
            k: fit.compose_all(answerer, examples, probs0, gates[0], thresholds[0],
                               scorer.ratio, scorer.ratio_wide, (check, readings))
            for k, check in checks.items()
        }  # fmt: skip

    base = ReaderCheck(model=model, threshold=threshold)
    leave_out_below, leave_out_report = choose_by_answers(
        answers({cut: replace(base, leave_out_below=cut) for cut in LEAVE_OUT_GRID}), by_corpus
    )
    print(f"leave out below {leave_out_below}: cross-validated "
          f"{leave_out_report['cross_validated']} against none "
          f"{leave_out_report['grid']['None']}")  # fmt: skip
    cut = replace(base, leave_out_below=leave_out_below)
    promote_above, promote_report = choose_by_answers(
        answers({m: replace(cut, promote_above=m) for m in PROMOTE_GRID}), by_corpus
    )
    print(f"promote above {promote_above}: cross-validated "
          f"{promote_report['cross_validated']} against none "
          f"{promote_report['grid']['None']}")  # fmt: skip

    check = ReaderCheck(
        model=model,
        threshold=round(threshold, 6),
        leave_out_below=leave_out_below,
        promote_above=promote_above,
        provenance={
            "fitted_by": "python -m evals.fit_reader",
            "date": dt.date.today().isoformat(),
            "fitted_on": fit.FITTED_ON,
            "reader": "the packaged Qwen2.5-Coder-1.5B-Instruct Q4_K_M (rag.query.llm), "
            "each prompt of rag.query.reader.PROMPTS (states: logit(Yes) - logit(No); phrase: "
            f"-log P(not)), best of the {CHECKED} most probable sentences by stage 1 held "
            f"out by question (C={c}, repeat 0), and the mean states reading of the "
            f"{CANDIDATES} read (also for the order)",
            "dev_questions": len(examples),
            "unanswerable_dev_questions": int((yq == 0).sum()),
            "C": {
                "chosen": c_best,
                "grid_log_loss": {str(k): round(v, 5) for k, v in losses.items()},
            },
            "held_out_auc": round(auc, 4),
            "reader_alone_auc": alone,
            "held_out_refusals": round(refused, 4),
            "held_out_false_refusals": round(false, 4),
            "thresholds_by_repeat": [round(t, 4) for t in thresholds],
            "threshold": f"mean over {fit.REPEATS} repeats of evals.fit.choose_threshold on "
            "the check's held-out probabilities",
            "leave_out_below": {
                **leave_out_report,
                "how": "the cut of LEAVE_OUT_GRID whose answers (repeat 0's held-out ranking, "
                "the check's held-out probabilities and threshold) score best by "
                f"evals.fit.answer_objective; cross_validated answers each of {FOLDS} folds of "
                "questions with the cut chosen on the others",
            },
            "promote_above": {
                **promote_report,
                "how": "with leave_out_below chosen, the margin of PROMOTE_GRID whose answers "
                "(as for leave_out_below, the weights of the final model) score best by "
                "evals.fit.answer_objective; cross_validated as for leave_out_below",
            },
        },
    )
    check.save(args.out)
    print(f"wrote {args.out}: weights {dict(zip(FEATURES, check.model.coef, strict=True))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
