"""Simulated learners: reply-bank coverage and checks, the play loop and the flags (no model)."""

from __future__ import annotations

import pytest

from coach.errors import UserError
from coach.evaluate.simulate import (
    LEARNERS,
    REPLY_BANKS_DIR,
    LearnerRun,
    LearnerSimulator,
    load_reply_bank,
    reply_bank_path,
    scenario_flags,
)
from coach.paths import REPO_ROOT
from coach.scenario import load_scenario, scenario_files, scenarios_dir
from tests.fakes import KeywordAnalyzer

TELECOM = REPO_ROOT / "scenarios" / "telecom-technician.yaml"


@pytest.fixture
def telecom():
    return load_scenario(TELECOM)


def write_bank(tmp_path, learners: dict, scenario_id: str = "telecom-technician"):
    import yaml

    path = tmp_path / f"{scenario_id}.yaml"
    path.write_text(yaml.safe_dump({"scenario": scenario_id, "learners": learners}, allow_unicode=True))
    return path


def every_beat(scenario, reply: str, **overrides) -> dict:
    return {beat.id: overrides.get(beat.id, reply) for beat in scenario.beats}


# ------------------------------------------------------------------------------ the bundled banks


@pytest.mark.parametrize("path", scenario_files([scenarios_dir()]), ids=lambda p: p.stem)
def test_every_bundled_scenario_has_a_reply_bank_that_fits_it(path):
    scenario = load_scenario(path)
    bank_path = reply_bank_path(scenario.id)
    assert bank_path.is_file(), f"scenario {scenario.id} has no reply bank: write {bank_path.relative_to(REPO_ROOT)}"
    bank = load_reply_bank(bank_path, scenario)  # every learner, language and beat, or UserError
    for learner in LEARNERS:
        for lang in scenario.languages:
            assert 6 <= bank.count(learner, lang) <= max(8, len(scenario.beats)), (learner, lang)


def test_no_reply_bank_is_left_without_its_scenario():
    ids = {load_scenario(path).id for path in scenario_files([scenarios_dir()])}
    assert {path.stem for path in REPLY_BANKS_DIR.glob("*.yaml")} <= ids


# ------------------------------------------------------------------------------ checking a bank


def test_a_bank_that_misses_beats_or_names_unknown_ones_is_refused_with_lines(tmp_path, telecom):
    skilled = every_beat(telecom, "I'll sort it out today.")
    del skilled["accused"]
    path = write_bank(tmp_path, {
        "skilled": {"en": skilled | {"the-scrpit": "Hi."}},
        "average": {"en": every_beat(telecom, "Okay."), "fi": every_beat(telecom, "Okei.")},
        "novice": {"en": every_beat(telecom, "Hm.")},
    })  # fmt: skip
    with pytest.raises(UserError) as caught:
        load_reply_bank(path, telecom)
    message = str(caught.value)
    assert f"{path}:" in message
    assert "learners.skilled.en: no reply for beat(s) accused" in message
    assert "learners.skilled.en.the-scrpit: not a beat of 'telecom-technician'" in message
    assert "learners.average.fi: the scenario has no 'fi'" in message
    assert "learners.novice: unknown learner" in message
    assert "learners.struggling: missing" in message


def test_a_bank_for_another_scenario_or_a_missing_bank_is_refused(tmp_path, telecom):
    path = write_bank(tmp_path, {name: {"en": every_beat(telecom, "Hi.")} for name in LEARNERS}, "keynote-baby")
    with pytest.raises(UserError, match="scenario: expected 'telecom-technician'"):
        load_reply_bank(path, telecom)
    with pytest.raises(UserError, match="no reply bank for scenario 'telecom-technician'.*opening, details"):
        load_reply_bank(tmp_path / "missing.yaml", telecom)


# ------------------------------------------------------------------------------ playing


def test_each_language_is_analysed_in_one_batch_and_every_learner_is_played(tmp_path, telecom):
    learners = {
        "skilled": {"en": every_beat(telecom, "I understand, I'm sorry. I'll sort it out and call you tomorrow by 10.")},
        "average": {"en": every_beat(telecom, "Okay, let me have a look.")},
        "struggling": {"en": every_beat(telecom, "Not our department, ask at the shop.")},
    }
    bank = load_reply_bank(write_bank(tmp_path, learners), telecom)
    analyzer = KeywordAnalyzer()
    runs = LearnerSimulator(analyzer, seed=1)(telecom, bank)
    assert len(analyzer.calls) == 1 and analyzer.calls[0][1] == "en" and len(analyzer.calls[0][0]) == 3
    assert [(r.learner, r.lang) for r in runs] == [("skilled", "en"), ("average", "en"), ("struggling", "en")]
    skilled, _, struggling = runs
    assert skilled.ending_kind == "resolved" and skilled.mood_curve[0] == telecom.persona.starting_mood
    assert struggling.ending_kind in ("walked_out", "escalated", "handed_to_manager")
    assert skilled.averages["customer"] > struggling.averages["customer"]
    assert skilled.turns[0]["beat"] == "opening" and "takes_ownership" in skilled.turns[0]["moves"]
    assert "Ending" in skilled.transcript and scenario_flags(runs) == []


def test_a_reply_loop_stops_at_the_turn_limit_and_a_list_answers_visits_in_turn(tmp_path, telecom):
    # deflecting sends the customer to the-script; owning it there sends him back to details: a loop
    loop = every_beat(telecom, "Not our department, ask at the shop.", **{"the-script": ["I'll sort it.", "I'll handle it."]})
    bank = load_reply_bank(write_bank(tmp_path, {name: {"en": loop} for name in LEARNERS}), telecom)
    [skilled, *_] = LearnerSimulator(KeywordAnalyzer())(telecom, bank)
    assert skilled.ending_id is None and len(skilled.turns) == 2 * len(telecom.beats)
    at_script = [t["reply"] for t in skilled.turns if t["beat"] == "the-script"]
    assert len(set(at_script)) == 2 and at_script[0] != at_script[1]
    flags = scenario_flags([skilled])
    assert len(flags) == 1 and "no ending within the turn limit" in flags[0].message


def test_only_the_first_language_is_played_when_asked(tmp_path):
    scenario = load_scenario(REPO_ROOT / "scenarios" / "pharmacy-prescription.yaml")
    bank = load_reply_bank(reply_bank_path(scenario.id), scenario)
    assert {r.lang for r in LearnerSimulator(KeywordAnalyzer())(scenario, bank)} == {"fi", "en"}
    assert {r.lang for r in LearnerSimulator(KeywordAnalyzer(), all_languages=False)(scenario, bank)} == {"fi"}


# ------------------------------------------------------------------------------ flags


def run(learner: str, kind: str | None, lang: str = "en") -> LearnerRun:
    return LearnerRun("s", learner, lang, f"end-{kind}" if kind else None, kind, [3, 4], {"own": 1.0, "others": 1.0, "customer": 1.0})


@pytest.mark.parametrize("runs, flagged", [
    ([run("skilled", "resolved"), run("average", "resolved"), run("struggling", "walked_out")], []),
    ([run("skilled", "resolved"), run("struggling", "resolved")], ["struggling"]),
    ([run("skilled", "partly_resolved"), run("struggling", "escalated")], ["skilled"]),
    ([run("skilled", None), run("struggling", "resolved")], ["skilled", "struggling"]),
    ([run("average", "walked_out")], []),
])  # fmt: skip
def test_flags_catch_a_resolved_struggler_and_an_unresolved_expert(runs, flagged):
    assert sorted(f.learner for f in scenario_flags(runs)) == flagged
