"""Building the app, the interface languages, and how untrusted text is made inert."""

from __future__ import annotations

import os

import gradio as gr
import pytest

from coach.feedback import message
from coach.store import Store
from coach.ui.app import build_demo, launch_options, on_load
from coach.ui.i18n import I18N, TEXTS, Relabel, choose_language, t
from coach.ui.render import coach_markdown, escape_chat, escape_markdown
from coach.yamlsafe import MAX_FILE_BYTES
from tests.fakes import KeywordAnalyzer
from tests.test_app_practice import make_app


@pytest.fixture
def demo(tmp_path):
    app = make_app(tmp_path)
    return build_demo(KeywordAnalyzer(), store=app.store, scenarios_folder=app.catalog.folder)


def component(demo: gr.Blocks, elem_id: str):
    return next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == elem_id)


def test_analytics_are_off_before_gradio_is_used():
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_the_analyzer_can_be_given_or_made_once_by_a_factory(tmp_path):
    made = []

    def factory():
        made.append(KeywordAnalyzer())
        return made[-1]

    build_demo(factory, store=Store(f"sqlite:///{tmp_path / 'h.db'}"))
    assert len(made) == 1


def test_the_chatbot_never_renders_learner_markup(demo):
    chat = component(demo, "chat")
    assert chat.render_markdown is False and chat.sanitize_html is True and chat.allow_tags is False
    reply = component(demo, "reply")
    assert (reply.lines, reply.max_lines) == (1, 6)  # Enter sends


def test_launch_stays_on_this_machine_with_small_yaml_uploads():
    options = launch_options()
    assert options["server_name"] == "127.0.0.1" and options["share"] is False
    assert options["max_file_size"] == MAX_FILE_BYTES == 512 * 1024
    assert options["i18n"] is I18N and "auth" not in options


def test_the_queue_limits_concurrency(demo):
    assert demo._queue.default_concurrency_limit == 4
    reply_events = [fn for fn in demo.fns.values() if fn.api_name == "reply"]
    assert [(fn.concurrency_id, fn.concurrency_limit) for fn in reply_events] == [("reply", 4)]


def test_every_static_text_exists_in_both_languages():
    assert all(set(texts) == {"fi", "en"} and all(texts.values()) for texts in TEXTS.values())
    assert set(I18N.translations_dict) == {"fi", "en"}


@pytest.mark.parametrize(
    ("stored", "header", "expected"),
    [("en", "fi-FI,fi;q=0.9", "en"), (None, "en-GB,en;q=0.8", "en"), (None, "de-DE,fi;q=0.5", "fi"), (None, None, "fi"),
     ("sv", "sv-SE", "fi")],
)  # fmt: skip
def test_the_language_is_the_saved_choice_then_the_browsers(stored, header, expected):
    assert choose_language(stored, header) == expected


def test_relabel_sends_the_chosen_languages_text():
    labels = Relabel()
    with gr.Blocks():
        labels.make(gr.Button, {"value": "send"})
        labels.make(gr.Radio, {"label": "checkin_label"}, computed={"choices": lambda lang: [(t("checkin_calm", lang), "calm")]})
    fi, en = labels.updates("fi"), labels.updates("en")
    assert fi[0]["value"] == "Lähetä" and en[0]["value"] == "Send"
    assert fi[1]["choices"] == [("rauhallinen", "calm")] and en[1]["label"] == TEXTS["checkin_label"]["en"]


def test_on_load_restores_the_saved_language_and_profile(tmp_path):
    app = make_app(tmp_path)
    request = type("Request", (), {"headers": {"accept-language": "en-US"}, "username": None})()
    lang, radio, profile, who, save, scenarios, _ = on_load(app, "fi", "Anna", "any", "any", request)
    assert lang == "fi" and radio["value"] == "fi" and profile["value"] == "Anna" and who == ""
    assert save["interactive"] is True
    assert "suomi" in scenarios["choices"][0][0]


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "**x** [a](javascript:alert(1)) <img src=x onerror=y>",
                                  "| a | b |\n# heading", "www.example.com & &lt;"])  # fmt: skip
def test_escaped_text_has_no_markup_left(text):
    escaped = escape_markdown(text)
    assert "<" not in escaped and ">" not in escaped
    for special in "*[]()|#":
        assert escaped.count(special) == escaped.count("\\" + special)
    assert "<" not in escape_chat(text).replace("<br>", "") and "&amp;lt;" in escape_chat("&lt;")


def test_coach_messages_keep_their_markdown_and_escape_only_the_quote():
    text = message("own_helpless", "en", quote="<b>I can't</b> *do* it")
    rendered = coach_markdown(text)
    assert "say what you *can* do" in rendered  # the catalogue's emphasis survives
    assert "&lt;b&gt;I can't&lt;/b&gt; \\*do\\* it" in rendered
    assert coach_markdown("Not from the catalogue <i>") == "Not from the catalogue &lt;i&gt;"
