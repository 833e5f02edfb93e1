"""The Practice tab: choose a scenario, check in, talk with the customer, read the coach, see the report.

    screen = start_session(app, "telecom-technician:en", "tired", "anna", None)
    screen = send_reply(app, screen.live, "I'm sorry, I'll sort it out today.")
    screen.tone, screen.mood, screen.feedback      # what the page shows after the reply
    screen = undo_reply(app, screen.live); screen = restart_session(app, screen.live, None)
    screen = save_reflection(app, screen.live, "tense", "ask first")
    view = build_practice_tab(app, labels, ui_lang, profile)     # inside gr.Blocks

Every handler returns a ``PracticeScreen``: the whole panel rendered from the engine's state,
never from widget values. Each completed turn is written to the store before the screen is
returned; if that write fails the turn is taken back, so the page never shows a turn that is
not saved.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from coach.errors import UserError
from coach.labels import LANGUAGES
from coach.scenario import DIFFICULTY_NAMES
from coach.session import MAX_REPLY_CHARS, Session
from coach.ui.context import AppContext, bind
from coach.ui.i18n import DEFAULT_LANGUAGE, Relabel, checkin_choices, language_choices, t
from coach.ui.render import (
    briefing_markdown,
    chat_messages,
    escape_markdown,
    feedback_markdown,
    mood_meter_html,
    report_chart_svg,
    report_markdown,
    tone_markdown,
    write_downloads,
)

ANY = "any"
MAX_REFLECTION_CHARS = 2000
# Replies in flight at once; the model itself runs one batch at a time (coach/ui/batching.py), so
# rendering and saving other learners' turns overlap with it.
REPLY_CONCURRENCY = 4


@dataclass
class LiveSession:
    """One learner's session in the page: the engine's Session plus where it is stored."""

    session: Session
    learner: str
    scenario_text: str
    downloads: Path
    record_id: int | None = None


class PracticeScreen(NamedTuple):
    live: LiveSession | None
    chat: list[dict]
    briefing: str
    tone: str
    mood: str
    feedback: str
    notice: str
    reply: dict
    checkin: dict
    download_json: dict
    download_md: dict
    report_panel: dict
    report: str
    report_chart: str
    reflection_felt: str
    reflection_differently: str


# ------------------------------------------------------------------ handlers


def scenario_choices(app: AppContext, language: str | None, difficulty: str | None, ui_lang: str,
                     current: str | None = None) -> dict:  # fmt: skip
    """The scenario dropdown: one entry per scenario and language, filtered; keeps a choice still offered."""
    language = filter_value(language, language_filter_choices)
    difficulty = filter_value(difficulty, difficulty_filter_choices)
    choices = []
    for entry in app.catalog.entries():
        scenario = entry.scenario
        if difficulty not in (None, ANY) and DIFFICULTY_NAMES[scenario.difficulty] != difficulty:
            continue
        for lang in scenario.languages:
            if language in (None, ANY) or lang == language:
                label = (f"{scenario.text(scenario.title, lang)} · {t(f'lang_{lang}', ui_lang)} · "
                         f"{t(f'difficulty_{DIFFICULTY_NAMES[scenario.difficulty]}', ui_lang)}")  # fmt: skip
                choices.append((label, f"{scenario.id}:{lang}"))
    values = [value for _, value in choices]
    return gr.update(choices=choices, value=current if current in values else None,
                     info=None if choices else t("no_scenarios", ui_lang))  # fmt: skip


def start_session(app: AppContext, choice: str | None, checkin: str | None, profile: str | None,
                  request: gr.Request | None, ui_lang: str = "fi") -> PracticeScreen:  # fmt: skip
    if not choice:
        return empty_screen(t("no_session", ui_lang))
    scenario_id, _, lang = choice.partition(":")  # choices are "<scenario id>:<language>"
    try:
        entry = app.catalog.get(scenario_id)
        learner = app.learner(profile, request)
    except UserError as err:
        return empty_screen(_warn(str(err)))
    session = Session(entry.scenario, app.analyzer, lang=lang, seed=secrets.randbelow(1_000_000), checkin=checkin or None)
    return render_screen(LiveSession(session, learner, entry.text, app.downloads / uuid.uuid4().hex))


def set_checkin(live: LiveSession | None, checkin: str | None) -> LiveSession | None:
    """The one-tap check-in counts only before the first reply."""
    if live is not None and not live.session.turns:
        live.session.checkin = checkin or None
    return live


def send_reply(app: AppContext, live: LiveSession | None, text: str | None, ui_lang: str = "fi") -> PracticeScreen:
    if live is None:
        return empty_screen(_warn(t("no_session", ui_lang)))
    session = live.session
    try:
        session.reply(text)
    except UserError as err:
        return render_screen(live, notice=_warn(refusal_text(err, text, session)), keep_reply=True)
    try:
        try:
            live.record_id = app.store.record_turn(live.learner, session, live.record_id, live.scenario_text)
        except UserError:
            # The stored session is gone (history deleted in another tab): store this one anew, whole.
            live.record_id = app.store.record_turn(live.learner, session, None, live.scenario_text)
    except (SQLAlchemyError, UserError) as err:
        session.undo()
        return render_screen(live, notice=_warn(t("not_saved", session.lang, error=type(err).__name__)), keep_reply=True)
    return render_screen(live)


def undo_reply(app: AppContext, live: LiveSession | None, ui_lang: str = "fi") -> PracticeScreen:
    if live is None:
        return empty_screen(_warn(t("no_session", ui_lang)))
    session = live.session
    undone = session.undo()
    if undone is None:
        return render_screen(live, notice=_warn(t("nothing_to_undo", session.lang)))
    if live.record_id is not None:
        try:
            app.store.sync_turns(live.learner, live.record_id, session)
        except UserError:
            live.record_id = None  # the stored session is gone (history deleted): nothing left to take back
        except SQLAlchemyError as err:
            # The stored turn is still there, so the page keeps it too (replaying it calls no model).
            session.apply(undone.reply, undone.analysis)
            return render_screen(live, notice=_warn(t("not_saved", session.lang, error=type(err).__name__)))
    return render_screen(live)


def restart_session(app: AppContext, live: LiveSession | None, checkin: str | None, ui_lang: str = "fi") -> PracticeScreen:
    """Start the same scenario again; the attempt so far stays in the learner's history."""
    if live is None:
        return empty_screen(_warn(t("no_session", ui_lang)))
    live.session.restart()
    live.session.checkin = checkin or None
    live.record_id = None
    return render_screen(live)


def save_reflection(app: AppContext, live: LiveSession | None, felt: str | None, differently: str | None,
                    ui_lang: str = "fi") -> PracticeScreen:  # fmt: skip
    if live is None:
        return empty_screen(_warn(t("no_session", ui_lang)))
    lang = live.session.lang
    answers = {t("reflection_felt", lang): (felt or "").strip(), t("reflection_differently", lang): (differently or "").strip()}
    if any(len(answer) > MAX_REFLECTION_CHARS for answer in answers.values()):
        return render_screen(live, notice=_warn(t("reflection_too_long", lang, limit=MAX_REFLECTION_CHARS)))
    live.session.reflection = {question: answer for question, answer in answers.items() if answer}
    if live.record_id is not None:
        try:
            app.store.save_reflection(live.learner, live.record_id, live.session.reflection)
        except (SQLAlchemyError, UserError) as err:
            return render_screen(live, notice=_warn(t("not_saved", lang, error=type(err).__name__)))
    return render_screen(live, notice=t("reflection_saved", lang))


# ------------------------------------------------------------------ rendering


def refusal_text(err: UserError, text: str | None, session: Session) -> str:
    """Why the engine refused a reply, in the session's language (the engine's own words otherwise)."""
    lang = session.lang
    if session.ended:
        return t("refused_ended", lang)
    if not isinstance(text, str) or not text.strip():
        return t("refused_empty", lang)
    if len(text) > MAX_REPLY_CHARS:
        return t("refused_long", lang, length=len(text), limit=MAX_REPLY_CHARS)
    return str(err)


def render_screen(live: LiveSession, notice: str = "", keep_reply: bool = False) -> PracticeScreen:
    session, lang = live.session, live.session.lang
    report = session.report() if session.turns else None
    json_path, markdown_path = write_downloads(report, live.downloads) if report else (None, None)
    ended = session.ended
    return PracticeScreen(
        live=live,
        chat=chat_messages(session),
        briefing=briefing_markdown(session.scenario, lang),
        tone=tone_markdown(session.turns[-1] if session.turns else None, lang),
        mood=mood_meter_html(session, lang),
        feedback=feedback_markdown(session) or t("coach_waiting", lang),
        notice=_notice_markdown(notice),
        # A refused reply stays in the box so it can be shortened or finished.
        reply=gr.update(interactive=not ended) if keep_reply else gr.update(value="", interactive=not ended),
        checkin=gr.update(value=session.checkin, interactive=not session.turns),
        download_json=gr.update(value=json_path, visible=report is not None),
        download_md=gr.update(value=markdown_path, visible=report is not None),
        report_panel=gr.update(visible=ended),
        report=report_markdown(report, session.rubric) if ended else "",
        report_chart=report_chart_svg(report) if ended else "",
        reflection_felt=session.reflection.get(t("reflection_felt", lang), ""),
        reflection_differently=session.reflection.get(t("reflection_differently", lang), ""),
    )


def empty_screen(notice: str = "") -> PracticeScreen:
    return PracticeScreen(
        live=None, chat=[], briefing="", tone="", mood="", feedback="", notice=_notice_markdown(notice),
        reply=gr.update(value=""), checkin=gr.update(interactive=True), download_json=gr.update(value=None, visible=False),
        download_md=gr.update(value=None, visible=False), report_panel=gr.update(visible=False), report="",
        report_chart="", reflection_felt="", reflection_differently="",
    )  # fmt: skip


def _notice_markdown(notice: str) -> str:
    return f"**{escape_markdown(notice)}**" if notice else ""


def _warn(text: str) -> str:
    gr.Warning(text)
    return text


# ------------------------------------------------------------------ layout


@dataclass
class PracticeView:
    """The components other parts of the page need: ``outputs`` in PracticeScreen order, and the filters."""

    outputs: list[Any]
    scenario: gr.Dropdown
    language_filter: gr.Dropdown
    difficulty_filter: gr.Dropdown


def language_filter_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("any", lang), ANY), *language_choices(lang)]


def difficulty_filter_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("any", lang), ANY)] + [(t(f"difficulty_{d}", lang), d) for d in DIFFICULTY_NAMES.values()]


def filter_value(value: str | None, choices_for: Callable[[str], list[tuple[str, str]]]) -> str:
    """A filter's value from what the browser sent: the value itself, or, while the interface language
    changes, the shown label in either language (the browser can send a label for a moment, gradio
    issue #12246); anything else filters nothing."""
    for lang in LANGUAGES:
        for label, option in choices_for(lang):
            if value in (option, label):
                return option
    return ANY


def build_practice_tab(app: AppContext, labels: Relabel, ui_lang: gr.State, profile: gr.Textbox) -> PracticeView:
    live = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                # Custom values pass so that a label sent while the language changes is mapped (filter_value),
                # not refused with an error in place of the dropdown.
                language_filter = labels.make(gr.Dropdown, {"label": "filter_language"}, value=ANY, allow_custom_value=True,
                                              computed={"choices": language_filter_choices})  # fmt: skip
                difficulty_filter = labels.make(gr.Dropdown, {"label": "filter_difficulty"}, value=ANY, allow_custom_value=True,
                                                computed={"choices": difficulty_filter_choices})  # fmt: skip
                # Custom values pass: the list changes when trainers save, and start_session checks every choice.
                scenario = labels.make(gr.Dropdown, {"label": "scenario_label"}, scale=2, allow_custom_value=True,
                                       elem_id="scenario-choice",
                                       choices=scenario_choices(app, ANY, ANY, DEFAULT_LANGUAGE)["choices"])  # fmt: skip
            briefing = labels.make(gr.Markdown, {"value": "choose_scenario_hint"}, elem_id="briefing")
            checkin = labels.make(gr.Radio, {"label": "checkin_label", "info": "checkin_info"}, computed={"choices": checkin_choices},
                                  elem_id="checkin")  # fmt: skip
            chat = labels.make(gr.Chatbot, {"label": "chat_label"}, height=420, elem_id="chat",
                               # Learner text is escaped before it gets here and must stay plain text.
                               render_markdown=False, sanitize_html=True, allow_tags=False,
                               feedback_options=None, buttons=["copy_all"], layout="bubble")  # fmt: skip
            with gr.Row(equal_height=True):
                reply = labels.make(gr.Textbox, {"label": "reply_label", "placeholder": "reply_hint"}, lines=1, max_lines=6,
                                    scale=5, elem_id="reply")  # fmt: skip
                send_button = labels.make(gr.Button, {"value": "send"}, variant="primary", scale=1, elem_id="send")
            notice = gr.Markdown(elem_id="practice-notice")
            with gr.Row():
                undo = labels.make(gr.Button, {"value": "undo"}, size="sm", elem_id="undo")
                restart = labels.make(gr.Button, {"value": "restart"}, size="sm", elem_id="restart")
                download_json = labels.make(gr.DownloadButton, {"label": "download_json"}, size="sm", visible=False,
                                            elem_id="download-json")  # fmt: skip
                download_md = labels.make(gr.DownloadButton, {"label": "download_md"}, size="sm", visible=False,
                                          elem_id="download-md")  # fmt: skip
        with gr.Column(scale=2):
            labels.make(gr.Markdown, {"value": "coach_heading"})
            tone = gr.Markdown(elem_id="tone")
            mood = gr.HTML(elem_id="mood-meter")
            feedback = labels.make(gr.Markdown, {"value": "coach_waiting"}, elem_id="feedback")
    with gr.Column(visible=False, elem_id="report-panel") as report_panel:
        report = gr.Markdown(elem_id="report")
        report_chart = gr.HTML(elem_id="report-chart")
        labels.make(gr.Markdown, {"value": "reflection_heading"})
        with gr.Row():
            felt = labels.make(gr.Textbox, {"label": "reflection_felt"}, lines=2, max_lines=6, max_length=MAX_REFLECTION_CHARS,
                               elem_id="reflection-felt")  # fmt: skip
            differently = labels.make(gr.Textbox, {"label": "reflection_differently"}, lines=2, max_lines=6,
                                      max_length=MAX_REFLECTION_CHARS, elem_id="reflection-differently")  # fmt: skip
        save = labels.make(gr.Button, {"value": "save_reflection"}, elem_id="save-reflection")

    outputs = [live, chat, briefing, tone, mood, feedback, notice, reply, checkin, download_json, download_md,
               report_panel, report, report_chart, felt, differently]  # fmt: skip

    for control in (language_filter, difficulty_filter):
        control.change(bind(scenario_choices, app), [language_filter, difficulty_filter, ui_lang, scenario], scenario,
                       api_visibility="private", queue=False)  # fmt: skip
    scenario.input(bind(start_session, app), [scenario, checkin, profile, ui_lang], outputs, api_name="start")
    checkin.input(set_checkin, [live, checkin], live, api_visibility="private", queue=False)
    send = dict(fn=bind(send_reply, app), inputs=[live, reply, ui_lang], outputs=outputs, api_name="reply",
                concurrency_id="reply", concurrency_limit=REPLY_CONCURRENCY, trigger_mode="once")  # fmt: skip
    reply.submit(**send)
    send_button.click(**{**send, "api_name": None, "api_visibility": "private"})
    undo.click(bind(undo_reply, app), [live, ui_lang], outputs, api_name="undo")
    restart.click(bind(restart_session, app), [live, checkin, ui_lang], outputs, api_name="restart")
    save.click(bind(save_reflection, app), [live, felt, differently, ui_lang], outputs, api_name="reflect")
    return PracticeView(outputs, scenario, language_filter, difficulty_filter)

