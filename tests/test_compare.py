"""`coach eval compare`: which figures got better or worse between two summary.json files."""

from __future__ import annotations

import json

import pytest

from coach.cli import main
from coach.errors import UserError
from coach.evaluate.compare import compare_summaries, direction, format_comparison, load_summary

OLD = {
    "meta.created": "2026-01-01T10:00:00+00:00", "meta.quick": True, "meta.seed": 0,
    "coach.gold_test.mean_accuracy": 0.70, "coach.gold_test.all.own.accuracy": 0.80,
    "coach.gold_test.all.own.kappa": 0.40, "coach.gold_test.all.customer.severe_error_rate": 0.10,
    "tone.xed.fi.macro_f1": 0.50, "tone.xed.fi.n": 300,
    "bench.classifier.single_reply_ms_p50": 20.0, "bench.classifier.batch_replies_per_s": 80.0,
    "bench.app_load": "not measured",
    "sim.flags": 2, "sim.shop.fi.skilled.resolved": 0, "sim.shop.fi.struggling.resolved": 0,
    "sim.shop.fi.skilled.ending": "partly_resolved", "sim.shop.fi.skilled.own": 0.8,
    "time.total_s": 100.0, "coach.gold_dev.mean_accuracy": 0.6,
}  # fmt: skip
NEW = OLD | {
    "meta.created": "2026-02-01T10:00:00+00:00",
    "coach.gold_test.mean_accuracy": 0.75, "coach.gold_test.all.own.kappa": 0.60,
    "coach.gold_test.all.customer.severe_error_rate": 0.12,
    "tone.xed.fi.macro_f1": 0.45,
    "bench.classifier.single_reply_ms_p50": 15.0, "bench.classifier.batch_replies_per_s": 70.0,
    "bench.app_load.load_s": 3.2,
    "sim.flags": 1, "sim.shop.fi.skilled.resolved": 1, "sim.shop.fi.struggling.resolved": 1,
    "sim.shop.fi.skilled.ending": "resolved", "sim.shop.fi.skilled.own": 0.9,
}  # fmt: skip
del NEW["coach.gold_dev.mean_accuracy"], NEW["bench.app_load"]


@pytest.mark.parametrize("key, expected", [
    ("coach.gold_test.fi.own.accuracy", 1), ("coach.gold_test.mean_accuracy", 1), ("tone.xed.fi.macro_f1", 1),
    ("coach.gold_test.all.own.kappa", 1), ("bench.classifier.batch_replies_per_s", 1),
    ("coach.gold_test.all.own.severe_error_rate", -1), ("bench.classifier.single_reply_ms_p95", -1),
    ("bench.classifier.peak_rss_mb", -1), ("time.total_s", -1), ("sim.flags", -1), ("coach.gold_test.skipped", -1),
    ("sim.shop.fi.skilled.resolved", 1), ("sim.shop.fi.struggling.resolved", -1), ("sim.shop.fi.average.resolved", 0),
    ("sim.shop.fi.skilled.own", 0), ("sim.shop.fi.skilled.turns", 0), ("tone.xed.fi.n", 0), ("bench.classifier.cpus", 0),
])  # fmt: skip
def test_the_key_says_which_way_is_better(key, expected):
    assert direction(key) == expected


def test_changes_are_grouped_and_sorted_by_relative_size():
    comparison = compare_summaries(OLD, NEW)
    assert [c.key for c in comparison.better] == [
        "sim.shop.fi.skilled.resolved",  # 0 -> 1: the whole range
        "sim.flags",  # 2 -> 1: half
        "coach.gold_test.all.own.kappa",  # 0.2 / 0.6
        "bench.classifier.single_reply_ms_p50",  # 5 / 20
        "coach.gold_test.mean_accuracy",  # 0.05 / 0.75
    ]
    assert [c.key for c in comparison.worse] == [
        "sim.shop.fi.struggling.resolved",  # 0 -> 1: relative size 1
        "coach.gold_test.all.customer.severe_error_rate",  # 0.02 / 0.12
        "bench.classifier.batch_replies_per_s",  # 10 / 80
        "tone.xed.fi.macro_f1",  # 0.05 / 0.5
    ]
    assert [c.key for c in comparison.changed] == ["sim.shop.fi.skilled.own", "sim.shop.fi.skilled.ending"]
    assert comparison.only_old == ["bench.app_load", "coach.gold_dev.mean_accuracy"]
    assert comparison.only_new == ["bench.app_load.load_s"]
    assert comparison.unchanged == 3  # own accuracy, tone n, time; meta keys are never compared
    kappa = next(c for c in comparison.better if c.key.endswith("kappa"))
    assert kappa.delta == pytest.approx(0.2)


def test_the_printout_shows_deltas_and_every_group():
    text = format_comparison(compare_summaries(OLD, NEW), "old/summary.json", "new/summary.json")
    assert "old: old/summary.json  (2026-01-01T10:00:00+00:00)" in text
    assert "Better (5):" in text and "Worse (4):" in text and "Changed (no better or worse) (2):" in text
    assert "coach.gold_test.all.own.kappa" in text and "0.4 → 0.6" in text and "+0.2 (+50.0%)" in text
    assert "sim.shop.fi.skilled.ending" in text and "partly_resolved → resolved" in text
    assert "Only in old (2):" in text and "3 figure(s) unchanged." in text
    assert "note:" not in text


def test_identical_summaries_have_nothing_to_report():
    comparison = compare_summaries(OLD, dict(OLD))
    assert not (comparison.better or comparison.worse or comparison.changed)
    assert "Better (0):\n  none" in format_comparison(comparison, "a", "b")


def test_quick_and_full_runs_are_compared_with_a_note():
    text = format_comparison(compare_summaries(OLD, NEW | {"meta.quick": False}), "a", "b")
    assert "note: one run is --quick and the other is not" in text


def test_the_command_prints_the_comparison_and_exits_0(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(NEW))
    assert main(["eval", "compare", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "Better (5):" in out and "tone.xed.fi.macro_f1" in out


@pytest.mark.parametrize("content, message", [
    (None, "no such file; expected a summary.json"),
    ("{not json", "not valid JSON"),
    ('{"coach": {"gold_test": 1}}', "expected a flat JSON object"),
    ("[1, 2]", "expected a flat JSON object"),
])  # fmt: skip
def test_missing_or_invalid_files_are_clear_errors(tmp_path, capsys, content, message):
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    good.write_text(json.dumps(OLD))
    if content is not None:
        bad.write_text(content)
    with pytest.raises(UserError, match=message):
        load_summary(bad)
    assert main(["eval", "compare", str(good), str(bad)]) == 1
    assert f"error: {bad}" in capsys.readouterr().err
