"""Turning what the engine returns into what the page shows, with every untrusted text made inert.

    chat_messages(session)          # Chatbot messages; learner and script text HTML-escaped
    tone_markdown(turn, lang), mood_meter_html(session, lang), feedback_markdown(session)
    briefing_markdown(scenario, lang)
    report_markdown(report, rubric), report_chart_svg(report)
    write_downloads(report, folder) # (json path, markdown path)

Learner replies and scenario texts are data, never markup. The Chatbot is built with
``render_markdown=False`` (its text is then inserted as sanitised HTML), so chat text is
HTML-escaped here; text for ``gr.Markdown`` goes through ``escape_markdown``. The coach's own
messages carry a little Markdown (``*can*``) around a quote from the reply: ``coach_markdown``
recognises the catalogue template, keeps its Markdown and escapes only the quote.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from coach.feedback import DIMENSION_NAMES, MESSAGES, VERDICT_NAMES, message
from coach.labels import COARSE_TONES, DIMENSIONS
from coach.rubric import Rubric
from coach.scenario import DIFFICULTY_NAMES, Scenario
from coach.session import Session, SessionReport, TurnRecord
from coach.ui.i18n import CHECKIN_CHOICES, t

MOOD_MAX = 10
# Every ASCII character Markdown may give a meaning to, backslash-escaped.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>:])")


def escape_markdown(text: str) -> str:
    """``text`` shown literally by gr.Markdown: no HTML, no formatting, no links; whitespace folded."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))


def escape_chat(text: str) -> str:
    """``text`` shown literally in the Chatbot (which inserts its messages as HTML), line breaks kept."""
    return html.escape(text, quote=False).replace("\n", "<br>")


@lru_cache(maxsize=1)
def _coach_templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for entry in MESSAGES.values():
        for template in entry.values():
            literal = [re.escape(part) for part in template.split("{quote}")]
            out.append((re.compile("(.*?)".join(literal), re.DOTALL), template))
    # Longest first, so a template is never mistaken for a shorter one it contains.
    return sorted(out, key=lambda pair: -len(pair[1]))


def coach_markdown(text: str) -> str:
    """A coach message as Markdown: the catalogue's own Markdown kept, the quoted reply escaped."""
    for pattern, template in _coach_templates():
        match = pattern.fullmatch(text)
        if match is not None:
            quotes = iter(escape_markdown(q) for q in match.groups())
            return re.sub(r"\{quote\}", lambda _: next(quotes), template)
    return escape_markdown(text)


def tone_name(tone: str, lang: str) -> str:
    return t(f"tone_{tone}", lang) if tone in COARSE_TONES else tone


def checkin_name(checkin: str | None, lang: str) -> str:
    if not checkin:
        return t("not_told", lang)
    return t(f"checkin_{checkin}", lang) if checkin in CHECKIN_CHOICES else checkin


def verdict_name(verdict: str, lang: str) -> str:
    return VERDICT_NAMES[verdict][lang]


# ------------------------------------------------------------------ the encounter


def chat_messages(session: Session) -> list[dict]:
    """The transcript as Chatbot messages: customer lines, replies, then the current line or the ending."""
    messages: list[dict] = []
    for turn in session.turns:
        messages.append({"role": "assistant", "content": escape_chat(turn.customer_line)})
        messages.append({"role": "user", "content": escape_chat(turn.reply)})
    if session.ended:
        ending = session.ending
        title = escape_chat(f"{t('ending_heading', session.lang)}: {session.scenario.text(ending.title, session.lang)}")
        debrief = escape_chat(session.scenario.text(ending.debrief, session.lang))
        messages.append({"role": "assistant", "content": f"<strong>{title}</strong><br>{debrief}"})
    else:
        messages.append({"role": "assistant", "content": escape_chat(session.customer_line)})
    return messages


def briefing_markdown(scenario: Scenario, lang: str) -> str:
    persona = scenario.persona
    difficulty = t(f"difficulty_{DIFFICULTY_NAMES[scenario.difficulty]}", lang)
    lines = [
        f"### {escape_markdown(scenario.text(scenario.title, lang))}",
        f"*{difficulty}*",
        "",
        f"**{t('setting', lang)}:** {escape_markdown(scenario.text(scenario.setting, lang))}",
        "",
        f"**{t('the_customer', lang)}:** {escape_markdown(persona.name)}. {escape_markdown(scenario.text(persona.background, lang))}",
        f"*{escape_markdown(persona.name)} {t('wants', lang)}:* {escape_markdown(scenario.text(persona.wants, lang))}",
        "",
        f"**{t('goals', lang)}:**",
    ]  # fmt: skip
    lines += [f"- *{DIMENSION_NAMES[g.dimension][lang]}:* {escape_markdown(scenario.text(g.text, lang))}" for g in scenario.goals]
    return "\n".join(lines)


def tone_markdown(turn: TurnRecord | None, lang: str) -> str:
    if turn is None:
        return ""
    return t("tone_read", lang, tone=tone_name(turn.analysis.tone, lang), confidence=round(100 * turn.analysis.tone_confidence))


def mood_word(mood: int, lang: str) -> str:
    return t(f"mood_word_{min(4, mood * 5 // (MOOD_MAX + 1))}", lang)


def mood_meter_html(session: Session, lang: str) -> str:
    """The customer's mood as a number, a word and a bar, with the last change in words."""
    mood = session.mood
    change = ""
    if session.turns:
        delta = session.turns[-1].mood_after - session.turns[-1].mood_before
        key = "mood_change_up" if delta > 0 else "mood_change_down" if delta < 0 else "mood_change_none"
        change = f" · {'▲' if delta > 0 else '▼' if delta < 0 else '●'} {t(key, lang, delta=abs(delta))}"
    label = t("mood_label", lang)
    return (
        f'<div class="pp-mood" role="group" aria-label="{html.escape(label)}">'
        f'<div class="pp-mood-text">{html.escape(label, quote=False)}: <strong class="pp-mood-value">{mood} / {MOOD_MAX}</strong>'
        f" ({html.escape(mood_word(mood, lang), quote=False)}){html.escape(change, quote=False)}</div>"
        f'<meter class="pp-mood-bar" min="0" max="{MOOD_MAX}" low="4" high="7" optimum="{MOOD_MAX}" value="{mood}"'
        f' aria-label="{html.escape(label)}: {mood} / {MOOD_MAX}">{mood} / {MOOD_MAX}</meter></div>'
    )


def feedback_markdown(session: Session) -> str:
    """The newest turn's coaching: strengths first, then the three dimensions, then one thing to try."""
    if not session.turns:
        return ""
    turn, lang = session.turns[-1], session.lang
    lines = [t("turn_heading", lang, number=turn.number), t("went_well", lang)]
    strengths = [(d, turn.feedback[d].strength) for d in DIMENSIONS if turn.feedback[d].strength]
    lines += [f"- *{DIMENSION_NAMES[d][lang]}:* {coach_markdown(text)}" for d, text in strengths] or [f"- {t('nothing_yet', lang)}"]
    lines += ["", t("three_dimensions", lang)]
    for d in DIMENSIONS:
        item = turn.feedback[d]
        lines.append(f"- **{DIMENSION_NAMES[d][lang]}: {verdict_name(item.verdict, lang)}.** {coach_markdown(item.text)}")
    lines += ["", t("try_next", lang)]
    weak = [d for d in DIMENSIONS if turn.feedback[d].verdict != "good"]
    if weak:
        weakest = min(weak, key=lambda d: turn.feedback[d].score)
        item = turn.feedback[weakest]
        advice = item.suggestion or message(f"practise_{weakest}", lang)
        lines.append(f"- *{DIMENSION_NAMES[weakest][lang]}:* {coach_markdown(advice)}")
    else:
        lines.append(f"- {t('all_good', lang)}")
    if turn.coach_note:
        dimension = DIMENSION_NAMES[turn.coach_note["dimension"]][lang]
        lines += ["", f"{t('scenario_note', lang, dimension=dimension)}: {escape_markdown(turn.coach_note['text'])}"]
    return "\n".join(lines)


# ------------------------------------------------------------------ the report


def report_markdown(report: SessionReport, rubric: Rubric) -> str:
    lang = report.lang
    lines = [t("report_heading", lang), f"### {escape_markdown(report.title)}", ""]
    if report.ending:
        lines += [f"**{t('ending_heading', lang)}: {escape_markdown(report.ending['title'])}**", "",
                  escape_markdown(report.ending["debrief"]), ""]  # fmt: skip
    lines += [f"#### {t('scores', lang)}", "", f"| {t('dimension', lang)} | {t('score', lang)} | {t('verdict', lang)} |",
              "|---|---|---|"]  # fmt: skip
    for d in DIMENSIONS:
        score = report.averages[d]
        verdict = verdict_name(rubric.verdict(score), lang) if report.turns else "–"
        lines.append(f"| {DIMENSION_NAMES[d][lang]} | {round(100 * score)} | {verdict} |")
    lines += ["", f"#### {t('strengths', lang)}", ""]
    lines += [f"- {coach_markdown(s)}" for s in report.strengths] or [f"- {t('nothing_yet', lang)}"]
    if report.practise_next:
        p = report.practise_next
        lines += ["", f"#### {t('practise_next', lang)}: {DIMENSION_NAMES[p['dimension']][lang]}", "",
                  coach_markdown(p["text"]), "", coach_markdown(p["advice"])]  # fmt: skip
    lines += ["", f"#### {t('views', lang)}", "", _views_table(report), ""]
    if report.model_answers:
        lines += [f"#### {t('model_answers', lang)}", ""]
        for answer in report.model_answers:
            lines += [f"- **{t('chart_turn', lang).capitalize()} {answer['turn']}.** {t('you_said', lang)}: "
                      f"“{escape_markdown(answer['your_reply'])}” → {t('model_said', lang)}: "
                      f"“{escape_markdown(answer['model_answer'])}”"]  # fmt: skip
        lines.append("")
    lines.append(f"*{t('mood_curve', lang)}: {' → '.join(map(str, report.mood_curve))}*")
    return "\n".join(lines)


def _views_table(report: SessionReport) -> str:
    """The learner's own words beside what the coach read, row by row."""
    lang = report.lang
    reflection = list(report.reflection.items())
    tones = Counter(turn["tone"]["label"] for turn in report.turns)
    coach_rows = []
    if tones:
        tone, count = tones.most_common(1)[0]
        coach_rows.append(f"{t('most_common_tone', lang)}: {tone_name(tone, lang)} ({t('of_turns', lang, count=count, total=len(report.turns))})")
        # The hardest moment: the reply given to the angriest customer (the first such, on a tie).
        hardest = min(report.turns, key=lambda turn: (turn["mood_before"], turn["number"]))
        coach_rows.append(f"{t('hardest_turn', lang)}: " + t("hardest_turn_text", lang, number=hardest["number"],
                          mood=hardest["mood_before"], tone=tone_name(hardest["tone"]["label"], lang)))  # fmt: skip
    if report.practise_next:
        coach_rows.append(f"{t('practise_next', lang)}: {DIMENSION_NAMES[report.practise_next['dimension']][lang]}")
    own_rows = [f"{t('you_arrived', lang)}: {escape_markdown(checkin_name(report.checkin, lang))}"]
    own_rows += [f"{escape_markdown(question)} {escape_markdown(answer)}" for question, answer in reflection]
    rows = max(len(own_rows), len(coach_rows))
    own_rows += [""] * (rows - len(own_rows))
    coach_rows += [""] * (rows - len(coach_rows))
    table = [f"| {t('your_view', lang)} | {t('coach_reading', lang)} |", "|---|---|"]
    return "\n".join(table + [f"| {own} | {coach} |" for own, coach in zip(own_rows, coach_rows)])


CHART_WIDTH, CHART_LEFT, CHART_RIGHT = 720, 64, 24
MOOD_TOP, MOOD_HEIGHT, SCORE_TOP, SCORE_HEIGHT = 40, 170, 262, 110
SCORE_SERIES = {"own": ("#1f5f8b", "circle"), "others": ("#b5542a", "square"), "customer": ("#3b7d3a", "triangle")}


def report_chart_svg(report: SessionReport) -> str:
    """The report's chart as inline SVG: the customer's mood with the tone read at each reply,
    and the three scores per reply. Drawn here rather than by matplotlib, because encoding a
    plot to PNG cost the server 80-100 ms at every ending; text labels and marker shapes carry
    the meaning, not colour alone."""
    lang = report.lang
    turns = len(report.mood_curve)
    step = (CHART_WIDTH - CHART_LEFT - CHART_RIGHT) / max(1, turns - 1)

    def x(turn: int) -> float:
        return CHART_LEFT + turn * step

    def mood_y(mood: float) -> float:
        return MOOD_TOP + MOOD_HEIGHT * (1 - mood / MOOD_MAX)

    def score_y(score: float) -> float:
        return SCORE_TOP + SCORE_HEIGHT * (1 - score)

    def text(x_: float, y_: float, value: str, anchor: str = "middle", size: int = 11, weight: str = "normal",
             vertical: bool = False) -> str:  # fmt: skip
        turn = f' transform="rotate(-90 {x_:.1f} {y_:.1f})"' if vertical else ""
        return (f'<text x="{x_:.1f}" y="{y_:.1f}"{turn} text-anchor="{anchor}" font-size="{size}" font-weight="{weight}">'
                f"{html.escape(value, quote=False)}</text>")  # fmt: skip

    def marker(shape: str, x_: float, y_: float, color: str) -> str:
        if shape == "square":
            return f'<rect x="{x_ - 4:.1f}" y="{y_ - 4:.1f}" width="8" height="8" fill="{color}"/>'
        if shape == "triangle":
            return f'<polygon points="{x_:.1f},{y_ - 5:.1f} {x_ - 5:.1f},{y_ + 4:.1f} {x_ + 5:.1f},{y_ + 4:.1f}" fill="{color}"/>'
        return f'<circle cx="{x_:.1f}" cy="{y_:.1f}" r="4" fill="{color}"/>'

    parts = [text(CHART_LEFT, 24, t("mood_curve", lang), "start", 13, "bold")]
    for level in (0, MOOD_MAX // 2, MOOD_MAX):
        parts.append(f'<line x1="{CHART_LEFT}" x2="{CHART_WIDTH - CHART_RIGHT}" y1="{mood_y(level):.1f}" y2="{mood_y(level):.1f}" stroke="#ddd"/>')
        parts.append(text(CHART_LEFT - 8, mood_y(level) + 4, str(level), "end"))
    parts.append(text(14, MOOD_TOP + MOOD_HEIGHT / 2, t("chart_mood", lang), size=10, vertical=True))
    points = " ".join(f"{x(i):.1f},{mood_y(m):.1f}" for i, m in enumerate(report.mood_curve))
    parts.append(f'<polyline class="pp-chart-mood" points="{points}" fill="none" stroke="#1f5f8b" stroke-width="2"/>')
    parts += [marker("circle", x(i), mood_y(m), "#1f5f8b") for i, m in enumerate(report.mood_curve)]
    for point in report.tone_curve:
        label = f"{tone_name(point['tone'], lang)} {round(100 * point['confidence'])} %"
        last = point["turn"] == turns - 1  # the last label ends at its point, inside the chart
        parts.append(text(x(point["turn"]) + (6 if last else 0), mood_y(report.mood_curve[point["turn"]]) - 10, label,
                          "end" if last else "middle", size=10))  # fmt: skip

    for level in (0.0, 0.5, 1.0):
        parts.append(f'<line x1="{CHART_LEFT}" x2="{CHART_WIDTH - CHART_RIGHT}" y1="{score_y(level):.1f}" y2="{score_y(level):.1f}" stroke="#ddd"/>')
        parts.append(text(CHART_LEFT - 8, score_y(level) + 4, f"{level:g}", "end"))
    parts.append(text(14, SCORE_TOP + SCORE_HEIGHT / 2, t("chart_score", lang), size=10, vertical=True))
    for d, (color, shape) in SCORE_SERIES.items():
        scores = [turn["dimensions"][d]["score"] for turn in report.turns]
        if scores:
            points = " ".join(f"{x(i + 1):.1f},{score_y(v):.1f}" for i, v in enumerate(scores))
            parts.append(f'<polyline class="pp-chart-{d}" points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
            parts += [marker(shape, x(i + 1), score_y(v), color) for i, v in enumerate(scores)]
    legend_y = SCORE_TOP + SCORE_HEIGHT + 44
    for column, (d, (color, shape)) in enumerate(SCORE_SERIES.items()):
        left = CHART_LEFT + column * 200
        parts += [marker(shape, left + 6, legend_y - 4, color), text(left + 16, legend_y, DIMENSION_NAMES[d][lang], "start")]
    ticks = [t("chart_start", lang)] + [str(n) for n in range(1, turns)]
    parts += [text(x(i), SCORE_TOP + SCORE_HEIGHT + 18, tick) for i, tick in enumerate(ticks)]
    height = legend_y + 12
    title = f"{t('mood_curve', lang)}; {t('chart_score', lang)}"
    return (f'<svg class="pp-report-chart" role="img" aria-label="{html.escape(title)}" viewBox="0 0 {CHART_WIDTH} {height}" '
            f'width="100%" style="max-width: {CHART_WIDTH}px" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif"><title>{html.escape(title, quote=False)}</title>'
            + "".join(parts) + "</svg>")  # fmt: skip


def write_downloads(report: SessionReport, folder: Path) -> tuple[str, str]:
    """The report as JSON and Markdown files in ``folder`` (overwritten on each call)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"palvelupeili-{report.scenario_id}"
    json_path, markdown_path = folder / f"{stem}.json", folder / f"{stem}.md"
    json_path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    markdown_path.write_text(report.to_markdown(), encoding="utf-8")
    return str(json_path), str(markdown_path)
