"""coach/store.py: every turn in its own transaction, restore by replay, per-learner isolation."""

from __future__ import annotations

import shutil
import threading

import pytest

from coach.errors import UserError
from coach.paths import REPO_ROOT
from coach.scenario import load_scenario
from coach.session import Session
from coach.store import DB_ENV, Store, check_learner_name, default_database_url, restore_session
from tests.fakes import KeywordAnalyzer

TELECOM = REPO_ROOT / "scenarios" / "telecom-technician.yaml"
REPLIES = [
    "Three missed visits is awful and I'm sorry. I'll sort this out myself, can I check your address?",
    "I understand. I'll handle it: I'm booking a priority visit for tomorrow by 10 and I'll call you today.",
    "I'm sorry. I'll sort the refund right now and call you tomorrow by 10 to confirm.",
    "Thank you. I'll handle it and call you tomorrow by 10.",
    "I'll sort it today and call you tomorrow by 10.",
]


class NoModel:
    """An analyzer that must not be called: restoring a session replays stored analyses."""

    def analyze(self, replies, lang=None):
        raise AssertionError("the model was called during a restore")


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'history.db'}"


@pytest.fixture
def store(url):
    return Store(url)


@pytest.fixture
def scenario_text(tmp_path):
    return TELECOM.read_text(encoding="utf-8")


def _play(store: Store, learner: str, text: str, replies: list[str], seed: int = 4) -> tuple[Session, int]:
    session = Session(load_scenario(TELECOM), KeywordAnalyzer(), lang="en", seed=seed, checkin="tired")
    record_id = None
    for reply in replies:
        if session.ended:
            break
        session.reply(reply)
        record_id = store.record_turn(learner, session, record_id, text)
    return session, record_id


def test_each_turn_is_committed_as_it_happens(url, store, scenario_text):
    session, record_id = _play(store, "anna", scenario_text, REPLIES[:2])
    # A new engine on the same file sees both turns: nothing waited for the end of the session.
    reopened = Store(url).load("anna", record_id)
    assert [reply for reply, _ in reopened.turns] == REPLIES[:2]
    assert reopened.turns[0][1] == session.turns[0].analysis.to_record()
    assert reopened.checkin == "tired"


def test_a_stored_session_is_restored_by_replay_without_the_model(store, scenario_text):
    session, record_id = _play(store, "anna", scenario_text, REPLIES)
    session.reflection = {"felt": "tense"}
    store.save_reflection("anna", record_id, session.reflection)
    restored = restore_session(store.load("anna", record_id), NoModel())
    assert restored.report().to_dict() == session.report().to_dict()
    assert restored.ended == session.ended


def test_a_later_edit_of_the_scenario_file_does_not_break_an_old_session(tmp_path, store):
    file = tmp_path / "telecom.yaml"
    shutil.copy(TELECOM, file)
    session, record_id = _play(store, "anna", file.read_text(encoding="utf-8"), REPLIES[:2])
    file.write_text("id: broken\n", encoding="utf-8")
    restored = restore_session(store.load("anna", record_id), NoModel())
    assert [t.reply for t in restored.turns] == REPLIES[:2]


def test_undo_deletes_the_last_stored_turn(store, scenario_text):
    session, record_id = _play(store, "anna", scenario_text, REPLIES[:3])
    session.undo()
    store.sync_turns("anna", record_id, session)
    assert [reply for reply, _ in store.load("anna", record_id).turns] == REPLIES[:2]
    [summary] = store.list_sessions("anna")
    assert summary.turns == 2


def test_the_listing_summarises_scores_and_the_ending(store, scenario_text):
    session, _ = _play(store, "anna", scenario_text, REPLIES)
    [summary] = store.list_sessions("anna")
    assert summary.finished and summary.ending_kind == session.ending.kind
    assert summary.averages == session.report().averages
    assert summary.title == "The technician who never came"


def test_a_learner_never_reaches_another_learners_sessions(store, scenario_text):
    _, anna_id = _play(store, "anna", scenario_text, REPLIES[:1])
    bob_session, bob_id = _play(store, "bob", scenario_text, REPLIES[:2])
    assert [s.id for s in store.list_sessions("anna")] == [anna_id]
    assert [s.id for s in store.list_sessions("bob")] == [bob_id]
    with pytest.raises(UserError):
        store.load("anna", bob_id)
    with pytest.raises(UserError):
        store.save_reflection("anna", bob_id, {"x": "y"})
    with pytest.raises(UserError):
        store.sync_turns("anna", bob_id, Session(bob_session.scenario, KeywordAnalyzer()))
    with pytest.raises(UserError):
        store.record_turn("anna", bob_session, bob_id, scenario_text)
    assert len(store.load("bob", bob_id).turns) == 2


def test_learners_starting_the_same_scenario_at_once_do_not_collide(store, scenario_text):
    results: list[int | BaseException] = []

    def learner(name: str) -> None:
        try:
            results.append(_play(store, name, scenario_text, REPLIES[:2])[1])
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            results.append(err)

    threads = [threading.Thread(target=learner, args=(f"learner-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(result, int) for result in results), results
    assert all(len(store.load(f"learner-{i}", s.id).turns) == 2 for i in range(8) for s in store.list_sessions(f"learner-{i}"))


def test_delete_history_removes_only_that_learners_sessions_and_turns(store, scenario_text):
    _play(store, "anna", scenario_text, REPLIES[:2])
    _play(store, "anna", scenario_text, REPLIES[:1])
    _, bob_id = _play(store, "bob", scenario_text, REPLIES[:1])
    assert store.delete_history("anna") == 2
    assert store.list_sessions("anna") == []
    assert len(store.load("bob", bob_id).turns) == 1


def test_a_failed_write_leaves_nothing_half_written(store, scenario_text, monkeypatch):
    import coach.store

    session = Session(load_scenario(TELECOM), KeywordAnalyzer(), lang="en")
    session.reply(REPLIES[0])

    def fail(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(coach.store, "_summarise", fail)
    with pytest.raises(RuntimeError):
        store.record_turn("anna", session, None, scenario_text)
    monkeypatch.undo()
    assert store.list_sessions("anna") == []


def test_the_database_url_comes_from_the_environment_or_the_xdg_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(DB_ENV, "sqlite:///elsewhere.db")
    assert default_database_url() == "sqlite:///elsewhere.db"
    monkeypatch.delenv(DB_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_database_url() == f"sqlite:///{tmp_path / 'data' / 'palvelupeili' / 'palvelupeili.db'}"
    assert (tmp_path / "data" / "palvelupeili").is_dir()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_profile_name_must_be_a_usable_name(name):
    with pytest.raises(UserError):
        check_learner_name(name)
    assert check_learner_name("  Anna K.  ") == "Anna K."
