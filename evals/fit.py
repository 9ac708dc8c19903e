"""Fit the answer scorer (``rag/query/scorer.json``) on the dev part of the gold set, and
nothing else.

    python -m evals.fit            # or: make fit

1. Every dev question is retrieved as the product retrieves it; each sentence of the evidence
   gets its feature row and a label: does it state one of the question's gold facts (or hold a
   gold snippet)? Unanswerable questions contribute only negatives.
2. Stage 1, per sentence: a standardised L2 logistic regression; its strength ``C`` is chosen by
   5-fold cross-validation grouped by question (log loss on held-out questions), so no question
   is scored by a model that saw it. Every choice (``C``s, threshold, ratios) is averaged over
   ``REPEATS`` shuffled fold splits: with one split, changing 3 of 296 questions moved the
   chosen threshold and ratios as much as any feature did.
3. Stage 2, per question (answerable or not): the same kind of model over
   ``features.QUESTION_FEATURES`` computed from stage 1's *held-out* probabilities; its ``C``
   by 5-fold stratified cross-validation over questions.
4. From stage 2's held-out probabilities: the refusal ``threshold`` is the largest value that
   keeps false refusals at most 5 % (the issue's bound) with 90 % confidence: it refuses no more
   answerable dev questions than a Clopper-Pearson bound allows (``allowed_false_refusals``); the
   selection ratios (``ratio``; ``ratio_wide`` for why/how and list questions) are the pair whose
   composed answers score best on held-out dev questions (fact recall plus citation precision,
   median length at most 60 words).
5. The final weights of both stages are fitted on all dev questions with the chosen ``C``s.

The dev questions are the seeds' dev part and every question of ``evals/devcorpus`` (twelve other
Wikinews articles and two from The Conversation, written for fitting). Test questions
(``evals.harness.split_of``) and the second corpus (``evals/corpus2``) are never read here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rag  # noqa: F401  (offline environment first)
from evals.harness import (
    DEVCORPUS,
    SEEDS_DEV,
    Cited,
    GoldItem,
    Response,
    answer_words,
    load_gold,
    score_item,
    states,
)
from rag.chain import RagChain
from rag.config import Settings
from rag.index.embedding import Embedder
from rag.query.answer import Candidate, ExtractiveAnswerer
from rag.query.conversation import rewrite
from rag.query.features import QUESTION_FEATURES, RANKING_FEATURES, Sentence, question_row
from rag.query.reader import ReaderCheck
from rag.query.scorer import DEFAULT_PATH, RANKING_COLUMNS, Linear, Scorer
from rag.text import normalize

ROOT = Path(__file__).resolve().parent.parent
EVALS = Path(__file__).resolve().parent
# Where the scorer learns: the dev part of the seeds' questions, plus a development corpus of
# fourteen other articles (Wikinews, The Conversation) whose questions are all dev
# (evals/devcorpus/README.md). A scorer fitted on one pair of articles learned their statistics
# (one outlet, one topic); the second corpus (evals/corpus2) and the seeds' test part stay unread.
DEV_CORPUS = EVALS / "devcorpus"
#: What both fits (this one and ``evals.fit_reader``) read, as their provenance records it.
FITTED_ON = (
    "dev part of evals/data (evals.harness.split_of) and all of evals/devcorpus; "
    "the test part and evals/corpus2 never read"
)
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: 0.2 and 0.25 are there so that the usual choice, 0.3, is not the grid's edge: below it the
#: held-out objective falls (0.25: 1.6724-1.6758 against 1.6784, measured 2026-12-01).
RATIO_GRID = (0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
MAX_FALSE_REFUSALS = 0.05
#: Confidence that the false refusal rate on new questions stays within MAX_FALSE_REFUSALS.
CONFIDENCE = 0.9
MAX_MEDIAN_WORDS = 60
FOLDS = 5
#: Shuffled repeats of each cross-validation; their held-out probabilities are averaged.
REPEATS = 5


@dataclass
class Example:
    item: GoldItem
    question: str
    sentences: list[Sentence]
    rows: list[list[float]]
    labels: list[int]


def label(sentence: Sentence, item: GoldItem) -> int:
    """1 when the sentence states a gold fact or holds (or lies inside) a gold snippet."""
    if not item.answerable:
        return 0
    text = normalize(sentence.text).lower()
    if any(states(sentence.text, group) for group in item.facts):
        return 1
    for snippet in item.gold:
        snip = normalize(snippet).lower()
        if snip in text or (len(text) > 20 and text in snip):
            return 1
    return 0


def standalone(item: GoldItem) -> str:
    return rewrite(item.question, [{"role": "user", "content": t} for t in item.history])


def collect(chain: RagChain, items: list[GoldItem]) -> list[Example]:
    answerer = chain.extractive
    out = []
    for item in items:
        question = standalone(item)
        retrieval = chain.retrieve(question)
        sentences, rows = answerer.featurize(question, retrieval)
        out.append(Example(item, question, sentences, rows,
                           [label(s, item) for s in sentences]))  # fmt: skip
    return out


def _fit(x: np.ndarray, y: np.ndarray, c: float, weight: np.ndarray | None = None) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(x, y, logisticregression__sample_weight=weight)
    return model


def out_of_fold(examples: list[Example], c: float, repeat: int = 0) -> list[list[float]]:
    """Each question's sentence probabilities from a model fitted without that question, on the
    ``repeat``-th shuffled split into folds by question."""
    from sklearn.model_selection import GroupKFold

    x, y, groups = _stack(examples)
    probs = np.zeros(len(y))
    folds = GroupKFold(n_splits=FOLDS, shuffle=True, random_state=repeat)
    for train, held in folds.split(x, y, groups):
        probs[held] = _fit(x[train], y[train], c).predict_proba(x[held])[:, 1]
    return _split(examples, probs)


def _stack(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray([r for ex in examples for r in ex.rows], dtype=np.float64)
    x = x[:, list(RANKING_COLUMNS)] if len(x) else x
    y = np.asarray([v for ex in examples for v in ex.labels])
    groups = np.asarray([i for i, ex in enumerate(examples) for _ in ex.rows])
    return x, y, groups


def log_loss(examples: list[Example], probs: list[list[float]]) -> float:
    y = np.asarray([v for ex in examples for v in ex.labels])
    return binary_log_loss(y, np.asarray([p for ps in probs for p in ps]))


def question_rows(examples: list[Example], probs: list[list[float]]) -> np.ndarray:
    return np.asarray([question_row(ex.rows, ps) for ex, ps in zip(examples, probs, strict=True)])


def gate_out_of_fold(x: np.ndarray, y: np.ndarray, c: float, repeat: int = 0) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=repeat).split(x, y):
        out[held] = _fit(x[train], y[train], c).predict_proba(x[held])[:, 1]
    return out


def binary_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def allowed_false_refusals(answerable: int) -> int:
    """How many answerable dev questions the threshold may refuse so that the false refusal rate
    on new questions is at most ``MAX_FALSE_REFUSALS`` with ``CONFIDENCE``: the largest count
    whose Clopper-Pearson upper bound stays under the bound.

    Why not the point estimate (refuse 5 % of dev): set that way, the scorer refused 7-9 % of
    answerable questions on the test part and the second corpus; a rate read off ~220 questions
    is itself uncertain, and the bound is a promise about questions nobody here has seen."""
    from scipy.stats import beta

    fits = [
        k for k in range(answerable)
        if beta.ppf(CONFIDENCE, k + 1, answerable - k) <= MAX_FALSE_REFUSALS
    ]  # fmt: skip
    return max(fits, default=0)


def choose_threshold(examples: list[Example], gate: np.ndarray) -> float:
    """The largest threshold that refuses at most ``allowed_false_refusals`` answerable ones."""
    best = sorted(float(g) for ex, g in zip(examples, gate, strict=True) if ex.item.answerable)
    allowed = allowed_false_refusals(len(best))
    # Refusing the `allowed` weakest answerable questions at most: sit just under the next one.
    return float(best[allowed]) - 1e-6 if best else 0.5


def compose_all(answerer: ExtractiveAnswerer, examples: list[Example], probs: list[list[float]],
                gate: np.ndarray, threshold: float, ratio: float, ratio_wide: float,
                read: tuple[ReaderCheck, list[list[list[float]]]] | None = None,
                ) -> list[tuple[GoldItem, Response]]:  # fmt: skip
    """Each question's answer as the answerer composes it from held-out ``probs`` and ``gate``;
    with ``read`` (a check and each question's readings, each prompt's of its first ranked
    sentences) ordered by the check as the reader path does."""
    out = []
    for i, (ex, ps, g) in enumerate(zip(examples, probs, gate, strict=True)):
        ranked: list[Candidate] = answerer.rank(ex.sentences, ex.rows, ps)
        if read is not None:
            check, readings = read
            ranked = check.order(ranked, readings[i])
        composed = answerer.select(ex.question, ranked, float(g), threshold, ratio, ratio_wide)
        response = Response(
            answer=composed.text,
            refused=composed.refused,
            citations=[Cited(q, c.text) for c in composed.citations for q in c.quotes[:1]],
            ranked_units=[],
            seconds=0.0,
        )
        out.append((ex.item, response))
    return out


def answer_quality(pairs: list[tuple[GoldItem, Response]]) -> dict[str, float]:
    scores = [score_item(item, response) for item, response in pairs]
    answerable = [s for s in scores if s.facts_ok is not None]
    precision = [s.citation_precision for s in answerable if s.citation_precision is not None]
    words = [answer_words(r.answer) for _, r in pairs if not r.refused]
    unanswerable = [s for s in scores if s.facts_ok is None]
    return {
        "refusal_accuracy": statistics.fmean(s.refused for s in unanswerable),
        "false_refusals": statistics.fmean(s.refused for s in answerable),
        "fact_recall": statistics.fmean(bool(s.facts_ok) for s in answerable),
        "citation_precision": statistics.fmean(precision) if precision else 0.0,
        "median_words": statistics.median(words) if words else 0.0,
    }


def mean_quality(runs: list[list[tuple[GoldItem, Response]]]) -> dict[str, float]:
    """``answer_quality`` averaged over the repeats' answers (each repeat's answers come from one
    split's held-out probabilities)."""
    qs = [answer_quality(pairs) for pairs in runs]
    return {m: statistics.fmean(q[m] for q in qs) for m in qs[0]}


def quality_by_corpus(
    runs: list[list[tuple[GoldItem, Response]]], by_corpus: dict[str, list[Example]]
) -> dict[str, dict[str, float]]:
    """``mean_quality`` on each dev corpus's questions alone (``runs``: each repeat's answers to
    the questions of ``by_corpus``, in its order), rounded as the provenance keeps it."""
    corpus_of = [name for name, group in by_corpus.items() for _ in group]
    return {
        name: {
            m: round(v, 4)
            for m, v in mean_quality(
                [[p for p, c in zip(run, corpus_of, strict=True) if c == name] for run in runs]
            ).items()
        }
        for name in by_corpus
    }


def answer_objective(quality: dict[str, float]) -> float:
    """What composed answers are chosen by (the ratios here, the reader's leave-out cut):
    fact recall plus citation precision, provided the median answer stays within
    ``MAX_MEDIAN_WORDS``."""
    if quality["median_words"] > MAX_MEDIAN_WORDS:
        return 0.0
    return quality["fact_recall"] + quality["citation_precision"]


def _split(examples: list[Example], flat: np.ndarray) -> list[list[float]]:
    out, at = [], 0
    for ex in examples:
        out.append([float(v) for v in flat[at : at + len(ex.rows)]])
        at += len(ex.rows)
    return out


def gold_first(examples: list[Example], probs: list[list[float]]) -> float:
    """Share of answerable questions with a gold sentence among their candidates whose most
    probable sentence is gold: how well stage 1 ranks, apart from how it is calibrated."""
    hits = [ex.labels[int(np.argmax(ps))] for ex, ps in zip(examples, probs, strict=True)
            if ex.item.answerable and any(ex.labels)]  # fmt: skip
    return statistics.fmean(hits) if hits else 0.0


def transfer(train: list[Example], test: list[Example], c: float, cq: float) -> dict[str, float]:
    """Both stages fitted on one dev corpus and scored on the other, with the chosen ``C``s.

    Why: cross-validation by question mixes every corpus into every fold, so it cannot see a
    model that learns one corpus's statistics. Gradient-boosted trees (2026-12-01) won by the
    held-out objective and lost here (their probabilities transferred worse: log loss 0.156 and
    0.126 against 0.142 and 0.117), and they lost on the test part and the second corpus too.
    As the ranker alone, with these logistic stages deciding refusal (2026-12-07,
    evals/EXPERIMENTS.md), they lost on the same split, judged by the answers composed on the
    other corpus (a dev-only experiment, not this function): ``answer_objective`` 1.6047 ->
    1.5870 and 1.7249 -> 1.6633."""
    from sklearn.metrics import roc_auc_score

    x, y, _ = _stack(train)
    xt, yt, _ = _stack(test)
    probs = _split(test, _fit(x, y, c).predict_proba(xt)[:, 1])
    yq = np.asarray([int(ex.item.answerable) for ex in train])
    yq_test = np.asarray([int(ex.item.answerable) for ex in test])
    gate = _fit(question_rows(train, out_of_fold(train, c)), yq, cq)
    g = gate.predict_proba(question_rows(test, probs))[:, 1]
    return {
        "sentence_log_loss": round(
            binary_log_loss(yt, np.asarray([p for ps in probs for p in ps])), 4
        ),
        "gold_first": round(gold_first(test, probs), 4),
        "question_log_loss": round(binary_log_loss(yq_test, g), 4),
        "question_auc": round(float(roc_auc_score(yq_test, g)), 4),
    }


def _linear(model: Any, features: tuple[str, ...]) -> Linear:
    scaler, logistic = model.steps[0][1], model.steps[1][1]
    return Linear(
        features=features,
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) for v in scaler.scale_),
        coef=tuple(float(v) for v in logistic.coef_[0]),
        intercept=float(logistic.intercept_[0]),
    )


def dev_examples(tmp: Path) -> tuple[dict[str, list[Example]], RagChain]:
    """Every dev question retrieved and featurised as the product does, by dev corpus (each
    indexed under ``tmp``), and the last corpus's chain (its answerer composes answers)."""
    dev_sets = [
        (SEEDS_DEV, ROOT / "seeds", [item for item in load_gold() if item.split == "dev"]),
        (DEVCORPUS, DEV_CORPUS / "articles", load_gold(DEV_CORPUS)),
    ]
    embedder = Embedder.from_settings(Settings.load())
    by_corpus: dict[str, list[Example]] = {}
    for number, (name, corpus, items) in enumerate(dev_sets):
        chain = RagChain(Settings.load(data_dir=tmp / str(number), corpus=[corpus]), embedder)
        chain.ensure_index()
        by_corpus[name] = collect(chain, items)
    return by_corpus, chain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        by_corpus, chain = dev_examples(Path(tmp))
        examples = [ex for group in by_corpus.values() for ex in group]
        answerer = chain.extractive

        # Every choice below averages over REPEATS shuffled splits, but each split's held-out
        # probabilities stay those of one model: averaging the probabilities themselves would
        # narrow their spread and put the refusal threshold where new questions are not.
        repeats = range(REPEATS)
        losses = {}
        oof: dict[float, list[list[list[float]]]] = {}
        for c in C_GRID:
            oof[c] = [out_of_fold(examples, c, r) for r in repeats]
            losses[c] = statistics.fmean(log_loss(examples, probs) for probs in oof[c])
            print(f"C={c:<5} held-out log loss {losses[c]:.4f}")
        c_best = min(C_GRID, key=lambda c: losses[c])
        probs_by_repeat = oof[c_best]

        xq_by_repeat = [question_rows(examples, probs) for probs in probs_by_repeat]
        yq = np.asarray([int(ex.item.answerable) for ex in examples])
        gate_oof = {c: [gate_out_of_fold(xq_by_repeat[r], yq, c, r) for r in repeats]
                    for c in C_GRID}  # fmt: skip
        gate_losses = {
            c: statistics.fmean(binary_log_loss(yq, g) for g in gate_oof[c]) for c in C_GRID
        }
        for c in C_GRID:
            print(f"question C={c:<5} held-out log loss {gate_losses[c]:.4f}")
        cq_best = min(C_GRID, key=lambda c: gate_losses[c])
        gates = gate_oof[cq_best]
        from sklearn.metrics import roc_auc_score

        gate_auc = statistics.fmean(float(roc_auc_score(yq, g)) for g in gates)
        print(f"question stage held-out AUC (answerable vs not) {gate_auc:.4f}")
        thresholds = [choose_threshold(examples, g) for g in gates]
        answerable = int(yq.sum())
        allowed = allowed_false_refusals(answerable)
        threshold = statistics.fmean(thresholds)

        ratio_scores = {}
        composed = {}
        for ratio in RATIO_GRID:
            for wide in RATIO_GRID:
                runs = [
                    compose_all(
                        answerer, examples, probs_by_repeat[r], gates[r], thresholds[r], ratio, wide
                    )  # fmt: skip
                    for r in repeats
                ]
                composed[(ratio, wide)] = runs
                q = mean_quality(runs)
                ratio_scores[(ratio, wide)] = {**q, "objective": answer_objective(q)}
        ratio, ratio_wide = max(ratio_scores, key=lambda r: (ratio_scores[r]["objective"], r))
        print(f"ratio={ratio} ratio_wide={ratio_wide} {ratio_scores[(ratio, ratio_wide)]}")
        by_corpus_quality = quality_by_corpus(composed[(ratio, ratio_wide)], by_corpus)
        for name, figures in by_corpus_quality.items():
            print(f"held out, {name} only: {figures}")

        ranking = statistics.fmean(gold_first(examples, probs) for probs in probs_by_repeat)
        print(f"held-out gold sentence first {ranking:.4f}")
        transfers: dict[str, Any] = {
            f"{a} -> {b}": transfer(by_corpus[a], by_corpus[b], c_best, cq_best)
            for a in by_corpus for b in by_corpus if a != b
        }  # fmt: skip
        for pair, figures in transfers.items():
            print(f"fitted on {pair}: {figures}")

        x, y, _ = _stack(examples)
        scorer = Scorer(
            sentence=_linear(_fit(x, y, c_best), RANKING_FEATURES),
            # Stage 2 learns from every repeat's held-out stage-1 probabilities (each question
            # REPEATS times, weighted 1/REPEATS so that C means what it meant in the search).
            question=_linear(
                _fit(
                    np.vstack(xq_by_repeat),
                    np.tile(yq, REPEATS),
                    cq_best,
                    np.full(REPEATS * len(yq), 1.0 / REPEATS),
                ),  # fmt: skip
                QUESTION_FEATURES,
            ),
            threshold=round(threshold, 6),
            ratio=ratio,
            ratio_wide=ratio_wide,
            provenance={
                "fitted_by": "python -m evals.fit",
                "date": dt.date.today().isoformat(),
                "fitted_on": FITTED_ON,
                "dev_questions": len(examples),
                "sentences": int(len(y)),
                "positives": int(y.sum()),
                "unanswerable_dev_questions": int((yq == 0).sum()),
                "sentence_C": {
                    "chosen": c_best,
                    "grid_log_loss": {str(k): round(v, 5) for k, v in losses.items()},
                },
                "question_C": {
                    "chosen": cq_best,
                    "grid_log_loss": {str(k): round(v, 5) for k, v in gate_losses.items()},
                },
                "question_held_out_auc": round(gate_auc, 4),
                "held_out_gold_first": round(ranking, 4),
                "transfer": {
                    "rule": "both stages fitted on one dev corpus with the chosen Cs, scored on "
                    "the other (reported, not used to choose)",
                    **transfers,
                },
                "thresholds_by_repeat": [round(t, 4) for t in thresholds],
                "threshold": f"mean over {REPEATS} shuffled repeats of the largest held-out "
                f"stage-2 probability that refuses at most {allowed} of the {answerable} "
                f"answerable dev questions: the most whose Clopper-Pearson {CONFIDENCE:.0%} "
                f"upper bound on the false refusal rate is <= {MAX_FALSE_REFUSALS:.0%} "
                f"({FOLDS}-fold stratified, on stage-1 probabilities held out by question)",
                "cross_validation": f"{FOLDS} folds x {REPEATS} shuffled repeats; losses, "
                "thresholds and objectives averaged over repeats, never the probabilities",
                "held_out_by_corpus": {
                    "rule": "the chosen ratios' held-out figures (as ratios.grid) on each dev "
                    "corpus's questions alone, for a gap to held-out sets of like articles",
                    **by_corpus_quality,
                },
                "ratios": {
                    "chosen": [ratio, ratio_wide],
                    "rule": "best held-out fact recall + citation precision, averaged over "
                    f"{REPEATS} repeats, with median answer <= {MAX_MEDIAN_WORDS} words, over "
                    "the grid (ratio, ratio_wide)",
                    "grid": {
                        f"{a},{b}": {m: round(v, 4) for m, v in sc.items()}
                        for (a, b), sc in ratio_scores.items()
                    },
                },
            },
        )
        scorer.save(args.out)
        print(f"wrote {args.out}: C={c_best}/{cq_best}, threshold={threshold:.4f}")
        for stage in (scorer.sentence, scorer.question):
            for name, w in sorted(zip(stage.features, stage.coef, strict=True),
                                  key=lambda t: -abs(t[1])):  # fmt: skip
                print(f"  {name:<22} {w:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
