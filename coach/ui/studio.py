"""The Scenario studio tab (trainers): edit or upload a scenario, check it live, see its graph, test-play, save.

    check = check_text(yaml_text, "en")        # status, problems with line numbers, Mermaid graph, branch table
    text, *check = load_upload("/tmp/upload.yaml", "en")
    message = save_scenario(app, yaml_text, request, "en")   # trainers only under --auth
    play = start_test_play(app, yaml_text, "en"); play = test_play_reply(app, play.state, "Sorry!")
    path, backup = write_scenario(folder, scenario_id, text)  # backup of the old file, then an atomic write

Saving writes ``<id>.yaml`` in the scenarios folder (or the file that already holds that id).
Only a scenario without problems is saved, and a file that exists is first copied to
``backups/<id>.<timestamp>.yaml``. Test-play uses the app's own analyzer and stores nothing.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd

from coach.commands.scenarios import starter_scenario
from coach.errors import UserError
from coach.files import write_atomically
from coach.scenario import CheckResult, Scenario, check_scenario_text
from coach.session import Session
from coach.ui.context import AppContext, bind
from coach.ui.i18n import I18N, Relabel, t
from coach.ui.practice import REPLY_CONCURRENCY, refusal_text
from coach.ui.render import chat_messages, escape_markdown, feedback_markdown, mood_meter_html, tone_markdown
from coach.yamlsafe import MAX_FILE_BYTES

UPLOAD_SUFFIXES = (".yaml", ".yml")
BACKUP_FOLDER = "backups"


class StudioCheck(NamedTuple):
    status: str
    problems: pd.DataFrame
    graph: str
    branches: str


class PlaytestScreen(NamedTuple):
    state: Session | None
    chat: list[dict]
    coach: str
    notice: str
    reply: dict


# ------------------------------------------------------------------ checking


def check_text(text: str | None, ui_lang: str = "fi") -> StudioCheck:
    columns = [t(key, ui_lang) for key in ("col_line", "col_column", "col_field", "col_message")]
    if not (text or "").strip():
        return StudioCheck(t("studio_empty", ui_lang), pd.DataFrame([], columns=columns), "", "")
    result = check_scenario_text(text, file="scenario.yaml")
    rows = [[p.line, p.column, p.path, p.message] for p in result.problems]
    if result.scenario is None:
        return StudioCheck(t("studio_invalid", ui_lang, count=len(rows)), pd.DataFrame(rows, columns=columns), "", "")
    scenario = result.scenario
    status = t("studio_valid", ui_lang, beats=len(scenario.beats), endings=len(scenario.endings),
               languages=", ".join(scenario.languages))  # fmt: skip
    return StudioCheck(status, pd.DataFrame(rows, columns=columns), beat_graph_markdown(scenario), branches_markdown(scenario))


def beat_graph_markdown(scenario: Scenario) -> str:
    """The scenario as a Mermaid flowchart; each arrow is labelled with its branch number and mood change."""
    nodes = {node_id: f"n{index}" for index, node_id in enumerate([b.id for b in scenario.beats] + [e.id for e in scenario.endings])}
    lines = ["```mermaid", "flowchart TD"]
    # Ids are drawn as labels, never used as Mermaid node names (a beat called "end" would break the chart).
    lines += [f'  {nodes[b.id]}["{b.id}"]' for b in scenario.beats]
    lines += [f'  {nodes[e.id]}(["{e.id} · {e.kind}"])' for e in scenario.endings]
    lines.append(f"  start((start)) --> {nodes[scenario.start_id]}")
    walk_out = scenario.persona.walks_out
    for beat in scenario.beats:
        for index, branch in enumerate(beat.branches, start=1):
            lines.append(f'  {nodes[beat.id]} -->|"{index} · {branch.mood:+d}"| {nodes[branch.next]}')
        if walk_out is not None and any(branch.mood < 0 for branch in beat.branches):
            lines.append(f'  {nodes[beat.id]} -.->|"≤ {walk_out.at_or_below}"| {nodes[walk_out.ending]}')
    return "\n".join(lines + ["```"])


def branches_markdown(scenario: Scenario) -> str:
    """Each arrow of the graph as a table row: beat, branch number, condition, mood change, next."""
    table = ["| beat | # | when | mood | next |", "|---|---|---|---|---|"]
    for beat in scenario.beats:
        for index, branch in enumerate(beat.branches, start=1):
            condition = escape_markdown(branch.describe().replace(">=", "≥").replace("<=", "≤"))
            table.append(f"| {escape_markdown(beat.id)} | {index} | {condition} | {branch.mood:+d} | {escape_markdown(branch.next)} |")
    walk_out = scenario.persona.walks_out
    if walk_out is not None:
        table.append(f"| \\* | – | mood ≤ {walk_out.at_or_below} after a drop (walks out) | – | {escape_markdown(walk_out.ending)} |")
    return "\n".join(table)


def load_upload(path: str | None, ui_lang: str = "fi") -> tuple[Any, ...]:
    """An uploaded file into the editor: .yaml only, at most 512 KB, UTF-8."""
    if not path:
        return (gr.update(), *check_text(None, ui_lang))
    file = Path(path)
    problem = None
    if file.suffix.lower() not in UPLOAD_SUFFIXES:
        problem = t("studio_upload_type", ui_lang)
    elif file.stat().st_size > MAX_FILE_BYTES:
        problem = t("studio_upload_size", ui_lang, size=file.stat().st_size // 1024, limit=MAX_FILE_BYTES // 1024)
    else:
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            problem = t("studio_upload_encoding", ui_lang)
    if problem is not None:
        gr.Warning(problem)
        return (gr.update(), *check_text(None, ui_lang)._replace(status=problem))
    return (text, *check_text(text, ui_lang))


def open_saved(app: AppContext, scenario_id: str | None, ui_lang: str = "fi") -> tuple[Any, ...]:
    if not scenario_id:
        return (gr.update(), *check_text(None, ui_lang))
    try:
        text = app.catalog.get(scenario_id).text
    except UserError as err:
        gr.Warning(str(err))
        return (gr.update(), *check_text(None, ui_lang))
    return (text, *check_text(text, ui_lang))


def new_from_template(ui_lang: str = "fi") -> tuple[Any, ...]:
    text = starter_scenario([ui_lang], "my-scenario", "./schema.json", "my-scenario.yaml")
    return (text, *check_text(text, ui_lang))


def saved_choices(app: AppContext) -> dict:
    return gr.update(choices=[(f"{e.scenario.text(e.scenario.title)} ({e.path.name})", e.scenario.id) for e in app.catalog.entries()])


# ------------------------------------------------------------------ saving


def save_scenario(app: AppContext, text: str | None, request: gr.Request | None, ui_lang: str = "fi") -> tuple[str, dict]:
    """Save a valid scenario (trainers only under --auth); returns the message and the refreshed saved list."""
    if not app.may_save_scenarios(request):
        return _warn(t("studio_trainers_only", ui_lang)), gr.update()
    result: CheckResult = check_scenario_text(text or "", file="scenario.yaml")
    if result.scenario is None:
        return _warn(t("studio_not_saved_invalid", ui_lang, count=len(result.problems))), gr.update()
    existing = next((e.path for e in app.catalog.entries() if e.scenario.id == result.scenario.id), None)
    target, backup = write_scenario(app.catalog.folder, result.scenario.id, text, existing)
    message = t("studio_saved", ui_lang, file=target.name)
    if backup is not None:
        message += " " + t("studio_backup", ui_lang, backup=f"{BACKUP_FOLDER}/{backup.name}")
    gr.Info(message)
    return message, saved_choices(app)


def write_scenario(folder: Path, scenario_id: str, text: str, existing: Path | None = None) -> tuple[Path, Path | None]:
    """Write ``text`` to ``existing`` or ``folder/<id>.yaml``; an old file is first copied to backups/."""
    target = existing or folder / f"{scenario_id}.yaml"
    backup = None
    if target.exists():
        backups = folder / BACKUP_FOLDER
        backups.mkdir(exist_ok=True)
        backup = backups / f"{target.stem}.{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}{target.suffix}"
        shutil.copy2(target, backup)
    # Renamed into place, so the practice tab never reads a half-written file.
    write_atomically(target, text)
    return target, backup


# ------------------------------------------------------------------ test-play


def start_test_play(app: AppContext, text: str | None, ui_lang: str = "fi") -> PlaytestScreen:
    result = check_scenario_text(text or "", file="scenario.yaml")
    if result.scenario is None:
        return PlaytestScreen(None, [], "", _warn(t("studio_invalid", ui_lang, count=len(result.problems))), gr.update(value=""))
    lang = ui_lang if ui_lang in result.scenario.languages else result.scenario.default_language
    return _test_screen(Session(result.scenario, app.analyzer, lang=lang))


def test_play_reply(app: AppContext, session: Session | None, text: str | None, ui_lang: str = "fi") -> PlaytestScreen:
    if session is None:
        return PlaytestScreen(None, [], "", _warn(t("no_session", ui_lang)), gr.update())
    try:
        session.reply(text)
    except UserError as err:
        return _test_screen(session, _warn(refusal_text(err, text, session)), keep_reply=True)
    return _test_screen(session)


def _test_screen(session: Session, notice: str = "", keep_reply: bool = False) -> PlaytestScreen:
    last = session.turns[-1] if session.turns else None
    coach = "\n\n".join(part for part in (tone_markdown(last, session.lang), mood_meter_html(session, session.lang),
                                          feedback_markdown(session)) if part)  # fmt: skip
    reply = gr.update(interactive=not session.ended) if keep_reply else gr.update(value="", interactive=not session.ended)
    return PlaytestScreen(session, chat_messages(session), coach, notice, reply)


def _warn(text: str) -> str:
    gr.Warning(text)
    return text


# ------------------------------------------------------------------ layout


def build_studio_tab(app: AppContext, labels: Relabel, ui_lang: gr.State) -> tuple[gr.Button, gr.Dropdown]:
    """The studio's components and events; returns the save button (disabled for learners) and the saved list."""
    labels.make(gr.Markdown, {"value": "studio_intro"})
    with gr.Row():
        saved = labels.make(gr.Dropdown, {"label": "studio_open"}, choices=[], scale=2, elem_id="studio-open")
        new = labels.make(gr.Button, {"value": "studio_new"}, size="sm", scale=1)
        upload = labels.make(gr.UploadButton, {"label": "studio_upload"}, file_types=list(UPLOAD_SUFFIXES), size="sm", scale=1,
                             elem_id="studio-upload")  # fmt: skip
    play_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            editor = labels.make(gr.Code, {"label": "studio_editor"}, language="yaml", lines=28, max_lines=40,
                                 interactive=True, elem_id="studio-editor")  # fmt: skip
            status = gr.Markdown(elem_id="studio-status")
            problems = labels.make(gr.Dataframe, {"label": "studio_problems"}, interactive=False, wrap=True,
                                   elem_id="studio-problems")  # fmt: skip
            save = labels.make(gr.Button, {"value": "studio_save"}, variant="primary", elem_id="studio-save")
            saved_message = gr.Markdown(elem_id="studio-saved")
        with gr.Column(scale=2):
            labels.make(gr.Markdown, {"value": "studio_test"})
            start = labels.make(gr.Button, {"value": "studio_test_start"}, size="sm", elem_id="studio-test-start")
            chat = gr.Chatbot(height=320, render_markdown=False, sanitize_html=True, allow_tags=False, feedback_options=None,
                              show_label=False, layout="bubble", elem_id="studio-chat")  # fmt: skip
            reply = labels.make(gr.Textbox, {"label": "reply_label", "placeholder": "reply_hint"}, lines=1, max_lines=6,
                                elem_id="studio-reply")  # fmt: skip
            notice = gr.Markdown()
            coach = gr.Markdown(elem_id="studio-coach")
    labels.make(gr.Markdown, {"value": "studio_graph"})
    graph = gr.Markdown(elem_id="studio-graph")
    with labels.add(gr.Accordion(I18N("studio_branches"), open=False), {"label": "studio_branches"}):
        branches = gr.Markdown(elem_id="studio-branches")

    checked = [status, problems, graph, branches]
    # "always_last": while a trainer types, only the newest text is checked.
    editor.change(check_text, [editor, ui_lang], checked, trigger_mode="always_last", api_name="check_scenario")
    upload.upload(load_upload, [upload, ui_lang], [editor, *checked], api_visibility="private")
    saved.input(bind(open_saved, app), [saved, ui_lang], [editor, *checked], api_visibility="private")
    new.click(new_from_template, [ui_lang], [editor, *checked], api_visibility="private")
    save.click(bind(save_scenario, app), [editor, ui_lang], [saved_message, saved], api_name="save_scenario")
    play_outputs = [play_state, chat, coach, notice, reply]
    start.click(bind(start_test_play, app), [editor, ui_lang], play_outputs, api_visibility="private")
    reply.submit(bind(test_play_reply, app), [play_state, reply, ui_lang], play_outputs, api_visibility="private",
                 concurrency_id="reply", concurrency_limit=REPLY_CONCURRENCY, trigger_mode="once")  # fmt: skip
    return save, saved
