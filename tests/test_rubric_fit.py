"""The rule-table fit: its fast scorer agrees with the coach, it improves a table, and its
cross-validation never starts from the table it is judging."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from coach.analysis import ReplyAnalysis
from coach.evaluate.replies import parse_record
from coach.evaluate.rubric_fit import (
    VERDICT_OF_CODE,
    FitConfig,
    GoldScorer,
    cross_validated_rows,
    fit_table,
    is_weight,
    table_vector,
    vector_table,
)
from coach.labels import COARSE_TONES, DIMENSIONS, SERVICE_MOVES, VERDICT_READINGS
from coach.rubric import RUBRIC_FILE, anchor_violations, parse_rubric
from coach.session import assess_reply

QUICK = FitConfig(restarts=1, hops=4, rounds=3)


def random_replies(n: int, seed: int = 5):
    """Replies with random classifier outputs; a few are one-word replies, so curt and brush-off fire."""
    rng = np.random.default_rng(seed)
    reading_rng = np.random.default_rng(seed + 1000)
    records, analyses = [], []
    for i in range(n):
        tones = dict(zip(COARSE_TONES, rng.dirichlet(np.ones(len(COARSE_TONES)))))
        moves = {m: float(rng.beta(0.4, 0.9)) for m in SERVICE_MOVES}
        reply = "Okay." if i % 7 == 0 else "I will check the order for you now and call you back."
        tone = max(tones, key=tones.get)
        readings = {r: float(reading_rng.beta(0.5, 0.9)) for r in VERDICT_READINGS}
        analyses.append(ReplyAnalysis(reply, tone, tones[tone], tones, moves, readings=readings))
        gold = {d: ("good", "mixed", "poor")[rng.integers(3)] for d in DIMENSIONS}
        records.append(parse_record(i + 1, {"id": str(i), "lang": ("fi", "en")[i % 2], "reply": reply,
                                            "customer_mood": int(rng.integers(0, 11)), "gold": gold}))  # fmt: skip
    return records, analyses


def shipped_table() -> dict:
    return yaml.safe_load(RUBRIC_FILE.read_text(encoding="utf-8"))


def coach_verdicts(raw, records, analyses):
    rubric = parse_rubric(raw, RUBRIC_FILE)
    return [[assess_reply(a, r.lang, r.customer_mood, rubric=rubric)[d].verdict for d in DIMENSIONS]
            for r, a in zip(records, analyses)]  # fmt: skip


@pytest.mark.parametrize("perturb", [False, True])
def test_the_fast_scorer_gives_the_coach_verdicts(perturb):
    records, analyses = random_replies(120)
    raw = shipped_table()
    if perturb:  # other weights, so agreement does not hinge on the shipped numbers; the verdict bands stay
        weights = is_weight(raw)
        factors = np.where(weights, np.random.default_rng(1).uniform(0.5, 1.5, len(weights)), 1.0)
        raw = vector_table(raw, np.clip(table_vector(raw) * factors, -1.5, 1.0))
    scorer = GoldScorer(records, analyses, raw)
    fast = [[VERDICT_OF_CODE[c] for c in row] for row in scorer.verdicts(table_vector(raw))]
    coach = coach_verdicts(raw, records, analyses)
    assert fast == coach
    assert {v for row in coach for v in row} == {"good", "mixed", "poor"}  # every verdict was exercised


def test_a_fit_recovers_a_table_from_its_own_verdicts_and_keeps_the_anchors():
    records, analyses = random_replies(200)
    raw = shipped_table()
    # Gold labels that one known table gives exactly; the fit starts elsewhere and must find its way back.
    for record, verdicts in zip(records, coach_verdicts(raw, records, analyses)):
        record.gold.update(zip(DIMENSIONS, verdicts))
    start = vector_table(raw, np.where(table_vector(raw) < 0, -0.3, table_vector(raw)))  # every penalty at -0.3
    scorer = GoldScorer(records, analyses, raw)
    fitted = fit_table(start, scorer, FitConfig(restarts=2, hops=8, rounds=4))  # QUICK stops short of 0.9 here
    assert scorer.objective(table_vector(fitted)) > scorer.objective(table_vector(start)) + 0.05
    assert scorer.objective(table_vector(fitted)) > 0.9
    assert anchor_violations(parse_rubric(fitted, RUBRIC_FILE)) == []
    weights = is_weight(raw)  # the floor and the thresholds may sit at zero
    assert (np.sign(table_vector(fitted))[weights] == np.sign(table_vector(raw))[weights]).all()  # every rule keeps its direction


def test_cross_validation_does_not_start_from_the_numbers_it_judges():
    records, analyses = random_replies(80)
    raw = shipped_table()
    other = vector_table(raw, table_vector(raw) * 0.5)  # same rules and signs, other numbers
    config = FitConfig(restarts=1, hops=2, rounds=2)
    rows = cross_validated_rows(raw, records, analyses, 2, config)
    assert rows == cross_validated_rows(other, records, analyses, 2, config)
    assert len(rows) == len(records)
    assert sorted(r["gold"]["own"] for r in rows) == sorted(r.gold["own"] for r in records)

