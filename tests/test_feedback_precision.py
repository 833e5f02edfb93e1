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
    cases = [case("a", "fi", 0.95, ("blames_customer",)), case("b", "en", 0.95, ()), case("c", "en", 0.6, ())]
    result = FeedbackPrecision()(*zip(*cases))
    blame = [row for row in result["rows"] if row["message"] == "others_blame"]
    assert [(row["id"], row["right"]) for row in blame] == [("a", True), ("b", False)]  # "c": too unsure to be named
    assert result["by_message"]["others_blame"] == {"n": 2, "right": 1, "precision": 0.5}
    bins = result["by_detector_probability"]
    assert all(b == "leak kind" or float(b) >= coach.feedback.NAMED_FROM for b in bins)  # nothing named below the gate
    assert result["fi"]["n"] + result["en"]["n"] == result["n"] and result["precision"] == round(result["right"] / result["n"], 3)


def test_without_the_gate_the_unsure_problem_is_named_too(monkeypatch):
    monkeypatch.setattr(coach.feedback, "NAMED_FROM", 0.0)
    result = FeedbackPrecision()(*zip(case("c", "en", 0.6, ())))
    assert [(row["message"], row["right"], row["detector"]) for row in result["rows"] if row["dimension"] == "others"] == [
        ("others_blame", False, pytest.approx(0.6))]


def quote_case(blame_by_sentence: list[float]):
    from coach.analysis import split_sentences

    reply = "Sorry about the wait. Did you not read the sign at the door? I'll refund the ticket now."
    sentences = split_sentences(reply)
    signals = [{"move.blames_customer": value} for value in blame_by_sentence]
    analysis = ReplyAnalysis(reply, "calm", 0.9, {"calm": 0.9}, {"blames_customer": 0.95}, sentences, signals, readings={})
    item = {"id": "q", "lang": "en", "reply": reply, "problem": "blames_customer", "problem_sentence": sentences[1]}
    return item, analysis


def test_a_quote_is_right_only_when_it_is_the_marked_sentence():
    from coach.evaluate.feedback_precision import QuoteAccuracy

    right, wrong = quote_case([0.1, 0.9, 0.2]), quote_case([0.8, 0.3, 0.1])
    result = QuoteAccuracy()(*zip(right, wrong))
    assert [row["named"] for row in result["rows"]] == [True, True]
    assert result["rows"][0]["right"] == result["rows"][0]["quotes"] >= 1 and result["rows"][1]["right"] == 0
    assert result["quote_accuracy"] == 0.5 and result["named_rate"] == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"problem": "rudeness"}, "problem must be one of blames_customer"),
        ({"problem_sentence": "Not in the reply."}, "problem_sentence must be copied exactly from reply"),
        ({"lang": "sv"}, "lang must be one of fi, en"),
        ({"reply": ""}, "field 'reply' must be non-empty text"),
    ],
)  # fmt: skip
def test_a_malformed_quote_set_line_is_refused_with_its_line_and_field(tmp_path, change, message):
    import json

    from coach.errors import UserError
    from coach.evaluate.feedback_precision import read_quote_set

    good = {"id": "a", "lang": "en", "reply": "Sorry. Did you not read it?", "problem": "blames_customer",
            "problem_sentence": "Did you not read it?"}  # fmt: skip
    path = tmp_path / "quotes.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, **change}) + "\n")
    with pytest.raises(UserError, match=f"quotes.jsonl:2: {message}"):
        read_quote_set(path)
    path.write_text(json.dumps(good) + "\n")
    assert read_quote_set(path) == [good]


def test_replies_are_analysed_a_language_at_a_time_and_come_back_in_their_order():
    from coach.analysis import analyze_by_language

    class RecordingAnalyzer:
        calls: list[tuple[str, list[str]]] = []

        def analyze(self, replies, lang=None):
            self.calls.append((lang, list(replies)))
            return [f"{lang}:{reply}" for reply in replies]

    analyzer = RecordingAnalyzer()
    out = analyze_by_language(analyzer, ["fi", "en", "fi"], ["Hoidan.", "I'll fix it.", "Soitan."])
    assert out == ["fi:Hoidan.", "en:I'll fix it.", "fi:Soitan."]
    assert analyzer.calls == [("fi", ["Hoidan.", "Soitan."]), ("en", ["I'll fix it."])]
