"""The interface's own words in Finnish and English, and switching between them.

    I18N("send")                      # static text on a component: the browser picks the language
    t("refused_long", "fi", length=12000, limit=10000)   # text a handler writes, in a known language
    labels = Relabel()
    box = labels.make(gr.Textbox, {"label": "reply_label", "placeholder": "reply_hint"}, lines=1)
    labels.updates("fi")              # one gr.update per registered component, for the chosen language

Static text is declared with ``gr.I18n`` (``I18N``), so the first paint already follows the
browser's language. The learner may choose the other one; that choice lives in the browser
(``gr.BrowserState``) and is applied with ``Relabel.updates``, which sends the same catalogue's
text as plain strings. Coaching text is not here: the engine writes it in the session's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from coach.feedback import CHECKIN_NAMES, TONE_NAMES
from coach.labels import LANGUAGES

DEFAULT_LANGUAGE = "fi"

TEXTS: dict[str, dict[str, str]] = {
    # header
    "app_title": {"en": "# Palvelupeili", "fi": "# Palvelupeili"},
    "privacy_notice": {
        "en": "Your replies are analysed on this machine by a local model. Nothing you write leaves it.",
        "fi": "Vastauksesi analysoi tällä koneella toimiva paikallinen malli. Mitään kirjoittamaasi ei lähetetä minnekään.",
    },
    "profile_label": {"en": "Profile name", "fi": "Profiilin nimi"},
    "profile_info": {
        "en": "Your sessions are saved under this name on this machine.",
        "fi": "Harjoituksesi tallennetaan tällä nimellä tälle koneelle.",
    },
    "signed_in_as": {"en": "Signed in as **{name}** ({role}) · [Sign out](/logout)",
                     "fi": "Kirjautuneena: **{name}** ({role}) · [Kirjaudu ulos](/logout)"},
    "role_learner": {"en": "learner", "fi": "harjoittelija"},
    "role_trainer": {"en": "trainer", "fi": "kouluttaja"},
    "tab_practice": {"en": "Practise", "fi": "Harjoittele"},
    "tab_progress": {"en": "Progress", "fi": "Edistyminen"},
    "tab_studio": {"en": "Scenario studio", "fi": "Skenaariostudio"},
    # practice: choosing
    "filter_language": {"en": "Scenario language", "fi": "Skenaarion kieli"},
    "filter_difficulty": {"en": "Difficulty", "fi": "Vaikeus"},
    "any": {"en": "Any", "fi": "Kaikki"},
    "lang_fi": {"en": "Finnish", "fi": "suomi"},
    "lang_en": {"en": "English", "fi": "englanti"},
    "difficulty_easy": {"en": "easy", "fi": "helppo"},
    "difficulty_medium": {"en": "medium", "fi": "keskitaso"},
    "difficulty_hard": {"en": "hard", "fi": "vaikea"},
    "scenario_label": {"en": "Scenario", "fi": "Skenaario"},
    "no_scenarios": {"en": "No scenario matches these filters.", "fi": "Näillä valinnoilla ei löydy skenaarioita."},
    "choose_scenario_hint": {
        "en": "Choose a scenario to begin. The customer speaks first.",
        "fi": "Valitse skenaario aloittaaksesi. Asiakas aloittaa.",
    },
    "checkin_label": {"en": "How are you arriving today? (optional)", "fi": "Millaisena saavut tänään? (vapaaehtoinen)"},
    "checkin_info": {
        "en": "One tap before your first reply; it appears beside the coach's reading in your report.",
        "fi": "Yksi napautus ennen ensimmäistä vastausta; näet sen raportissa valmentajan havaintojen vieressä.",
    },
    **{f"checkin_{key}": names for key, names in CHECKIN_NAMES.items()},
    # practice: the encounter
    "chat_label": {"en": "The encounter", "fi": "Kohtaaminen"},
    "reply_label": {"en": "Your reply", "fi": "Vastauksesi"},
    "reply_hint": {"en": "Write what you would say, then press Enter.", "fi": "Kirjoita mitä sanoisit ja paina Enter."},
    "send": {"en": "Send", "fi": "Lähetä"},
    "undo": {"en": "Undo last reply", "fi": "Peru viimeisin vastaus"},
    "restart": {"en": "Start again", "fi": "Aloita alusta"},
    "coach_heading": {"en": "### The coach", "fi": "### Valmentaja"},
    "coach_waiting": {"en": "Feedback on your reply appears here.", "fi": "Palaute vastauksestasi näkyy tässä."},
    "download_json": {"en": "Transcript and report (JSON)", "fi": "Keskustelu ja raportti (JSON)"},
    "download_md": {"en": "Transcript and report (Markdown)", "fi": "Keskustelu ja raportti (Markdown)"},
    "ending_heading": {"en": "Ending", "fi": "Loppu"},
    # refusals (the engine's reasons, in the interface's words)
    "refused_empty": {
        "en": "Write a reply to the customer first: an empty reply cannot be coached.",
        "fi": "Kirjoita ensin vastaus asiakkaalle: tyhjää vastausta ei voi valmentaa.",
    },
    "refused_long": {
        "en": "Your reply is {length} characters long; keep it under {limit}, as you would in a real encounter.",
        "fi": "Vastauksesi on {length} merkkiä pitkä; pidä se alle {limit} merkissä, kuten oikeassa tilanteessa.",
    },
    "refused_ended": {
        "en": "This encounter has ended. Read your report, or start again to practise once more.",
        "fi": "Tämä kohtaaminen on päättynyt. Lue raporttisi tai aloita alusta harjoitellaksesi uudelleen.",
    },
    "no_session": {"en": "Choose a scenario first.", "fi": "Valitse ensin skenaario."},
    "nothing_to_undo": {"en": "There is no reply to undo yet.", "fi": "Peruttavaa vastausta ei vielä ole."},
    "not_saved": {
        "en": "Your reply could not be saved ({error}); it was not counted. Try again.",
        "fi": "Vastaustasi ei voitu tallentaa ({error}), joten sitä ei laskettu. Yritä uudelleen.",
    },
    # coach panel
    "tone_read": {"en": "**Tone the coach read:** {tone} ({confidence} % confident)",
                  "fi": "**Valmentajan lukema sävy:** {tone} (varmuus {confidence} %)"},
    "mood_label": {"en": "Customer's mood", "fi": "Asiakkaan mieliala"},
    "mood_change_up": {"en": "up {delta}", "fi": "nousi {delta}"},
    "mood_change_down": {"en": "down {delta}", "fi": "laski {delta}"},
    "mood_change_none": {"en": "no change", "fi": "ei muutosta"},
    "mood_word_0": {"en": "furious", "fi": "raivoissaan"},
    "mood_word_1": {"en": "upset", "fi": "harmistunut"},
    "mood_word_2": {"en": "neutral", "fi": "neutraali"},
    "mood_word_3": {"en": "satisfied", "fi": "tyytyväinen"},
    "mood_word_4": {"en": "delighted", "fi": "ilahtunut"},
    "turn_heading": {"en": "#### Your reply {number}", "fi": "#### Vastauksesi {number}"},
    "went_well": {"en": "**What went well**", "fi": "**Mikä onnistui**"},
    "nothing_yet": {"en": "Nothing stood out yet; the step below helps.",
                    "fi": "Mikään ei vielä erottunut; alla oleva askel auttaa."},
    "three_dimensions": {"en": "**Your reply on three dimensions**", "fi": "**Vastauksesi kolmella ulottuvuudella**"},
    "try_next": {"en": "**One thing to try next**", "fi": "**Yksi asia kokeiltavaksi seuraavaksi**"},
    "all_good": {"en": "Keep going like this.", "fi": "Jatka samaan malliin."},
    "scenario_note": {"en": "**Coach's note** ({dimension})", "fi": "**Valmentajan huomio** ({dimension})"},
    # tones, as the coach names them
    **{f"tone_{key}": names for key, names in TONE_NAMES.items()},
    # briefing
    "setting": {"en": "Setting", "fi": "Tilanne"},
    "the_customer": {"en": "The customer", "fi": "Asiakas"},
    "wants": {"en": "wants", "fi": "haluaa"},
    "goals": {"en": "Your goals", "fi": "Tavoitteesi"},
    # report
    "report_heading": {"en": "## Your session report", "fi": "## Harjoituksen raportti"},
    "scores": {"en": "Scores", "fi": "Pisteet"},
    "dimension": {"en": "Dimension", "fi": "Ulottuvuus"},
    "score": {"en": "Score (0–100)", "fi": "Pisteet (0–100)"},
    "verdict": {"en": "Verdict", "fi": "Arvio"},
    "strengths": {"en": "Strengths", "fi": "Vahvuudet"},
    "practise_next": {"en": "Practise next", "fi": "Harjoittele seuraavaksi"},
    "views": {"en": "Your view and the coach's reading", "fi": "Oma näkemyksesi ja valmentajan lukema"},
    "your_view": {"en": "Your view", "fi": "Oma näkemyksesi"},
    "coach_reading": {"en": "The coach's reading", "fi": "Valmentajan lukema"},
    "you_arrived": {"en": "You arrived", "fi": "Saavuit"},
    "not_told": {"en": "not told", "fi": "ei kerrottu"},
    "most_common_tone": {"en": "Tone read most often", "fi": "Useimmin luettu sävy"},
    "of_turns": {"en": "{count} of {total} replies", "fi": "{count}/{total} vastauksessa"},
    "hardest_turn": {"en": "Hardest moment", "fi": "Vaikein hetki"},
    "hardest_turn_text": {"en": "reply {number}, to a customer at mood {mood}/10; your tone: {tone}",
                          "fi": "vastaus {number}, asiakkaan mieliala {mood}/10; sävysi: {tone}"},
    "model_answers": {"en": "Model answers for your weakest replies", "fi": "Mallivastauksia heikoimpiin vastauksiisi"},
    "you_said": {"en": "You said", "fi": "Sanoit"},
    "model_said": {"en": "For example", "fi": "Esimerkiksi"},
    "mood_curve": {"en": "Mood over the encounter", "fi": "Mieliala kohtaamisen aikana"},
    "chart_turn": {"en": "reply", "fi": "vastaus"},
    "chart_mood": {"en": "customer's mood (0–10)", "fi": "asiakkaan mieliala (0–10)"},
    "chart_score": {"en": "score (0–1)", "fi": "pisteet (0–1)"},
    "chart_start": {"en": "start", "fi": "alku"},
    # reflection: the keys are stored with the session, in the session's language
    "reflection_heading": {"en": "### A short reflection", "fi": "### Lyhyt pohdinta"},
    "reflection_felt": {"en": "What did I feel at the hardest moment?", "fi": "Mitä tunsin vaikeimmalla hetkellä?"},
    "reflection_differently": {"en": "What would I choose differently?", "fi": "Mitä valitsisin toisin?"},
    "save_reflection": {"en": "Save reflection", "fi": "Tallenna pohdinta"},
    "reflection_saved": {"en": "Reflection saved.", "fi": "Pohdinta tallennettu."},
    "reflection_too_long": {"en": "Keep each answer under {limit} characters.", "fi": "Pidä kukin vastaus alle {limit} merkissä."},
    # progress
    "refresh": {"en": "Refresh", "fi": "Päivitä"},
    "progress_intro": {"en": "Your past sessions. Select a row to reopen its report.",
                       "fi": "Aiemmat harjoituksesi. Valitse rivi avataksesi sen raportin."},
    "no_history": {"en": "No saved sessions yet: your first reply in Practise starts one.",
                   "fi": "Tallennettuja harjoituksia ei vielä ole: ensimmäinen vastauksesi aloittaa sellaisen."},
    "history_count": {"en": "Sessions: {count}, finished: {finished}.", "fi": "Harjoituksia: {count}, päättyneitä: {finished}."},
    "col_id": {"en": "#", "fi": "#"},
    "col_date": {"en": "Started", "fi": "Aloitettu"},
    "col_scenario": {"en": "Scenario", "fi": "Skenaario"},
    "col_turns": {"en": "Replies", "fi": "Vastauksia"},
    "col_ending": {"en": "Ending", "fi": "Loppu"},
    "unfinished": {"en": "not finished", "fi": "kesken"},
    "sessions_table": {"en": "Sessions", "fi": "Harjoitukset"},
    "continue_session": {"en": "Continue this session in Practise", "fi": "Jatka tätä harjoitusta"},
    "delete_history": {"en": "Delete my history…", "fi": "Poista historiani…"},
    "delete_confirm_text": {
        "en": "This permanently deletes all your saved sessions ({count}). Are you sure?",
        "fi": "Tämä poistaa pysyvästi kaikki tallennetut harjoituksesi ({count}). Oletko varma?",
    },
    "delete_yes": {"en": "Yes, delete them", "fi": "Kyllä, poista"},
    "cancel": {"en": "Cancel", "fi": "Peruuta"},
    "deleted": {"en": "Sessions deleted: {count}.", "fi": "Poistettuja harjoituksia: {count}."},
    "chart_score_100": {"en": "average score (0–100)", "fi": "keskiarvo (0–100)"},
    # studio
    "studio_intro": {
        "en": "Write or upload a scenario script (YAML). It is checked as you type; save it once it is valid.",
        "fi": "Kirjoita tai lataa skenaario (YAML). Se tarkistetaan kirjoittaessa; tallenna kun se on kunnossa.",
    },
    "studio_open": {"en": "Open a saved scenario", "fi": "Avaa tallennettu skenaario"},
    "studio_new": {"en": "New from template", "fi": "Uusi pohjasta"},
    "studio_upload": {"en": "Upload .yaml (max 512 KB)", "fi": "Lataa .yaml (enint. 512 kt)"},
    "studio_editor": {"en": "Scenario YAML", "fi": "Skenaarion YAML"},
    "studio_problems": {"en": "Problems", "fi": "Ongelmat"},
    "col_line": {"en": "Line", "fi": "Rivi"},
    "col_column": {"en": "Column", "fi": "Sarake"},
    "col_field": {"en": "Field", "fi": "Kenttä"},
    "col_message": {"en": "Problem", "fi": "Ongelma"},
    "studio_valid": {"en": "✔ Valid: {beats} beats, {endings} endings ({languages}).",
                     "fi": "✔ Kunnossa: {beats} vaihetta, {endings} loppua ({languages})."},
    "studio_invalid": {"en": "✖ {count} problems: fix them to save or test-play.",
                       "fi": "✖ {count} ongelmaa: korjaa ne tallentaaksesi tai kokeillaksesi."},
    "studio_empty": {"en": "The editor is empty.", "fi": "Editori on tyhjä."},
    "studio_graph": {"en": "### Beat graph", "fi": "### Vaiheiden kaavio"},
    "studio_branches": {"en": "Branch conditions", "fi": "Haarojen ehdot"},
    "studio_test": {"en": "### Test-play", "fi": "### Kokeile"},
    "studio_test_start": {"en": "Test-play from the start", "fi": "Kokeile alusta"},
    "studio_save": {"en": "Save to the scenarios folder", "fi": "Tallenna skenaariokansioon"},
    "studio_saved": {"en": "Saved {file}.", "fi": "Tallennettu {file}."},
    "studio_backup": {"en": "The earlier version was kept as {backup}.", "fi": "Aiempi versio säilytettiin: {backup}."},
    "studio_not_saved_invalid": {"en": "Not saved: the scenario has {count} problems.",
                                 "fi": "Ei tallennettu: skenaariossa on {count} ongelmaa."},
    "studio_trainers_only": {"en": "Only trainers can save scenarios.", "fi": "Vain kouluttajat voivat tallentaa skenaarioita."},
    "studio_upload_type": {"en": "Only .yaml files can be uploaded.", "fi": "Vain .yaml-tiedostoja voi ladata."},
    "studio_upload_size": {"en": "The file is {size} KB; the limit is {limit} KB.",
                           "fi": "Tiedosto on {size} kt; raja on {limit} kt."},
    "studio_upload_encoding": {"en": "The file is not UTF-8 text.", "fi": "Tiedosto ei ole UTF-8-tekstiä."},
}

CHECKIN_CHOICES: tuple[str, ...] = tuple(CHECKIN_NAMES)

I18N = gr.I18n(**{lang: {key: texts[lang] for key, texts in TEXTS.items()} for lang in LANGUAGES})


def t(key: str, lang: str, **values: Any) -> str:
    text = TEXTS[key].get(lang) or TEXTS[key]["en"]
    return text.format(**values) if values else text


def choose_language(stored: str | None, accept_language: str | None) -> str:
    """The learner's saved choice, else the browser's first supported language, else Finnish."""
    if stored in LANGUAGES:
        return stored
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def language_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"lang_{code}", lang), code) for code in LANGUAGES]


def checkin_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"checkin_{key}", lang), key) for key in CHECKIN_CHOICES]


class Relabel:
    """Components whose static text follows the chosen interface language."""

    def __init__(self) -> None:
        self.components: list[gr.components.Component | gr.blocks.BlockContext] = []
        self._texts: list[dict[str, str]] = []
        self._computed: list[dict[str, Callable[[str], Any]]] = []

    def make(self, kind: type, texts: dict[str, str], computed: dict[str, Callable[[str], Any]] | None = None,
             **kwargs: Any):  # fmt: skip
        """``kind(**kwargs)`` with each property in ``texts`` (property -> catalogue key) translatable.

        ``computed`` maps other properties (e.g. choices) to functions of the language.
        """
        first = {name: fn(DEFAULT_LANGUAGE) for name, fn in (computed or {}).items()}
        component = kind(**kwargs, **{name: I18N(key) for name, key in texts.items()}, **first)
        return self.add(component, texts, computed)

    def add(self, component, texts: dict[str, str], computed: dict[str, Callable[[str], Any]] | None = None):
        self.components.append(component)
        self._texts.append(texts)
        self._computed.append(computed or {})
        return component

    def updates(self, lang: str) -> list[dict]:
        return [
            gr.update(**{name: t(key, lang) for name, key in texts.items()},
                      **{name: fn(lang) for name, fn in computed.items()})  # fmt: skip
            for texts, computed in zip(self._texts, self._computed)
        ]

