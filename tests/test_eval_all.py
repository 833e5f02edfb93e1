"""`coach eval all`: orchestration, report writing and the CI-sized run.

The fast tests use the keyword fake analyzer and a keyword fake tone classifier on small corpus
and gold files written here; the bundled scenarios and their reply banks are the real ones. The
slow test runs `coach eval all --quick` with the real model, as CI does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from coach.cli import main
from coach.corpora import GOEMOTIONS_LABELS, XED_LABELS, in_dev_split
from coach.errors import UserError
from coach.evaluate.report import Table, render_markdown
from coach.evaluate.suite import EvaluationSuite, SuiteConfig, band_distance, corpus_taxonomy
from coach.paths import REPO_ROOT
from coach.scenario import load_scenario, scenario_files, scenarios_dir
from tests.fakes import KeywordAnalyzer

GOLD = [
    {"id": "t1", "lang": "en", "customer": "Where is my parcel?!", "customer_mood": 2,
     "reply": "I understand, that's frustrating. I'll sort it out and call you tomorrow by 10.",
     "gold": {"own": "good", "others": "good", "customer": "good"}},
    {"id": "t2", "lang": "fi", "reply": "Ei kuulu meille, kysy infosta.",
     "gold": {"own": "good", "others": "mixed", "customer": "good"}},
    {"id": "t3", "lang": "en", "reply": "As I already said, not our department.",
     "gold": {"own": "poor", "others": "poor", "customer": "poor"}},
    {"id": "t4", "lang": "fi", "customer": "Missä mun paketti on?", "customer_mood": 3,
     "reply": "Ymmärrän, että harmittaa. Selvitän asian heti ja soitan sulle tänään.",
     "gold": {"own": "good", "others": "poor", "customer": "poor"}},
    {"id": "t5", "lang": "en", "reply": "<script>alert(1)</script> Not our department, ask at the front desk.",
     "gold": {"own": "mixed", "others": "mixed", "customer": "good"}},
]  # fmt: skip


class KeywordClassifier:
    """A fake tone classifier: 'happy'/'ilo' reads as joy, 'angry'/'vihainen' as anger, else neutral."""

    def classify(self, texts, lang=None, batch_size=32):
        results = []
        for text in texts:
            lower = text.lower()
            go = {name: 0.0 for name in GOEMOTIONS_LABELS}
            xed = {name: 0.0 for name in XED_LABELS}
            if "happy" in lower or "ilo" in lower:
                go["joy"] = xed["joy"] = 0.9
            elif "angry" in lower or "vihainen" in lower:
                go["anger"] = xed["anger"] = 0.9
            else:
                go["neutral"] = xed["neutral"] = 0.9
            results.append(SimpleNamespace(
                goemotions=go, xed=xed,
                goemotions_labels=[max(go, key=go.get)], xed_labels=[max(xed, key=xed.get)],
            ))  # fmt: skip
        return results


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_corpora(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    go, xed = GOEMOTIONS_LABELS.index, XED_LABELS.index
    goemotions = folder / "goemotions_dev.tsv"
    goemotions.write_text("".join(
        f"{text} {i}\t{label}\tc{i}\n"
        for i in range(12)
        for text, label in [(("so happy today", go("joy")), ("I am angry", go("anger")), ("it is Monday", go("neutral")))[i % 3]]
    ))  # fmt: skip
    xed_fi = folder / "fi.dev.tsv"
    xed_fi.write_text("".join(
        f"{text} {i}\t{label}\n"
        for i in range(9)
        for text, label in [(("mikä ilo", xed("joy")), ("olen vihainen", xed("anger")), ("se on maanantai", xed("trust")))[i % 3]]
    ))  # fmt: skip
    return [goemotions, xed_fi]


@pytest.fixture
def inputs(tmp_path):
    gold_dir = tmp_path / "gold"
    gold_dir.mkdir()
    write_jsonl(gold_dir / "gold_test.jsonl", GOLD)
    write_jsonl(gold_dir / "gold_dev.jsonl", GOLD[:2])
    results = tmp_path / "results"
    results.mkdir()
    (results / "classifier_bench.json").write_text(json.dumps({
        "single_reply_ms_p50": 21.5, "single_reply_ms_p95": 30.1, "batch_replies_per_s": 80.2,
        "peak_rss_mb": 900.0, "settings": {"repeats": 200},
    }))  # fmt: skip
    return SimpleNamespace(gold_dir=gold_dir, results=results, corpora=write_corpora(tmp_path / "corpora"), root=tmp_path)


def config_for(inputs, **overrides) -> SuiteConfig:
    settings = dict(out_dir=inputs.root / "out", data=inputs.corpora, gold_dir=inputs.gold_dir,
                    results_dir=inputs.results, show_progress=False)  # fmt: skip
    return SuiteConfig(**(settings | overrides))


def run_suite(config: SuiteConfig) -> dict:
    suite = EvaluationSuite(config)
    return suite.run(suite.prepare(), KeywordAnalyzer(), KeywordClassifier())


def bundled_scenarios():
    return [load_scenario(path) for path in scenario_files([scenarios_dir()])]


# ------------------------------------------------------------------------------ orchestration


def test_a_full_run_writes_the_report_the_summary_and_every_part(inputs):
    summary = run_suite(config_for(inputs))
    out = inputs.root / "out"
    for name in ("report.md", "report.html", "summary.json", "results.json", "plots/tone_f1.png",
                 "plots/confusion_gold_test.png", "coach/gold_test/predictions.jsonl", "coach/gold_dev/worst.jsonl",
                 "tone/xed.fi/xed.fi.tsv", "tone/xed.fi/predictions.jsonl", "learners/runs.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert json.loads((out / "summary.json").read_text()) == summary
    # flat, comparable keys for every headline figure
    assert all(not isinstance(v, (dict, list)) for v in summary.values())
    assert summary["coach.gold_test.rows"] == 5 and summary["coach.gold_dev.rows"] == 2
    for lang in ("fi", "en", "all"):
        for dimension in ("own", "others", "customer"):
            for name in ("accuracy", "kappa", "severe_error_rate"):
                assert f"coach.gold_test.{lang}.{dimension}.{name}" in summary
    # the fake classifier is right on every line; labels absent from the file count as 0 in macro-F1
    assert summary["tone.goemotions.en.macro_f1_supported"] == 1.0
    assert summary["tone.goemotions.en.macro_f1"] == pytest.approx(3 / len(GOEMOTIONS_LABELS), abs=1e-4)
    assert summary["tone.xed.fi.n"] == 9 and summary["tone.xed.fi.macro_f1_supported"] < 1.0  # 'trust' read as neutral
    assert summary["bench.classifier.single_reply_ms_p50"] == 21.5 and "bench.classifier.settings.repeats" not in summary
    assert summary["bench.app_load"] == summary["bench.coaching"] == "not measured"
    scenarios = bundled_scenarios()
    assert summary["sim.scenarios"] == len(scenarios) and summary["sim.missing_banks"] == 0
    for scenario in scenarios:
        for lang in scenario.languages:
            for learner in ("skilled", "average", "struggling"):
                assert f"sim.{scenario.id}.{lang}.{learner}.resolved" in summary
                assert (out / "learners" / f"{scenario.id}.{lang}.{learner}.md").is_file()


def test_gold_test_is_the_headline_and_disagreements_are_ranked_severe_first(inputs):
    run_suite(config_for(inputs, worst=5))
    results = json.loads((inputs.root / "out" / "results.json").read_text())
    assert [entry["name"] for entry in results["coach"]] == ["gold_test", "gold_dev"]
    worst = results["coach"][0]["worst"]
    assert 0 < len(worst) <= 5
    keys = [(-w["severe"], -w["distance"]) for w in worst]
    assert keys == sorted(keys)
    # t2: the fake reads "ei kuulu meille" as deflection, gold says customer good: a severe error
    t2 = next(w for w in worst if w["id"] == "t2" and w["dimension"] == "customer")
    assert t2["severe"] == 1 and t2["reply"] == GOLD[1]["reply"] and t2["feedback"]
    assert worst[0]["severe"] == 1


def test_quick_samples_the_corpora_plays_each_learner_once_and_scores_only_gold_test(inputs):
    summary = run_suite(config_for(inputs, quick=True, quick_lines=5, seed=4))
    assert summary["meta.quick"] is True
    assert summary["tone.goemotions.en.n"] == 5 and summary["tone.xed.fi.n"] == 5
    assert not any(key.startswith("coach.gold_dev.") for key in summary)
    runs = json.loads((inputs.root / "out" / "learners" / "runs.json").read_text())
    assert len(runs) == 3 * len(bundled_scenarios())
    again = run_suite(config_for(inputs, quick=True, quick_lines=5, seed=4, out_dir=inputs.root / "again"))
    first = (inputs.root / "out" / "tone" / "xed.fi" / "xed.fi.tsv").read_text()
    assert (inputs.root / "again" / "tone" / "xed.fi" / "xed.fi.tsv").read_text() == first  # the seed fixes the sample
    assert {k: v for k, v in again.items() if not k.startswith(("meta.created", "time."))} == \
        {k: v for k, v in summary.items() if not k.startswith(("meta.created", "time."))}  # fmt: skip


def test_default_corpora_are_the_dev_splits_the_training_carved_out(inputs, tmp_path):
    data = tmp_path / "shared"
    (data / "goemotions").mkdir(parents=True)
    (data / "xed").mkdir()
    (data / "goemotions" / "train.tsv").write_text("so happy\t17\tc1\n")
    (data / "goemotions" / "dev.tsv").write_text("so happy\t17\tc2\nI am angry\t2\tc3\n")
    for lang in ("en", "fi"):
        (data / "xed" / f"{lang}.train.tsv").write_text("".join(f"line {lang} {i}, ok\t{1 + i % 8}\n" for i in range(40)))
    artifact = tmp_path / "tone"
    artifact.mkdir()
    (artifact / "tone_config.json").write_text(json.dumps({"config": {"seed": 5, "xed_dev_fraction": 0.5}}))
    summary = run_suite(config_for(inputs, data=[], corpus_dir=data, tone_artifact=artifact))
    assert summary["tone.goemotions.en.n"] == 2
    # the split is decided on the raw line, the model reads it normalised (commas become spaces)
    expected = [f"line fi {i} ok" for i in range(40) if in_dev_split(f"line fi {i}, ok", 0.5, 5)]
    written = (inputs.root / "out" / "tone" / "xed.fi" / "xed.fi.tsv").read_text().splitlines()
    assert summary["tone.xed.fi.n"] == len(expected) > 0
    assert [line.split("\t")[0] for line in written] == expected


def test_flags_name_scenarios_that_do_not_separate_learners(inputs, tmp_path):
    banks = tmp_path / "banks"
    banks.mkdir()
    scenario = next(s for s in bundled_scenarios() if s.id == "telecom-technician")
    # every learner gives the skilled replies: the struggling one now resolves too
    bank = yaml.safe_load((REPO_ROOT / "eval" / "data" / "reply_banks" / "telecom-technician.yaml").read_text())
    bank["learners"] = {name: bank["learners"]["skilled"] for name in ("skilled", "average", "struggling")}
    (banks / "telecom-technician.yaml").write_text(yaml.safe_dump(bank, allow_unicode=True))
    summary = run_suite(config_for(inputs, reply_banks=banks))
    results = json.loads((inputs.root / "out" / "results.json").read_text())
    messages = [f["message"] for f in results["learners"]["flags"]]
    assert any("telecom-technician (en): the struggling learner still reaches" in m for m in messages)
    missing = [s.id for s in bundled_scenarios() if s.id != scenario.id]
    assert sorted(results["learners"]["missing_banks"]) == sorted(missing)
    assert summary["sim.flags"] == len(messages) == 1 + len(missing)
    report = (inputs.root / "out" / "report.md").read_text()
    assert "the struggling learner still reaches" in report and "no reply bank" in report


# ------------------------------------------------------------------------------ report


def test_the_html_report_is_self_contained_and_matches_the_markdown(inputs):
    run_suite(config_for(inputs))
    out = inputs.root / "out"
    markdown, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "](plots/tone_f1.png)" in markdown and "data:image/png;base64," in page
    assert 'src="plots/' not in page
    for heading in ("Headline", "1. Tone classifier", "2. Coach on the gold sets", "gold_test (headline)",
                    "Worst disagreements on gold_test", "3. Simulated learners", "4. Benchmarks"):  # fmt: skip
        assert heading in markdown and heading in page
    assert "App load (eval/results/app_load.json): not measured." in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Not our department" in page  # replies are text, not markup
    assert "<script" not in page


def test_markdown_tables_escape_pipes_and_newlines():
    text = render_markdown([Table(["a", "b"], [["x | y", "line\nbreak"]])])
    assert "| x \\| y | line break |" in text


# ------------------------------------------------------------------------------ inputs and errors


def test_taxonomy_is_read_from_the_path_or_the_columns(tmp_path):
    (tmp_path / "xed").mkdir()
    plain = tmp_path / "xed" / "fi.train.tsv"
    plain.write_text("teksti\t1\n")
    three = tmp_path / "sample.tsv"
    three.write_text("text\t1\tc1\n")
    two = tmp_path / "other.tsv"
    two.write_text("text\t1\n")
    assert corpus_taxonomy(plain) == "xed" and corpus_taxonomy(three) == "goemotions" and corpus_taxonomy(two) == "xed"
    four = tmp_path / "four.tsv"
    four.write_text("a\tb\tc\td\n")
    with pytest.raises(UserError, match="cannot tell the taxonomy.*4 tab-separated"):
        corpus_taxonomy(four)


@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "lang": "en", "reply": "hi", "gold": {"own": "good"}}\n{not json\n', "not a readable JSON-lines gold file"),
    ('{"id": "a", "lang": "en", "reply": "hi", "gold": {"own": "good"}}\n' * 2, "ids must be unique; repeated: a"),
    ('{"id": "a", "lang": "en", "text": "hi", "gold": {"own": "good"}}\n', "missing reply"),
])  # fmt: skip
def test_bad_gold_files_are_refused_before_any_model_runs(inputs, content, message):
    (inputs.gold_dir / "gold_test.jsonl").write_text(content)
    with pytest.raises(UserError, match=message):
        EvaluationSuite(config_for(inputs)).prepare()


def test_the_command_checks_its_inputs_before_loading_the_model(inputs, monkeypatch, capsys):
    import coach.analysis

    def no_model():
        raise AssertionError("the model must not load for a bad input")

    monkeypatch.setattr(coach.analysis, "load_analyzer", no_model)
    missing = inputs.root / "missing.tsv"
    assert main(["eval", "all", "--out", str(inputs.root / "out"), "--data", str(missing)]) == 1
    assert f"{missing}: cannot read the corpus file" in capsys.readouterr().err


def test_the_command_runs_the_suite_with_the_loaded_analyzer(inputs, monkeypatch, capsys):
    import coach.analysis
    import coach.evaluate.suite as suite

    analyzer = KeywordAnalyzer()
    analyzer.tone = KeywordClassifier()
    monkeypatch.setattr(coach.analysis, "load_analyzer", lambda: analyzer)
    defaults = config_for(inputs)
    monkeypatch.setattr(suite, "SuiteConfig", lambda **given: SuiteConfig(**(defaults.__dict__ | given)))
    out = inputs.root / "cli"
    assert main(["eval", "all", "--out", str(out), "--quick", "--seed", "2", "--data", *map(str, inputs.corpora)]) == 0
    printed = capsys.readouterr().out
    assert "coach.gold_test.mean_accuracy" in printed and f"wrote {out / 'report.md'}" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta.seed"] == 2 and summary["meta.quick"] is True


def test_band_distance_is_zero_inside_the_gold_band():
    assert band_distance(0.8, "good", 0.67, 0.40) == 0 and band_distance(0.5, "good", 0.67, 0.40) == pytest.approx(0.17)
    assert band_distance(0.5, "mixed", 0.67, 0.40) == 0 and band_distance(0.9, "mixed", 0.67, 0.40) == pytest.approx(0.23)
    assert band_distance(0.1, "poor", 0.67, 0.40) == 0 and band_distance(0.9, "poor", 0.67, 0.40) == pytest.approx(0.5)


# ------------------------------------------------------------------------------ the CI-sized run


@pytest.mark.slow
def test_quick_run_with_the_real_model_finishes_in_ci_time_with_sane_figures(tmp_path):
    gold_test = REPO_ROOT / "eval" / "data" / "gold_test.jsonl"
    if not gold_test.is_file():
        pytest.fail(f"{gold_test} is missing; the quick run scores the coach on it")
    started = time.perf_counter()
    assert main(["eval", "all", "--quick", "--out", str(tmp_path)]) == 0
    elapsed = time.perf_counter() - started
    assert elapsed < 300, f"--quick took {elapsed:.0f} s; CI allows 5 minutes"
    for name in ("report.md", "report.html", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    gold_lines = sum(1 for line in gold_test.read_text(encoding="utf-8").splitlines() if line.strip())
    assert summary["coach.gold_test.rows"] == gold_lines
    assert summary["coach.gold_test.skipped"] < gold_lines / 10
    for key, value in summary.items():
        if key.startswith("coach.gold_test.") and key.endswith(("accuracy", "severe_error_rate")):
            assert 0.0 <= value <= 1.0, key
    for dimension in ("own", "others", "customer"):
        figures = {name: summary[f"coach.gold_test.all.{dimension}.{name}"] for name in ("accuracy", "kappa", "severe_error_rate")}
        assert figures["kappa"] > 0, f"{dimension}: no better than chance: {figures}"
        assert figures["severe_error_rate"] < 1 - figures["accuracy"] + 1e-9, figures
    tone = {k: v for k, v in summary.items() if k.startswith("tone.") and k.endswith(".macro_f1")}
    assert set(tone) == {"tone.goemotions.en.macro_f1", "tone.xed.en.macro_f1", "tone.xed.fi.macro_f1"}
    assert all(0.0 < value <= 1.0 for value in tone.values()), tone
    assert all(summary[k.replace("macro_f1", "n")] <= 300 for k in tone)
    assert summary["sim.scenarios"] == len(bundled_scenarios()) and summary["sim.missing_banks"] == 0
