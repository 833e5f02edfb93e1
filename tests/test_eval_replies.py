"""The batch contract: coach eval replies over JSONL, CSV and datasets folders."""

from __future__ import annotations

import json

import pytest

from coach.evaluate.replies import ReplyBatchEvaluator, coach_metrics
from tests.fakes import KeywordAnalyzer

ROWS = [
    {"id": "a", "lang": "en", "customer": "Where is my parcel?!", "customer_mood": 2,
     "reply": "I understand, that's frustrating. I'll sort it out and call you tomorrow by 10.",
     "gold": {"own": "good", "others": "good", "customer": "good"}},
    {"id": "b", "lang": "fi", "reply": "Ei kuulu meille, kysy infosta.", "extra": "kept out",
     "gold": {"own": "good", "others": "mixed", "customer": "good"}},
    {"id": "c", "lang": "en", "reply": "As I already said, not our department.", "customer_mood": 2,
     "gold": {"own": "poor", "others": "poor", "customer": "poor"}},
]


def write_jsonl(path, rows, broken_after=None):
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    if broken_after is not None:
        lines.insert(broken_after, '{"id": "x", "lang": "sv", "reply": "hej"}')
        lines.insert(broken_after, "{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_predictions_follow_the_contract(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = ReplyBatchEvaluator(KeywordAnalyzer(), batch_size=2)(data, tmp_path / "out", show_progress=False)
    rows = [json.loads(l) for l in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    for row in rows:
        assert set(row["tone"]) >= {"label", "confidence", "scores"}
        assert set(row["dimensions"]) == {"own", "others", "customer"}
        assert all(0 <= d["score"] <= 1 and d["verdict"] in {"good", "mixed", "poor"} for d in row["dimensions"].values())
        assert set(row["feedback"]) == {"own", "others", "customer"}
    assert result["rows"] == 3 and result["skipped"] == 0


def test_metrics_report_accuracy_kappa_and_severe_errors_per_language(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = ReplyBatchEvaluator(KeywordAnalyzer())(data, tmp_path / "out", show_progress=False)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result["metrics"]))
    # row b: the fake reads "ei kuulu meille" as deflection -> customer poor against gold good: severe
    assert metrics["fi"]["customer"] == metrics["fi"]["customer"] | {"n": 1, "accuracy": 0.0, "severe_error_rate": 1.0}
    assert metrics["all"]["customer"]["severe_error_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["en"]["own"]["accuracy"] == 1.0
    assert sum(map(sum, metrics["all"]["own"]["confusion"]["matrix"])) == 3


def test_malformed_lines_are_reported_with_their_number_and_skipped(tmp_path, capsys):
    data = write_jsonl(tmp_path / "in.jsonl", ROWS, broken_after=1)
    result = ReplyBatchEvaluator(KeywordAnalyzer())(data, tmp_path / "out", show_progress=False)
    err = capsys.readouterr().err
    assert f"{data}:2: skipped: not valid JSON" in err
    assert f"{data}:3: skipped: field 'lang' must be one of fi, en, found 'sv'" in err
    assert result["skipped"] == 2
    errors = [json.loads(l) for l in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert [e["line"] for e in errors] == [2, 3]
    assert len((tmp_path / "out" / "predictions.jsonl").read_text().splitlines()) == 3


def test_csv_and_datasets_inputs_give_the_same_predictions(tmp_path):
    import csv

    from datasets import Dataset

    jsonl = write_jsonl(tmp_path / "in.jsonl", ROWS)
    with (tmp_path / "in.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["id", "lang", "reply", "customer_mood", "gold_own", "gold_others", "gold_customer"])
        writer.writeheader()
        for r in ROWS:
            writer.writerow({"id": r["id"], "lang": r["lang"], "reply": r["reply"], "customer_mood": r.get("customer_mood", ""),
                             **{f"gold_{d}": v for d, v in r["gold"].items()}})  # fmt: skip
    Dataset.from_list([{k: r.get(k) for k in ("id", "lang", "reply", "customer_mood")} for r in ROWS]).save_to_disk(str(tmp_path / "ds"))
    outputs = {}
    for name, path in (("jsonl", jsonl), ("csv", tmp_path / "in.csv"), ("ds", tmp_path / "ds")):
        ReplyBatchEvaluator(KeywordAnalyzer())(path, tmp_path / name, show_progress=False)
        outputs[name] = [{k: v for k, v in json.loads(l).items() if k != "gold"}
                         for l in (tmp_path / name / "predictions.jsonl").read_text().splitlines()]  # fmt: skip
    # row a's customer line is only in the JSONL; everything else is the same input
    assert outputs["csv"] == outputs["jsonl"] == outputs["ds"]
    assert (tmp_path / "csv" / "metrics.json").is_file() and not (tmp_path / "ds" / "metrics.json").exists()


class FailingAfter(KeywordAnalyzer):
    def __init__(self, batches: int):
        super().__init__()
        self.batches = batches

    def analyze(self, replies, lang=None):
        if len(self.calls) >= self.batches:
            raise KeyboardInterrupt
        return super().analyze(replies, lang)


def test_an_interrupted_run_resumes_without_redoing_or_duplicating(tmp_path):
    rows = [dict(ROWS[i % 3], id=f"r{i}", lang="en") for i in range(10)]  # one language: one call per batch
    data = write_jsonl(tmp_path / "in.jsonl", rows, broken_after=4)
    with pytest.raises(KeyboardInterrupt):
        ReplyBatchEvaluator(FailingAfter(2), batch_size=3)(data, tmp_path / "out", show_progress=False)
    resumed = KeywordAnalyzer()
    result = ReplyBatchEvaluator(resumed, batch_size=3)(data, tmp_path / "out", show_progress=False)
    straight = ReplyBatchEvaluator(KeywordAnalyzer(), batch_size=3)(data, tmp_path / "straight", show_progress=False)
    assert (tmp_path / "out" / "predictions.jsonl").read_text() == (tmp_path / "straight" / "predictions.jsonl").read_text()
    assert (tmp_path / "out" / "errors.jsonl").read_text() == (tmp_path / "straight" / "errors.jsonl").read_text()
    assert sum(len(call[0]) for call in resumed.calls) == 4  # only the last 4 of 10 replies were redone
    assert result["rows"] == straight["rows"] == 12


def test_no_gold_means_no_metrics(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{k: v for k, v in r.items() if k != "gold"} for r in ROWS])
    result = ReplyBatchEvaluator(KeywordAnalyzer())(data, tmp_path / "out", show_progress=False)
    assert result["metrics"] is None and not (tmp_path / "out" / "metrics.json").exists()
    assert coach_metrics(tmp_path / "out" / "predictions.jsonl") is None


def test_each_language_is_analysed_with_its_own_thresholds(tmp_path):
    analyzer = KeywordAnalyzer()
    ReplyBatchEvaluator(analyzer, batch_size=10)(write_jsonl(tmp_path / "in.jsonl", ROWS), tmp_path / "out", show_progress=False)
    assert sorted((call[1], len(call[0])) for call in analyzer.calls) == [("en", 2), ("fi", 1)]


def test_worker_processes_write_exactly_what_one_process_writes(tmp_path, capsys):
    rows = [dict(ROWS[i % 3], id=f"r{i}") for i in range(23)]
    data = write_jsonl(tmp_path / "in.jsonl", rows, broken_after=7)
    single = ReplyBatchEvaluator(KeywordAnalyzer(), batch_size=4)(data, tmp_path / "one", show_progress=False)
    workers = ReplyBatchEvaluator(batch_size=4, num_proc=2, analyzer_factory=KeywordAnalyzer)(
        data, tmp_path / "two", show_progress=False
    )
    for name in ("predictions.jsonl", "errors.jsonl", "metrics.json"):
        assert (tmp_path / "two" / name).read_text() == (tmp_path / "one" / name).read_text(), name
    assert workers == single
    assert capsys.readouterr().err.count("skipped") == 4  # each malformed line reported once per run
