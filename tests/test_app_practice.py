"""The Practice tab's handlers as plain functions: KeywordAnalyzer, a temporary SQLite database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import OperationalError

from coach.feedback import DIMENSION_NAMES, VERDICT_NAMES
from coach.labels import DIMENSIONS
from coach.paths import REPO_ROOT
from coach.store import Store
from coach.ui import practice
from coach.ui.context import AppContext, ScenarioCatalog
from coach.ui.i18n import t
from coach.ui.render import escape_chat
from tests.fakes import SKILLED_TELECOM_REPLIES, KeywordAnalyzer

TELECOM = "telecom-technician:en"
SKILLED = SKILLED_TELECOM_REPLIES


def make_app(tmp_path: Path, analyzer=None) -> AppContext:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    for name in ("telecom-technician.yaml", "hardware-store-bounce.yaml"):
        shutil.copy(REPO_ROOT / "scenarios" / name, folder)
    return AppContext(analyzer or KeywordAnalyzer(), Store(f"sqlite:///{tmp_path / 'history.db'}"), ScenarioCatalog(folder))


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


def start(app: AppContext, choice: str = TELECOM, checkin: str | None = None, learner: str = "anna"):
    return practice.start_session(app, choice, checkin, learner, None, "en")


def play(app: AppContext, replies: list[str], screen=None):
    screen = screen or start(app)
    for reply in replies:
        if screen.live.session.ended:
            break
        screen = practice.send_reply(app, screen.live, reply, "en")
    return screen


def test_scenarios_are_filtered_by_language_and_difficulty(app):
    everything = practice.scenario_choices(app, "any", "any", "en")["choices"]
    assert [value for _, value in everything] == ["hardware-store-bounce:fi", TELECOM]
    assert practice.scenario_choices(app, "fi", "any", "en")["choices"] == [
        ("Pompottelua rautakaupassa · Finnish · medium", "hardware-store-bounce:fi")
    ]
    assert [v for _, v in practice.scenario_choices(app, "any", "hard", "fi")["choices"]] == [TELECOM]
    nothing = practice.scenario_choices(app, "en", "easy", "en", current=TELECOM)
    assert nothing["choices"] == [] and nothing["value"] is None and nothing["info"]


def test_a_filter_label_sent_while_the_language_changes_filters_like_its_value(app):
    # The browser can send a dropdown's shown label instead of its value mid-relabel (gradio #12246).
    by_value = practice.scenario_choices(app, "fi", "medium", "en")["choices"]
    assert by_value == practice.scenario_choices(app, t("lang_fi", "en"), t("difficulty_medium", "fi"), "en")["choices"]
    everything = practice.scenario_choices(app, "any", "any", "en")["choices"]
    assert practice.scenario_choices(app, t("any", "en"), t("any", "fi"), "en")["choices"] == everything
    assert practice.scenario_choices(app, "klingon", None, "en")["choices"] == everything
    assert len(by_value) < len(everything)


def test_starting_shows_the_setting_the_goals_and_the_customers_first_line(app):
    screen = start(app)
    session = screen.live.session
    assert "Setting:" in screen.briefing and "Your goals" in screen.briefing
    assert all(DIMENSION_NAMES[g.dimension]["en"] in screen.briefing for g in session.scenario.goals)
    assert screen.chat == [{"role": "assistant", "content": escape_chat(session.customer_line)}]
    assert "3 / 10" in screen.mood
    assert not screen.download_json["visible"] and not screen.report_panel["visible"]


def test_a_reply_shows_tone_mood_and_feedback_without_a_reload(app):
    screen = start(app)
    before = screen.live.session.mood
    screen = practice.send_reply(app, screen.live, "I understand, that sounds really frustrating. I'll sort it out today.", "en")
    session = screen.live.session
    turn = session.turns[-1]
    # tone as words and a number, not colour alone
    assert f"{turn.analysis.tone}" in screen.tone and f"{round(100 * turn.analysis.tone_confidence)} %" in screen.tone
    # mood as a number, a word and a bar
    assert f"{session.mood} / 10" in screen.mood and "<meter" in screen.mood and session.mood != before
    assert "▲ up" in screen.mood
    for d in DIMENSIONS:
        assert f"{DIMENSION_NAMES[d]['en']}: {VERDICT_NAMES[turn.feedback[d].verdict]['en']}." in screen.feedback
    # strengths come before the one thing to try
    assert screen.feedback.index("What went well") < screen.feedback.index("One thing to try next")
    assert "that sounds really frustrating" in screen.feedback  # the quote that triggered it
    # the customer answers from the script
    assert screen.chat[-1] == {"role": "assistant", "content": escape_chat(session.customer_line)}
    assert screen.reply["value"] == "" and screen.reply["interactive"]


def test_every_completed_turn_is_stored_as_it_happens(app):
    screen = play(app, SKILLED[:2])
    saved = app.store.load("anna", screen.live.record_id)
    assert [reply for reply, _ in saved.turns] == SKILLED[:2]
    assert saved.turns[1][1] == screen.live.session.turns[1].analysis.to_record()


def test_undo_takes_back_the_reply_and_its_stored_turn(app):
    screen = play(app, SKILLED[:2])
    line_before = screen.live.session.turns[-1].customer_line
    screen = practice.undo_reply(app, screen.live, "en")
    assert len(screen.live.session.turns) == 1
    assert screen.chat[-1]["content"] == escape_chat(line_before)
    assert len(app.store.load("anna", screen.live.record_id).turns) == 1
    screen = practice.undo_reply(app, screen.live, "en")
    with pytest.warns(UserWarning, match="no reply to undo"):
        screen = practice.undo_reply(app, screen.live, "en")
    assert "no reply to undo" in screen.notice


def test_restart_begins_again_and_keeps_the_earlier_attempt_in_history(app):
    screen = play(app, SKILLED[:2])
    first_id = screen.live.record_id
    screen = practice.restart_session(app, screen.live, "calm", "en")
    assert screen.live.session.turns == [] and len(screen.chat) == 1 and screen.live.record_id is None
    screen = practice.send_reply(app, screen.live, SKILLED[0], "en")
    assert screen.live.record_id != first_id
    assert [s.turns for s in app.store.list_sessions("anna")] == [1, 2]
    assert app.store.load("anna", screen.live.record_id).checkin == "calm"


def test_the_ending_brings_the_report_chart_and_downloads(app):
    screen = play(app, ["Okay.", *SKILLED])
    session = screen.live.session
    assert session.ended
    assert screen.report_panel["visible"] and not screen.reply["interactive"]
    report = session.report()
    assert report.ending["title"] in screen.report
    for d in DIMENSIONS:
        assert f"| {DIMENSION_NAMES[d]['en']} | {round(100 * report.averages[d])} |" in screen.report
    assert screen.report.index("Strengths") < screen.report.index("Practise next")
    assert "Model answers for your weakest replies" in screen.report
    chart = screen.report_chart
    assert chart.startswith("<svg") and 'role="img"' in chart and "customer's mood (0–10)" in chart
    assert chart.count('class="pp-chart-mood"') == 1 and all(f'class="pp-chart-{d}"' in chart for d in DIMENSIONS)
    # one mood point per step (start + each reply), and the tone read at each reply as text
    assert chart.count("<circle") >= len(report.mood_curve) and f"{round(100 * report.tone_curve[0]['confidence'])} %" in chart
    assert json.loads(Path(screen.download_json["value"]).read_text()) == json.loads(json.dumps(report.to_dict()))
    assert Path(screen.download_md["value"]).read_text() == report.to_markdown()
    assert "Ending:" in screen.chat[-1]["content"]
    with pytest.warns(UserWarning, match="has ended"):
        after = practice.send_reply(app, screen.live, "Hello?", "en")
    assert len(after.live.session.turns) == len(session.turns)


def test_the_transcript_can_be_downloaded_mid_session(app):
    screen = play(app, SKILLED[:2])
    data = json.loads(Path(screen.download_json["value"]).read_text())
    assert [t["reply"] for t in data["turns"]] == SKILLED[:2] and data["ending"] is None
    assert "> " + SKILLED[0] in Path(screen.download_md["value"]).read_text()


def test_check_in_counts_before_the_first_reply_and_reflection_after_the_end(app):
    screen = start(app, checkin="stressed")
    live = practice.set_checkin(screen.live, "tired")
    screen = practice.send_reply(app, live, SKILLED[0], "en")
    assert not screen.checkin["interactive"] and screen.checkin["value"] == "tired"
    practice.set_checkin(screen.live, "calm")  # too late: the first reply is in
    assert screen.live.session.checkin == "tired"
    screen = play(app, SKILLED, screen)
    screen = practice.save_reflection(app, screen.live, "My stomach tightened <b>", "Ask before explaining", "en")
    reflection = screen.live.session.reflection
    assert reflection == {"What did I feel at the hardest moment?": "My stomach tightened <b>",
                          "What would I choose differently?": "Ask before explaining"}  # fmt: skip
    assert screen.notice == "**Reflection saved\\.**"
    # the learner's own view beside the coach's reading, learner text escaped
    assert "| Your view | The coach's reading |" in screen.report
    assert "You arrived: tired" in screen.report and "My stomach tightened &lt;b&gt;" in screen.report
    assert "Tone read most often" in screen.report
    assert screen.reflection_felt == "My stomach tightened <b>"
    stored = app.store.load("anna", screen.live.record_id)
    assert stored.reflection == reflection and stored.checkin == "tired"
    assert json.loads(Path(screen.download_json["value"]).read_text())["reflection"] == reflection


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty reply"), ("   \n\t", "empty reply"), (None, "empty reply"), ("x" * 10_001, "10001 characters")],
)
def test_refused_input_gives_a_clear_message_and_changes_nothing(app, text, message):
    screen = play(app, SKILLED[:1])
    with pytest.warns(UserWarning, match=message):
        refused = practice.send_reply(app, screen.live, text, "en")
    assert message in refused.notice.replace("\\", "")
    assert len(refused.live.session.turns) == 1
    assert "value" not in refused.reply  # the text stays in the box to be fixed
    assert len(app.store.load("anna", screen.live.record_id).turns) == 1


def test_markup_and_emoji_are_shown_as_text(app):
    reply = "<script>alert('x')</script> <img src=x onerror=alert(1)> **bold** [link](javascript:alert(1)) 😡 I understand."
    screen = practice.send_reply(app, start(app).live, reply, "en")
    learner_message = screen.chat[1]
    assert learner_message["role"] == "user"
    assert "<script>" not in learner_message["content"] and "&lt;script&gt;" in learner_message["content"]
    assert "😡" in learner_message["content"]
    for text in (screen.feedback, screen.tone):
        assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;" in screen.feedback and "\\*\\*bold\\*\\*" in screen.feedback
    assert screen.live.session.turns[0].reply == reply  # the engine keeps what was written


def test_a_failed_save_takes_the_turn_back(app, monkeypatch):
    screen = start(app)

    def database_down(*_args):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(app.store, "record_turn", database_down)
    with pytest.warns(UserWarning, match="could not be saved"):
        screen = practice.send_reply(app, screen.live, SKILLED[0], "en")
    assert screen.live.session.turns == [] and "value" not in screen.reply


def test_handlers_without_a_session_ask_for_a_scenario(app):
    with pytest.warns(UserWarning, match="Choose a scenario"):
        screen = practice.send_reply(app, None, "hello", "en")
    assert screen.live is None and "Choose a scenario" in screen.notice
    assert practice.start_session(app, None, None, "anna", None, "en").live is None
    with pytest.warns(UserWarning, match="profile name"):
        assert practice.start_session(app, TELECOM, None, "   ", None, "en").live is None


def test_a_finnish_scenario_is_coached_in_finnish(app):
    screen = start(app, "hardware-store-bounce:fi")
    screen = practice.send_reply(app, screen.live, "Ei kuulu meille, kysy infosta.", "en")
    assert "Asiakaskokemus: harjoiteltavaa." in screen.feedback
    assert "Mikä onnistui" in screen.feedback and "Asiakkaan mieliala" in screen.mood
    assert "Valmentajan lukema sävy" in screen.tone


def test_under_auth_the_learner_is_the_signed_in_user(tmp_path):
    from coach.auth import Account, Accounts

    app = make_app(tmp_path)
    app.accounts = Accounts({"anna": Account("anna", "learner", "scrypt$x")})
    screen = practice.start_session(app, TELECOM, None, "mallory", SimpleNamespace(username="anna"), "en")
    screen = practice.send_reply(app, screen.live, SKILLED[0], "en")
    assert [s.id for s in app.store.list_sessions("anna")] == [screen.live.record_id]
    assert app.store.list_sessions("mallory") == []
    with pytest.warns(UserWarning, match="Sign in"):
        assert practice.start_session(app, TELECOM, None, "anna", None, "en").live is None


def test_a_failed_undo_keeps_the_turn_on_the_page_as_in_the_store(app, monkeypatch):
    screen = play(app, SKILLED[:2])

    def database_down(*_args):
        raise OperationalError("DELETE", {}, Exception("database is locked"))

    monkeypatch.setattr(app.store, "sync_turns", database_down)
    with pytest.warns(UserWarning, match="could not be saved"):
        screen = practice.undo_reply(app, screen.live, "en")
    assert [t.reply for t in screen.live.session.turns] == SKILLED[:2]
    assert len(app.store.load("anna", screen.live.record_id).turns) == 2


def test_after_the_history_is_deleted_the_open_session_is_stored_anew(app):
    screen = play(app, SKILLED[:2])
    app.store.delete_history("anna")
    screen = practice.send_reply(app, screen.live, SKILLED[2], "en")
    assert screen.notice == ""
    assert [reply for reply, _ in app.store.load("anna", screen.live.record_id).turns] == SKILLED[:3]
