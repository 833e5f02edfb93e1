"""The Progress tab's handlers: listing, charts, reopening, continuing and deleting, per learner."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from coach.auth import Account, Accounts
from coach.labels import DIMENSIONS
from coach.ui import practice, progress
from tests.test_app_practice import SKILLED, make_app, play, start


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


def row(screen: progress.ProgressScreen, index: int) -> SimpleNamespace:
    """What Gradio passes for a click on a table cell (gr.SelectData): the clicked row's values."""
    return SimpleNamespace(index=[index, 2], row_value=screen.table.iloc[index].tolist())


def ids(screen: progress.ProgressScreen) -> list[int]:
    return screen.table["#"].tolist()


def test_the_listing_shows_this_learners_sessions_with_a_chart_per_dimension(app):
    finished = play(app, ["Okay.", *SKILLED])
    unfinished = play(app, SKILLED[:2])
    play(app, SKILLED[:1], start(app, learner="bob"))
    screen = progress.list_progress(app, "anna", None, "en")
    assert screen.summary == "Sessions: 2, finished: 1."
    assert ids(screen) == [unfinished.live.record_id, finished.live.record_id]  # newest first
    assert list(screen.table["Replies"]) == [2, len(finished.live.session.turns)]
    assert list(screen.table["Ending"]) == ["not finished", finished.live.session.report().ending["title"]]
    assert [axes.get_title() for axes in screen.chart.axes] == ["Own experience", "Others' experience", "Customer experience"]
    assert all(len(axes.lines[0].get_xdata()) == 2 for axes in screen.chart.axes)
    assert progress.list_progress(app, "bob", None, "en").summary == "Sessions: 1, finished: 0."


def test_an_empty_history_says_how_to_start_one(app):
    screen = progress.list_progress(app, "nobody", None, "fi")
    assert screen.table.empty and screen.chart is None and "Tallennettuja harjoituksia ei vielä ole" in screen.summary


def test_selecting_a_row_reopens_that_sessions_report(app):
    finished = play(app, ["Okay.", *SKILLED])
    listing = progress.list_progress(app, "anna", None, "en")
    report = progress.open_report(app, row(listing, 0), "anna", None)
    assert report.selected_id == finished.live.record_id and report.panel["visible"]
    assert finished.live.session.report().ending["title"] in report.report
    assert json.loads(Path(report.download_json["value"]).read_text()) == json.loads(
        json.dumps(finished.live.session.report().to_dict())
    )
    assert not report.resume["visible"]  # a finished session cannot be continued
    assert progress.open_report(app, SimpleNamespace(index=None, row_value=None), "anna", None).selected_id is None


def test_another_learners_session_cannot_be_opened(app):
    bobs = play(app, SKILLED[:1], start(app, learner="bob"))
    with pytest.warns(UserWarning, match="no saved session"):
        report = progress.open_report(app, SimpleNamespace(row_value=[bobs.live.record_id]), "anna", None)
    assert report.selected_id is None and not report.panel["visible"]


def test_an_unfinished_session_continues_in_practise_where_it_stopped(app):
    first = play(app, SKILLED[:2])
    listing = progress.list_progress(app, "anna", None, "en")
    report = progress.open_report(app, row(listing, 0), "anna", None)
    assert report.resume["visible"]
    *screen_values, tabs = progress.resume_session(app, report.selected_id, "anna", None, "en")
    screen = practice.PracticeScreen(*screen_values)
    assert tabs["selected"] == "practice"
    assert [t.reply for t in screen.live.session.turns] == SKILLED[:2]
    assert screen.live.session.customer_line == first.live.session.customer_line
    screen = practice.send_reply(app, screen.live, SKILLED[2], "en")
    assert screen.live.record_id == first.live.record_id
    assert [reply for reply, _ in app.store.load("anna", first.live.record_id).turns] == SKILLED[:3]


def test_deleting_history_asks_first_and_removes_only_ones_own(app):
    play(app, SKILLED[:2])
    play(app, SKILLED[:1], start(app, learner="bob"))
    confirm_row, question = progress.ask_delete(app, "anna", None, "en")
    assert confirm_row["visible"] and "saved sessions (1)" in question
    assert len(app.store.list_sessions("anna")) == 1  # asking deletes nothing
    assert progress.cancel_delete()[0]["visible"] is False
    confirm_row, message, *listing_and_report = progress.confirm_delete(app, "anna", None, "en")
    assert not confirm_row["visible"] and message == "Sessions deleted: 1."
    assert app.store.list_sessions("anna") == [] and len(app.store.list_sessions("bob")) == 1
    assert progress.ask_delete(app, "anna", None, "en")[0]["visible"] is False


def test_under_auth_progress_follows_the_signed_in_user_not_the_profile_box(app):
    play(app, SKILLED[:1], start(app, learner="bob"))
    app.accounts = Accounts({"anna": Account("anna", "learner", "scrypt$x"), "bob": Account("bob", "learner", "scrypt$x")})
    as_anna = SimpleNamespace(username="anna")
    assert progress.list_progress(app, "bob", as_anna, "en").table.empty
    assert len(progress.list_progress(app, "anna", SimpleNamespace(username="bob"), "en").table) == 1
    progress.confirm_delete(app, "bob", as_anna, "en")
    assert len(app.store.list_sessions("bob")) == 1


def test_scores_in_the_table_are_the_session_averages(app):
    screen = play(app, SKILLED[:2])
    listing = progress.list_progress(app, "anna", None, "en")
    averages = screen.live.session.report().averages
    assert [listing.table.iloc[0][name] for name in ("Own experience", "Others' experience", "Customer experience")] == [
        round(100 * averages[d]) for d in DIMENSIONS
    ]
