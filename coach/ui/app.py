"""The whole app: header, the three tabs, language and identity, queue and launch settings.

    demo = build_demo(KeywordAnalyzer(), store=Store("sqlite:///x.db"))   # tests: any Analyzer
    demo = build_demo(load_analyzer)          # a factory is called once, here, at start-up
    demo = build_demo()                       # the real model (coach.analysis.load_analyzer)
    demo.launch(**launch_options(accounts))   # loopback, upload limits, i18n, auth when given

``coach app`` (coach/commands/app.py) builds and launches it with --db, --auth, --host, --port.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from coach.analysis import Analyzer
from coach.auth import Accounts
from coach.scenario import scenarios_dir
from coach.store import Store
from coach.ui.batching import BatchingAnalyzer
from coach.ui.context import DEFAULT_PROFILE, AppContext, ScenarioCatalog, bind
from coach.ui.i18n import DEFAULT_LANGUAGE, I18N, Relabel, choose_language, t
from coach.ui.practice import build_practice_tab, scenario_choices
from coach.ui.progress import build_progress_tab, list_progress
from coach.ui.render import escape_markdown
from coach.ui.studio import build_studio_tab, saved_choices
from coach.yamlsafe import MAX_FILE_BYTES

DEFAULT_CONCURRENCY = 4
QUEUE_SIZE = 200
LANGUAGE_KEY = "palvelupeili-language"
PROFILE_KEY = "palvelupeili-profile"
# System fonts only: the default theme would have the browser fetch web fonts from the internet.
THEME = gr.themes.Default(font=["system-ui", "Segoe UI", "Roboto", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
.pp-mood-text { margin-bottom: 4px; }
.pp-mood-bar { width: 100%; height: 1.4em; }
"""


def build_demo(analyzer: Analyzer | Callable[[], Analyzer] | None = None, *, store: Store | None = None,
               accounts: Accounts | None = None, scenarios_folder: Path | None = None) -> gr.Blocks:  # fmt: skip
    """The Gradio app. ``analyzer`` is an Analyzer, a factory called once now, or None for the real model."""
    if analyzer is None:
        from coach.analysis import load_analyzer

        analyzer = load_analyzer
    if not hasattr(analyzer, "analyze"):
        analyzer = analyzer()
    app = AppContext(BatchingAnalyzer(analyzer), store or Store(), ScenarioCatalog(scenarios_folder or scenarios_dir()), accounts)

    labels = Relabel()
    with gr.Blocks(title="Palvelupeili", analytics_enabled=False, delete_cache=(3600, 24 * 3600)) as demo:
        ui_lang = gr.State(DEFAULT_LANGUAGE)
        stored_lang = gr.BrowserState(None, storage_key=LANGUAGE_KEY)
        stored_profile = gr.BrowserState(DEFAULT_PROFILE, storage_key=PROFILE_KEY)
        with gr.Row(equal_height=True):
            labels.make(gr.Markdown, {"value": "app_title"}, scale=3)
            profile = labels.make(gr.Textbox, {"label": "profile_label", "info": "profile_info"}, value=DEFAULT_PROFILE,
                                  max_length=100, visible=accounts is None, scale=2, elem_id="profile")  # fmt: skip
            language = gr.Radio([("Suomi", "fi"), ("English", "en")], value=DEFAULT_LANGUAGE, label="Kieli · Language",
                                scale=1, min_width=200, elem_id="interface-language")  # fmt: skip
        labels.make(gr.Markdown, {"value": "privacy_notice"}, elem_id="privacy-notice")
        signed_in = gr.Markdown(visible=accounts is not None, elem_id="signed-in")
        with gr.Tabs() as tabs:
            with labels.add(gr.Tab(I18N("tab_practice"), id="practice"), {"label": "tab_practice"}) as practice_tab:
                practice = build_practice_tab(app, labels, ui_lang, profile)
            with labels.add(gr.Tab(I18N("tab_progress"), id="progress"), {"label": "tab_progress"}) as progress_tab:
                progress = build_progress_tab(app, labels, ui_lang, profile, practice, tabs)
            with labels.add(gr.Tab(I18N("tab_studio"), id="studio"), {"label": "tab_studio"}) as studio_tab:
                save_button, saved_list = build_studio_tab(app, labels, ui_lang)

        choices_inputs = [practice.language_filter, practice.difficulty_filter, ui_lang, practice.scenario]
        load_outputs = [ui_lang, language, profile, signed_in, save_button, practice.scenario, saved_list]
        relabel = dict(fn=labels.updates, inputs=[ui_lang], outputs=labels.components, api_visibility="private", queue=False)
        demo.load(bind(on_load, app), [stored_lang, stored_profile, practice.language_filter, practice.difficulty_filter],
                  load_outputs, api_visibility="private", queue=False).then(**relabel)  # fmt: skip
        language.input(bind(on_language, app), [language, practice.language_filter, practice.difficulty_filter],
                       [ui_lang, stored_lang, practice.scenario], api_visibility="private",
                       queue=False).then(**relabel)  # fmt: skip
        # Only the browser keeps the profile name; no server round trip per keystroke.
        profile.input(None, profile, stored_profile, js="(name) => name", api_visibility="private")
        practice_tab.select(bind(scenario_choices, app), choices_inputs, practice.scenario, api_visibility="private")
        progress_tab.select(bind(list_progress, app), progress.tab_select_inputs, progress.outputs, api_visibility="private")
        studio_tab.select(bind(saved_choices, app), None, saved_list, api_visibility="private")
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def on_load(app: AppContext, stored_lang: str | None, stored_profile: str | None, language_filter: str | None,
            difficulty_filter: str | None, request: gr.Request | None) -> list[Any]:  # fmt: skip
    """First paint: the saved or browser language, the profile name or signed-in user, the scenario list."""
    headers = getattr(request, "headers", None) or {}
    lang = choose_language(stored_lang, headers.get("accept-language"))
    if app.accounts is not None:
        role = app.role(request)
        who = t("signed_in_as", lang, name=escape_markdown(getattr(request, "username", None) or ""),
                role=t(f"role_{role}", lang) if role else "–")  # fmt: skip
    else:
        who = ""
    return [
        lang,
        gr.update(value=lang),
        gr.update(value=(stored_profile or DEFAULT_PROFILE)) if app.accounts is None else gr.update(),
        who,
        gr.update(interactive=app.may_save_scenarios(request)),
        scenario_choices(app, language_filter, difficulty_filter, lang),
        saved_choices(app),
    ]


def on_language(app: AppContext, lang: str, language_filter: str | None, difficulty_filter: str | None) -> list[Any]:
    return [lang, lang, scenario_choices(app, language_filter, difficulty_filter, lang)]


def launch_options(accounts: Accounts | None = None, host: str = "127.0.0.1", port: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch``: local only, small YAML uploads, translations, login if asked."""
    options: dict[str, Any] = {
        "server_name": host,
        "server_port": port,
        "max_file_size": MAX_FILE_BYTES,
        "i18n": I18N,
        "theme": THEME,
        "css": CSS,
        "ssr_mode": False,
        "share": False,
        "footer_links": ["api", "settings"],
    }
    if accounts is not None:
        options["auth"] = accounts.check
        options["auth_message"] = "Palvelupeili"
    return options
