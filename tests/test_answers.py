"""Reading a yes to the customer's yes/no question (coach/answers.py) and the rubric signals built on it."""

from __future__ import annotations

import pytest

from coach.answers import grants_request
from coach.rubric import rubric_signals


@pytest.mark.parametrize("line", [
    "Käykö täällä kortti?", "Saako tänne tuoda koiran?", "Onks teillä kuumasinkittyjä ruuveja?",
    "Anteeksi, voisinko vaihtaa ranskalaiset salaattiin?", "Do you have oat milk?",
    "Hi, could I get extra towels? There's only one in the room.", "I'm lactose intolerant. Can I get the soup without cream?",
])  # fmt: skip
def test_a_yes_to_a_yes_no_question_is_read_in_both_languages(line):
    assert grants_request(line, "Yes.") and grants_request(line, "Kyllä.")


@pytest.mark.parametrize("line", [
    "Kauanko tässä jonossa vielä menee?", "Anteeksi, paljonko tämä maksaa?", "Do you know when the bus leaves?",
    "Where is the fitting room?", "Mä oon odottanu puol tuntia.", "Kaks kahvia, kiitos?", "", None,
])  # fmt: skip
def test_a_yes_answers_no_question_asking_what_when_or_how_much_nor_a_statement(line):
    assert not grants_request(line, "Yes.") and not grants_request(line, "Kyllä.")


@pytest.mark.parametrize("line, reply", [
    ("Käykö täällä kortti?", "Totta kai!"), ("Saako tänne tuoda koiran?", "Saa toki!"),
    ("Onko teillä tätä isompana?", "On, haen sen heti."), ("Voinko maksaa kortilla?", "Voitte."),
    ("Onks teillä kauramaitoa?", "No on!"), ("Can we sit outside?", "Of course!"), ("Do you have oat milk?", "We do!"),
    ("Is the pool open yet?", "Yes, till ten."), ("Could I get some ketchup?", "Sure thing."),
    ("Can I pay by card?", "No problem!"),
])  # fmt: skip
def test_a_yes_grants_the_request(line, reply):
    assert grants_request(line, reply)


@pytest.mark.parametrize("line, reply", [
    ("Onko teillä tätä isompana?", "Loppu."), ("Saanko istua tähän?", "Ei käy."), ("Voinko tulla?", "Voi että."),
    ("Can I get the soup without cream?", "Can't."), ("Do you have oat milk?", "We don't, sorry."),
    ("Is it open?", "It is not."), ("Kauanko tässä menee?", "Joo."), ("This is the third time I'm calling.", "Yes."),
    ("Do you have oat milk?", ""),
])  # fmt: skip
def test_a_no_a_non_answer_or_a_reply_to_no_question_grants_nothing(line, reply):
    assert not grants_request(line, reply)


def test_a_granted_request_is_read_from_the_customer_line_and_is_not_a_brush_off():
    warm = {"warm": 0.9}
    answered = rubric_signals(warm, {}, "Totta kai!", customer_line="Käykö täällä kortti?")
    unknown = rubric_signals(warm, {}, "Totta kai!")
    assert answered["context.grants_request"] == 1.0 and answered["context.brush_off"] == 0.0
    assert unknown["context.grants_request"] == 0.0 and unknown["context.brush_off"] == 1.0


def test_empathy_only_is_an_acknowledgement_or_apology_without_anything_offered():
    calm = {"calm": 0.9}
    assert rubric_signals(calm, {"acknowledges_feeling": 1.0}, "That sounds awful.")["context.empathy_only"] == 1.0
    assert rubric_signals(calm, {"apologises": 0.8, "concrete_next_step": 0.5}, "Sorry, I'll check.")[
        "context.empathy_only"] == pytest.approx(0.4)  # fmt: skip
    assert rubric_signals(calm, {"acknowledges_feeling": 1.0, "vague_promise": 1.0}, "Ugh. We'll see.")["context.empathy_only"] == 0.0
    assert rubric_signals(calm, {"concrete_next_step": 1.0}, "I'll send it today.")["context.empathy_only"] == 0.0


def test_the_session_and_the_batch_judge_a_reply_against_the_line_it_answers(monkeypatch):
    import json

    import coach.rubric
    from coach.evaluate.replies import coach_records, parse_record
    from coach.paths import REPO_ROOT
    from coach.scenario import load_scenario
    from coach.session import Session
    from tests.fakes import KeywordAnalyzer

    seen = []
    monkeypatch.setattr(coach.rubric, "grants_request", lambda line, reply: seen.append((line, reply)) or False)
    session = Session(load_scenario(REPO_ROOT / "scenarios" / "telecom-technician.yaml"), KeywordAnalyzer(), lang="en")
    line = session.customer_line
    session.reply("Of course!")
    record = parse_record(1, json.loads('{"id": "a", "lang": "fi", "customer": "Käykö kortti?", "reply": "Totta kai!"}'))
    coach_records(KeywordAnalyzer(), [record])
    assert seen == [(line, "Of course!"), ("Käykö kortti?", "Totta kai!")]
