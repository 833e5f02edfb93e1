"""The Progress tab: the learner's past sessions, a chart per dimension, reopening and deleting.

    screen = list_progress(app, "anna", None, "en")      # summary, table, a chart per dimension over time
    report = open_report(app, SelectData-like(row_value=[7, ...]), "anna", None)   # row of session #7
    practice_screen = resume_session(app, report.selected_id, "anna", None)   # back into Practise
    ask_delete(app, "anna", None, "en"); confirm_delete(app, "anna", None, "en")
    view = build_progress_tab(app, labels, ui_lang, profile, practice_view, tabs)

Everything is read through the store with the learner's name, which under --auth is the
signed-in user taken from the request; a learner never sees another learner's sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from coach.errors import UserError
from coach.feedback import DIMENSION_NAMES
from coach.labels import DIMENSIONS
from coach.store import SessionSummary, restore_session
from coach.ui.context import AppContext, bind
from coach.ui.i18n import Relabel, t
from coach.ui.practice import LiveSession, PracticeScreen, PracticeView, empty_screen, render_screen
from coach.ui.render import report_chart_svg, report_markdown, write_downloads


class ProgressScreen(NamedTuple):
    summary: str
    table: pd.DataFrame  # its first column is the session id, which selecting a row reopens
    chart: Figure | None


class ReportScreen(NamedTuple):
    selected_id: int | None
    panel: dict
    report: str
    chart: str
    download_json: dict
    download_md: dict
    resume: dict


def list_progress(app: AppContext, profile: str | None, request: gr.Request | None, ui_lang: str = "fi") -> ProgressScreen:
    try:
        sessions = app.store.list_sessions(app.learner(profile, request))
    except UserError as err:
        gr.Warning(str(err))
        sessions = []
    columns = [t(key, ui_lang) for key in ("col_id", "col_date", "col_scenario", "col_turns", "col_ending")]
    columns += [DIMENSION_NAMES[d][ui_lang] for d in DIMENSIONS]
    rows = [
        [s.id, s.started_at.astimezone().strftime("%Y-%m-%d %H:%M"), s.title, s.turns, s.ending_title or t("unfinished", ui_lang)]
        + [round(100 * s.averages.get(d, 0.0)) for d in DIMENSIONS]
        for s in sessions
    ]  # fmt: skip
    finished = sum(s.finished for s in sessions)
    summary = t("history_count", ui_lang, count=len(sessions), finished=finished) if sessions else t("no_history", ui_lang)
    chart = progress_figure(sessions, ui_lang) if sessions else None
    return ProgressScreen(summary, pd.DataFrame(rows, columns=columns), chart)


def progress_figure(sessions: list[SessionSummary], lang: str) -> Figure:
    """One small chart per dimension: each session's average score (0-100), oldest to newest."""
    figure = Figure(figsize=(11, 2.8), layout="constrained")
    ordered = sorted(sessions, key=lambda s: s.started_at)
    for axes, d in zip(figure.subplots(1, len(DIMENSIONS), sharey=True), DIMENSIONS):
        scored = [s for s in ordered if d in s.averages]
        when = [s.started_at.astimezone() for s in scored]
        axes.plot(when, [round(100 * s.averages[d]) for s in scored], marker="o")
        # A little room either side, so a single session (or a single day's) is not spread over years.
        padding = max((max(when) - min(when)) / 20, timedelta(hours=12))
        axes.set_xlim(min(when) - padding, max(when) + padding)
        axes.set_title(DIMENSION_NAMES[d][lang])
        axes.set_ylim(-5, 105)
        axes.grid(alpha=0.3)
        # Three or four date ticks: the panels are narrow, and more labels run into each other.
        locator = AutoDateLocator(minticks=2, maxticks=4)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    figure.axes[0].set_ylabel(t("chart_score_100", lang))
    return figure


def open_report(app: AppContext, selection: gr.SelectData, profile: str | None, request: gr.Request | None) -> ReportScreen:
    """Reopen the report of the table row the learner selected (its first cell is the session id)."""
    # The row's own id, not its position: the learner may have sorted the table.
    row = selection.row_value or []
    if not row or not str(row[0]).isdigit():
        return closed_report()
    session_id = int(row[0])
    try:
        learner = app.learner(profile, request)
        session = restore_session(app.store.load(learner, session_id), app.analyzer)
    except UserError as err:
        gr.Warning(str(err))
        return closed_report()
    report = session.report()
    json_path, markdown_path = write_downloads(report, app.downloads / f"saved-{learner.encode().hex()}-{session_id}")
    return ReportScreen(
        selected_id=session_id,
        panel=gr.update(visible=True),
        report=report_markdown(report, session.rubric),
        chart=report_chart_svg(report),
        download_json=gr.update(value=json_path, visible=True),
        download_md=gr.update(value=markdown_path, visible=True),
        resume=gr.update(visible=not session.ended),
    )


def closed_report() -> ReportScreen:
    hidden = gr.update(value=None, visible=False)
    return ReportScreen(None, gr.update(visible=False), "", "", hidden, hidden, gr.update(visible=False))


def resume_session(app: AppContext, selected_id: int | None, profile: str | None, request: gr.Request | None,
                   ui_lang: str = "fi") -> tuple[Any, ...]:  # fmt: skip
    """An unfinished stored session, restored into the Practice tab (no model call for past turns)."""
    if selected_id is None:
        return (*empty_screen(t("no_session", ui_lang)), gr.update())
    try:
        learner = app.learner(profile, request)
        saved = app.store.load(learner, selected_id)
        session = restore_session(saved, app.analyzer)
    except UserError as err:
        gr.Warning(str(err))
        return (*empty_screen(str(err)), gr.update())
    live = LiveSession(session, learner, saved.scenario_text, app.downloads / f"resumed-{selected_id}", record_id=selected_id)
    screen: PracticeScreen = render_screen(live)
    return (*screen, gr.update(selected="practice"))


def ask_delete(app: AppContext, profile: str | None, request: gr.Request | None, ui_lang: str = "fi") -> tuple[dict, str]:
    """The confirmation step: nothing is deleted until the learner confirms."""
    try:
        count = len(app.store.list_sessions(app.learner(profile, request)))
    except UserError as err:
        gr.Warning(str(err))
        return gr.update(visible=False), ""
    if count == 0:
        return gr.update(visible=False), t("no_history", ui_lang)
    return gr.update(visible=True), t("delete_confirm_text", ui_lang, count=count)


def confirm_delete(app: AppContext, profile: str | None, request: gr.Request | None, ui_lang: str = "fi") -> tuple[Any, ...]:
    try:
        deleted = app.store.delete_history(app.learner(profile, request))
    except UserError as err:
        gr.Warning(str(err))
        deleted = 0
    gr.Info(t("deleted", ui_lang, count=deleted))
    return (gr.update(visible=False), t("deleted", ui_lang, count=deleted), *list_progress(app, profile, request, ui_lang),
            *closed_report())  # fmt: skip


def cancel_delete() -> tuple[dict, str]:
    return gr.update(visible=False), ""


@dataclass
class ProgressView:
    outputs: list[Any]
    tab_select_inputs: list[Any]


def build_progress_tab(app: AppContext, labels: Relabel, ui_lang: gr.State, profile: gr.Textbox,
                       practice: PracticeView, tabs: gr.Tabs) -> ProgressView:  # fmt: skip
    selected = gr.State(None)
    labels.make(gr.Markdown, {"value": "progress_intro"})
    with gr.Row():
        summary = gr.Markdown(elem_id="progress-summary")
        refresh = labels.make(gr.Button, {"value": "refresh"}, size="sm", scale=0)
    table = labels.make(gr.Dataframe, {"label": "sessions_table"}, interactive=False, wrap=True, elem_id="sessions-table")
    progress_chart = gr.Plot(show_label=False, elem_id="progress-chart")
    with gr.Column(visible=False, elem_id="saved-report") as panel:
        report = gr.Markdown(elem_id="saved-report-text")
        chart = gr.HTML()
        with gr.Row():
            download_json = labels.make(gr.DownloadButton, {"label": "download_json"}, size="sm", visible=False)
            download_md = labels.make(gr.DownloadButton, {"label": "download_md"}, size="sm", visible=False)
            resume = labels.make(gr.Button, {"value": "continue_session"}, variant="primary", size="sm", visible=False)
    with gr.Row():
        delete = labels.make(gr.Button, {"value": "delete_history"}, variant="stop", size="sm", scale=0, elem_id="delete-history")
    delete_message = gr.Markdown(elem_id="delete-message")
    with gr.Row(visible=False) as confirm_row:
        confirm = labels.make(gr.Button, {"value": "delete_yes"}, variant="stop", size="sm", elem_id="delete-yes")
        cancel = labels.make(gr.Button, {"value": "cancel"}, size="sm")

    listing = [summary, table, progress_chart]
    report_outputs = [selected, panel, report, chart, download_json, download_md, resume]
    refresh.click(bind(list_progress, app), [profile, ui_lang], listing, api_name="progress")
    table.select(bind(open_report, app), [profile], report_outputs, api_visibility="private")
    resume.click(bind(resume_session, app), [selected, profile, ui_lang], [*practice.outputs, tabs], api_visibility="private")
    delete.click(bind(ask_delete, app), [profile, ui_lang], [confirm_row, delete_message], api_visibility="private")
    cancel.click(cancel_delete, None, [confirm_row, delete_message], api_visibility="private", queue=False)
    confirm.click(bind(confirm_delete, app), [profile, ui_lang], [confirm_row, delete_message, *listing, *report_outputs],
                  api_name="delete_history")  # fmt: skip
    return ProgressView(listing, [profile, ui_lang])
