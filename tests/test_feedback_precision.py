"""The feedback-precision evaluator counts a named problem as right only when the gold moves confirm it."""

from __future__ import annotations

import pytest

import coach.feedback
from coach.analysis import ReplyAnalysis
from coach.evaluate.feedback_precision import FeedbackPrecision
from coach.moves import MovesExample

REPLY = "Honestly, you should have read the terms. The refund form is on our website."


def case(example_id: str, lang: str, blame: float, gold_moves: tuple[str, ...]):
    verdicts = ("good", "poor", "mixed")
    example = MovesExample(example_id, lang, REPLY, gold_moves, verdicts)
    analysis = ReplyAnalysis(REPLY, "calm", 0.9, {"calm": 0.9}, {"blames_customer": blame}, readings={})
    return example, analysis


def test_a_named_problem_is_right_only_when_the_gold_moves_have_it():
    cases = [case("a", "fi", 0.95, ("blames_customer",)), case("b", "en", 0.95, ()), case("c", "en", 0.3, ())]
    result = FeedbackPrecision()(*zip(*cases))
    blame = [row for row in result["rows"] if row["message"] == "others_blame"]
    assert [(row["id"], row["right"]) for row in blame] == [("a", True), ("b", False)]  # "c": too unsure to be named
    assert result["by_message"]["others_blame"] == {"n": 2, "right": 1, "precision": 0.5}
    assert set(result["by_detector_probability"]) <= {"0.7", "0.8", "0.9", "leak kind"}  # nothing named below the gate
    assert result["fi"]["n"] + result["en"]["n"] == result["n"] and result["precision"] == round(result["right"] / result["n"], 3)


def test_without_the_gate_the_unsure_problem_is_named_too(monkeypatch):
    monkeypatch.setattr(coach.feedback, "NAMED_FROM", 0.0)
    result = FeedbackPrecision()(*zip(case("c", "en", 0.3, ())))
    assert [(row["message"], row["right"], row["detector"]) for row in result["rows"] if row["dimension"] == "others"] == [
        ("others_blame", False, pytest.approx(0.3))]
