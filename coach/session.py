"""Running one practice session: transcript, mood, branches, endings, coaching and the report.

    session = Session(scenario, analyzer, lang="fi", seed=1, checkin="stressed")
    session.customer_line                      # what the customer says now
    turn = session.reply("Ymmärrän, selvitän asian heti.")
    turn.feedback["customer"].text, session.mood, session.ended
    session.undo(); session.restart()
    report = session.report()                  # .to_dict(), .to_markdown()

Pure Python and deterministic given the analyzer's outputs: the customer's line variant for a
turn is drawn from a generator seeded by (seed, turn number, beat), so undo and replay show
the same lines. The engine owns the transcript; the UI only renders what it returns. Every
turn keeps its analysis, so a stored session is restored without re-running the model.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from coach.analysis import Analyzer, ReplyAnalysis
from coach.errors import UserError
from coach.feedback import (
    CHECKIN_NAMES,
    DIMENSION_NAMES,
    TONE_NAMES,
    VERDICT_NAMES,
    DimensionFeedback,
    feedback_for,
    message,
    shorten,
)
from coach.labels import DIMENSIONS
from coach.rubric import Rubric, load_rubric, rubric_signals
from coach.scenario import Scenario, take_turn

MAX_REPLY_CHARS = 10_000


@dataclass
class TurnRecord:
    number: int
    beat_id: str
    customer_line: str
    mood_before: int
    reply: str
    analysis: ReplyAnalysis
    feedback: dict[str, DimensionFeedback]
    branch_index: int
    branch: str
    mood_after: int
    next_id: str
    walked_out: bool
    coach_note: dict | None

    @property
    def scores(self) -> dict[str, float]:
        return {d: self.feedback[d].score for d in DIMENSIONS}

    def to_dict(self) -> dict:
        return {
            "number": self.number, "beat": self.beat_id, "customer": self.customer_line,
            "mood_before": self.mood_before, "reply": self.reply, **self.analysis.to_dict(),
            "dimensions": {d: self.feedback[d].to_dict() for d in DIMENSIONS},
            "branch": {"index": self.branch_index, "condition": self.branch}, "mood_after": self.mood_after,
            "next": self.next_id, "walked_out": self.walked_out, "coach_note": self.coach_note,
        }  # fmt: skip


def assess_reply(analysis: ReplyAnalysis, lang: str, customer_mood: int | None = None,
                 model_answers: list[str] | None = None, rubric: Rubric | None = None,
                 customer_line: str | None = None) -> dict[str, DimensionFeedback]:  # fmt: skip
    """The three-dimension verdicts and feedback for one analysed reply (also used in batch eval)."""
    rubric = rubric or load_rubric()
    signals = rubric_signals(analysis.tone_scores, analysis.moves, analysis.reply, customer_mood, analysis.readings,
                             customer_line)  # fmt: skip
    return feedback_for(rubric.assess(signals), analysis, lang, model_answers)


class Session:
    def __init__(self, scenario: Scenario, analyzer: Analyzer, lang: str | None = None, seed: int = 0,
                 checkin: str | None = None, rubric: Rubric | None = None):  # fmt: skip
        self.scenario = scenario
        self.analyzer = analyzer
        self.lang = lang if lang in scenario.languages else scenario.default_language
        self.seed = seed
        self.checkin = checkin
        self.reflection: dict[str, str] = {}
        self.rubric = rubric or load_rubric()
        self.turns: list[TurnRecord] = []

    # -------------------------------------------------------------- state, derived from turns

    @property
    def current_id(self) -> str:
        return self.turns[-1].next_id if self.turns else self.scenario.start_id

    @property
    def mood(self) -> int:
        return self.turns[-1].mood_after if self.turns else self.scenario.persona.starting_mood

    @property
    def ended(self) -> bool:
        return self.scenario.is_ending(self.current_id)

    @property
    def ending(self):
        return self.scenario.ending(self.current_id) if self.ended else None

    @property
    def customer_line(self) -> str | None:
        if self.ended:
            return None
        beat = self.scenario.beat(self.current_id)
        rng = random.Random(f"{self.seed}:{len(self.turns) + 1}:{beat.id}")
        return self.scenario.text(rng.choice(beat.says), self.lang)

    def model_answers(self, beat_id: str) -> list[str]:
        beat = self.scenario.beat(beat_id)
        return [self.scenario.text(e.reply, self.lang) for e in beat.examples if e.label == "good"]

    # -------------------------------------------------------------- actions

    def reply(self, text: str) -> TurnRecord:
        if self.ended:
            raise UserError("This session has ended. Start it again to practise once more.")
        if not isinstance(text, str) or not text.strip():
            raise UserError("Write a reply to the customer first: an empty reply cannot be coached.")
        if len(text) > MAX_REPLY_CHARS:
            raise UserError(f"The reply is {len(text)} characters long; keep it under {MAX_REPLY_CHARS}, as you would in a real encounter.")
        [analysis] = self.analyzer.analyze([text.strip()], lang=self.lang)
        return self.apply(text.strip(), analysis)

    def apply(self, text: str, analysis: ReplyAnalysis) -> TurnRecord:
        """Advance the scenario with an already analysed reply (replies and restores use this)."""
        beat = self.scenario.beat(self.current_id)
        line, mood = self.customer_line, self.mood
        outcome = take_turn(self.scenario, beat, analysis.signals, mood)
        note = outcome.branch.coach
        turn = TurnRecord(
            number=len(self.turns) + 1,
            beat_id=beat.id,
            customer_line=line,
            mood_before=mood,
            reply=text,
            analysis=analysis,
            feedback=assess_reply(analysis, self.lang, mood, self.model_answers(beat.id), self.rubric, line),
            branch_index=outcome.branch_index,
            branch=outcome.branch.describe(),
            mood_after=outcome.mood_after,
            next_id=outcome.next_id,
            walked_out=outcome.walked_out,
            coach_note={"dimension": note.dimension, "text": self.scenario.text(note.text, self.lang)} if note else None,
        )
        self.turns.append(turn)
        return turn

    def undo(self) -> TurnRecord | None:
        return self.turns.pop() if self.turns else None

    def restart(self) -> None:
        self.turns.clear()
        self.reflection = {}

    def report(self) -> SessionReport:
        return SessionReport.build(self)


@dataclass
class SessionReport:
    scenario_id: str
    scenario_version: int
    title: str
    lang: str
    ending: dict | None
    checkin: str | None
    reflection: dict[str, str]
    turns: list[dict]
    mood_curve: list[int]
    tone_curve: list[dict]
    averages: dict[str, float]
    strengths: list[str]
    practise_next: dict | None
    model_answers: list[dict]
    coach_reading: dict = field(default_factory=dict)

    @classmethod
    def build(cls, session: Session) -> SessionReport:
        scenario, lang, turns = session.scenario, session.lang, session.turns
        averages = {d: round(sum(t.scores[d] for t in turns) / len(turns), 4) if turns else 0.0 for d in DIMENSIONS}
        strengths = []
        for turn in sorted(turns, key=lambda t: -sum(t.scores.values())):
            for d in DIMENSIONS:
                text = turn.feedback[d].strength
                if text and text not in strengths:
                    strengths.append(text)
        practise_next = None
        if turns:
            weakest = min(DIMENSIONS, key=averages.get)
            rules = Counter(t.feedback[weakest].rule for t in turns if t.feedback[weakest].verdict != "good")
            worst_turn = min(turns, key=lambda t: t.scores[weakest])
            practise_next = {
                "dimension": weakest,
                "text": worst_turn.feedback[weakest].text,
                "advice": message(f"practise_{weakest}", lang),
                "most_common_rule": rules.most_common(1)[0][0] if rules else None,
                "turn": worst_turn.number,
            }
        model_answers = []
        for turn in sorted(turns, key=lambda t: sum(t.scores.values()))[:2]:
            answers = session.model_answers(turn.beat_id)
            if answers and sum(turn.scores.values()) < 2.0:
                model_answers.append({"turn": turn.number, "your_reply": turn.reply, "model_answer": answers[0]})
        tones = Counter(t.analysis.tone for t in turns)
        ending = session.ending
        return cls(
            scenario_id=scenario.id,
            scenario_version=scenario.version,
            title=scenario.text(scenario.title, lang),
            lang=lang,
            ending={"id": ending.id, "kind": ending.kind, "title": scenario.text(ending.title, lang),
                    "debrief": scenario.text(ending.debrief, lang)} if ending else None,  # fmt: skip
            checkin=session.checkin,
            reflection=dict(session.reflection),
            turns=[t.to_dict() for t in turns],
            mood_curve=[scenario.persona.starting_mood] + [t.mood_after for t in turns],
            tone_curve=[{"turn": t.number, "tone": t.analysis.tone, "confidence": round(t.analysis.tone_confidence, 4)}
                        for t in turns],  # fmt: skip
            averages=averages,
            strengths=strengths[:3],
            practise_next=practise_next,
            model_answers=model_answers,
            coach_reading={"most_common_tone": tones.most_common(1)[0][0] if tones else None,
                           "tones": dict(tones)},  # fmt: skip
        )

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}

    def to_markdown(self) -> str:
        lang = self.lang
        fi = lang == "fi"
        lines = [f"# {self.title}", ""]
        if self.ending:
            lines += [f"**{'Loppu' if fi else 'Ending'}: {self.ending['title']}**", "", self.ending["debrief"], ""]
        lines += [f"## {'Vahvuudet' if fi else 'Strengths'}", ""]
        lines += [f"- {s}" for s in self.strengths] or ["- –"]
        if self.practise_next:
            p = self.practise_next
            lines += ["", f"## {'Harjoittele seuraavaksi' if fi else 'Practise next'}: "
                      f"{DIMENSION_NAMES[p['dimension']][lang]}", "", p["text"], "", p["advice"]]  # fmt: skip
        lines += ["", f"## {'Pisteet' if fi else 'Scores'}", ""]
        lines += [f"- {DIMENSION_NAMES[d][lang]}: {self.averages[d]:.2f}" for d in DIMENSIONS]
        lines += ["", f"## {'Oma näkemys ja valmentajan lukema' if fi else 'Your view and the coach’s reading'}", ""]
        checkin = CHECKIN_NAMES.get(self.checkin, {}).get(lang, self.checkin)
        lines.append(f"- {'Saavuin' if fi else 'I arrived'}: {checkin or '–'}")
        for key, value in self.reflection.items():
            lines.append(f"- {key}: {value}")
        tone = self.coach_reading.get("most_common_tone")
        lines.append(f"- {'Valmentaja luki sävyksi useimmin' if fi else 'Tone the coach read most often'}: "
                     f"{TONE_NAMES[tone][lang] if tone else '–'}")  # fmt: skip
        lines += ["", f"## {'Mieliala' if fi else 'Mood'}: {' → '.join(map(str, self.mood_curve))}", ""]
        lines += [f"## {'Keskustelu' if fi else 'Transcript'}", ""]
        for t in self.turns:
            verdicts = ", ".join(f"{DIMENSION_NAMES[d][lang]} {VERDICT_NAMES[t['dimensions'][d]['verdict']][lang]}" for d in DIMENSIONS)
            lines += [f"**{t['number']}.** {'Asiakas' if fi else 'Customer'}: {t['customer']}", "",
                      f"> {shorten(t['reply'], 2000)}", "",
                      f"{'Sävy' if fi else 'Tone'}: {TONE_NAMES[t['tone']['label']][lang]} ({t['tone']['confidence']:.0%}) · {verdicts} · "
                      f"{'mieliala' if fi else 'mood'} {t['mood_before']} → {t['mood_after']}", ""]  # fmt: skip
            for d in DIMENSIONS:
                lines.append(f"- {DIMENSION_NAMES[d][lang]}: {t['dimensions'][d]['text']}")
            lines.append("")
        if self.model_answers:
            lines += [f"## {'Mallivastauksia' if fi else 'Model answers'}", ""]
            for m in self.model_answers:
                lines += [f"- {'Vuoro' if fi else 'Turn'} {m['turn']}: {m['model_answer']}"]
        return "\n".join(lines) + "\n"
