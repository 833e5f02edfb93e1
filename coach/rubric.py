"""Evaluate the declarative rule table (coach/rubric.yaml) on one analysed reply.

    rubric = load_rubric()
    signals = rubric_signals(tone_scores, moves, reply, customer_mood=2, readings=readings,
                             customer_line="Miksi tämä kestää näin kauan?")
    assessment = rubric.assess(signals)
    assessment["own"].score, assessment["own"].verdict, assessment["own"].contributions

The rules only ever see numbers in [0, 1] named in the table; how those numbers are computed
(classifier heads, context) is the business of coach/analysis.py, and what is said about them
is the business of coach/feedback.py. docs/rubric.md explains every rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from coach.analysis import ReplyAnalysis, sentence_signal_dict
from coach.answers import grants_request
from coach.labels import COARSE_TONES, DIMENSIONS, SERVICE_MOVES, VERDICT_READINGS

RUBRIC_FILE = Path(__file__).with_name("rubric.yaml")
PENALTY_MODES = ("sum", "worst")
CONTEXT_SIGNALS = ("context.mirroring", "context.panic_apology", "context.curt", "context.irritation_leak",
                   "context.anxiety_leak", "context.sadness_leak", "context.bounce", "context.clear_sarcasm",
                   "context.brush_off", "context.empathy_only", "context.grants_request")  # fmt: skip
CLEAR_SARCASM_FROM = 0.7
KNOWN_SIGNALS = (
    tuple(f"tone.{t}" for t in COARSE_TONES) + tuple(f"move.{m}" for m in SERVICE_MOVES)
    + tuple(f"reading.{r}" for r in VERDICT_READINGS) + CONTEXT_SIGNALS
)
UPSET_CUSTOMER_MOOD = 3
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Rule:
    signal: str
    weight: float
    message: str
    evidence: str  # the signal whose strongest sentence is quoted


@dataclass(frozen=True)
class Contribution:
    rule: Rule
    value: float  # the signal's value for this reply, after the signal floor
    evidence_value: float = 0.0  # the raw value of the rule's evidence signal: how sure the detector the feedback names is

    @property
    def amount(self) -> float:
        return self.rule.weight * self.value


@dataclass(frozen=True)
class DimensionAssessment:
    dimension: str
    score: float
    verdict: str
    contributions: tuple[Contribution, ...]  # every rule, strongest effect first
    missing_message: str

    def to_dict(self) -> dict:
        return {"score": round(self.score, 4), "verdict": self.verdict}


@dataclass(frozen=True)
class DimensionRules:
    base: float
    rules: tuple[Rule, ...]
    missing: str
    # "sum": every negative signal counts; "worst": only the strongest one does, for signals that
    # fire together on the same leak (sarcasm, defensiveness and blame in one sentence).
    penalties: str = "sum"

    def score(self, contributions: tuple[Contribution, ...]) -> float:
        lifts = sum(c.amount for c in contributions if c.amount > 0)
        drops = [c.amount for c in contributions if c.amount < 0]
        drop = (min(drops) if drops else 0.0) if self.penalties == "worst" else sum(drops)
        return min(1.0, max(0.0, self.base + lifts + drop))


@dataclass(frozen=True)
class Rubric:
    good_at: float
    poor_below: float
    signal_floor: float
    dimensions: dict[str, DimensionRules]

    def verdict(self, score: float) -> str:
        if score >= self.good_at:
            return "good"
        return "poor" if score < self.poor_below else "mixed"

    def assess(self, signals: dict[str, float]) -> dict[str, DimensionAssessment]:
        floor = self.signal_floor
        floored = {name: max(0.0, (value - floor) / (1.0 - floor)) for name, value in signals.items()}
        out = {}
        for name, table in self.dimensions.items():
            contributions = tuple(sorted(
                (Contribution(r, floored.get(r.signal, 0.0), signals.get(r.evidence, 0.0)) for r in table.rules),
                key=lambda c: -abs(c.amount),
            ))  # fmt: skip
            score = table.score(contributions)
            out[name] = DimensionAssessment(name, score, self.verdict(score), contributions, table.missing)
        return out


def rubric_signals(tone_scores: dict[str, float], moves: dict[str, float], reply: str, customer_mood: int | None = None,
                   readings: dict[str, float] | None = None, customer_line: str | None = None) -> dict[str, float]:  # fmt: skip
    """Every signal the rule table can name, from the classifier outputs and the context (the customer's
    mood and the line the reply answers, when known)."""
    signals = {name: float(value) for name, value in sentence_signal_dict(tone_scores, moves, readings).items()}
    hostile = max(signals["tone.irritated"], signals["tone.dismissive"], signals["move.sarcasm"])
    upset = customer_mood is not None and customer_mood <= UPSET_CUSTOMER_MOOD
    signals["context.mirroring"] = hostile if upset else 0.0
    signals["context.panic_apology"] = min(signals["move.apologises"], signals["tone.anxious"])
    signals["context.curt"] = 1.0 if len(_WORD.findall(reply)) <= 2 else 0.0
    signals["context.grants_request"] = 1.0 if grants_request(customer_line, reply) else 0.0
    # A short reply that answers, acknowledges, asks or apologises is brief; one that does none of
    # these ("Ihan sama.", "Whatever.", "Hyvä.") is the worker giving up on the encounter.
    engages = max([signals[f"move.{m}"] for m in ("concrete_next_step", "acknowledges_feeling", "asks_clarifying", "apologises")]
                  + [signals["context.grants_request"]])  # fmt: skip
    signals["context.brush_off"] = signals["context.curt"] * (1.0 - engages)
    # Emotion words inside an acknowledgement ("I get why you're angry", "how worrying, I'm so
    # sorry for your loss") describe the customer, not the worker.
    not_acknowledging = 1.0 - signals["move.acknowledges_feeling"]
    signals["context.irritation_leak"] = signals["tone.irritated"] * not_acknowledging
    signals["context.anxiety_leak"] = signals["tone.anxious"] * not_acknowledging
    signals["context.sadness_leak"] = signals["tone.downcast"] * not_acknowledging
    # Sending someone onward is a bounce only when nobody owns the case on the way.
    signals["context.bounce"] = signals["move.deflects"] * (1.0 - signals["move.takes_ownership"])
    # Only a confident sarcasm reading counts in full: the detector also fires weakly on sincere replies.
    signals["context.clear_sarcasm"] = max(0.0, (signals["move.sarcasm"] - CLEAR_SARCASM_FROM) / (1.0 - CLEAR_SARCASM_FROM))
    # Feeling acknowledged is not being helped: empathy with no step, ownership, question or even a
    # vague promise leaves the customer where they came in (docs/rubric.md).
    offers = max(signals[f"move.{m}"] for m in ("concrete_next_step", "takes_ownership", "asks_clarifying", "vague_promise"))
    signals["context.empathy_only"] = max(signals["move.acknowledges_feeling"], signals["move.apologises"]) * (1.0 - offers)
    return signals


def parse_rubric(raw: dict, source: Path) -> Rubric:
    problems = []
    dimensions = {}
    for name in DIMENSIONS:
        table = raw.get("dimensions", {}).get(name)
        if table is None:
            problems.append(f"dimensions.{name}: missing")
            continue
        rules = []
        for i, rule in enumerate(table.get("rules", [])):
            if rule.get("signal") not in KNOWN_SIGNALS:
                problems.append(f"dimensions.{name}.rules[{i}].signal: unknown signal {rule.get('signal')!r}")
            rules.append(Rule(rule.get("signal"), float(rule["weight"]), rule["message"], rule.get("evidence", rule.get("signal"))))
        penalties = table.get("penalties", "sum")
        if penalties not in PENALTY_MODES:
            problems.append(f"dimensions.{name}.penalties: expected one of {', '.join(PENALTY_MODES)}, found {penalties!r}")
        dimensions[name] = DimensionRules(float(table["base"]), tuple(rules), table["missing"], penalties)
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems))
    verdicts = raw["verdicts"]
    return Rubric(float(verdicts["good_at"]), float(verdicts["poor_below"]), float(raw["signal_floor"]), dimensions)


@dataclass(frozen=True)
class Anchor:
    """A clear-cut reply, as classifier outputs, with the verdicts docs/rubric.md defines for it and,
    where it matters, the feedback message that must carry the verdict (the coach has to *name*
    a bounce as a bounce, not only score it poor)."""

    name: str
    reply: str
    tone: dict[str, float]
    moves: dict[str, float]
    expected: dict[str, str]
    because: dict[str, str] = field(default_factory=dict)
    readings: dict[str, float] = field(default_factory=dict)  # the moves model's verdict readings
    customer_line: str = "This is the third time I'm calling about this."  # the line the reply answers


# Fitting the table's numbers on gold data must never break the verdict definitions themselves:
# eval/tune_rubric.py rejects any table that fails one of these, and a test checks the shipped one.
# Every move and reading an anchor does not name is read at ANCHOR_BACKGROUND, as a real model
# reads moves a reply does not make, so a table whose verdicts hinge on that noise is rejected too.
ANCHOR_BACKGROUND = 0.05
ANCHORS: tuple[Anchor, ...] = (
    Anchor("plain sarcasm", "As I already said, the form is online.", {"calm": 0.9}, {"sarcasm": 0.97},
           {"own": "poor", "others": "poor"}, {"own": "own_sarcasm", "others": "others_sarcasm"}),
    Anchor("blaming the customer", "You should have read the terms before you signed.", {"calm": 0.9},
           {"blames_customer": 0.97}, {"others": "poor"}, {"others": "others_blame"}),
    Anchor("open irritation", "Oh come on, not this again.", {"irritated": 0.9}, {}, {"own": "poor"},
           {"own": "own_irritation"}),
    Anchor("panic", "Oh no, sorry sorry, I don't know what to do!", {"anxious": 0.9},
           {"apologises": 0.97, "panicked_or_helpless": 0.97}, {"own": "poor"}, {"own": "own_panic"}),
    Anchor("empathy without action", "I understand, that sounds really frustrating.", {"warm": 0.9},
           {"acknowledges_feeling": 0.97}, {"own": "good", "others": "good", "customer": "poor"}),
    Anchor("action without empathy", "I'll sort it out and call you tomorrow by 10.", {"calm": 0.9},
           {"takes_ownership": 0.97, "concrete_next_step": 0.97}, {"own": "good", "others": "mixed", "customer": "good"}),
    Anchor("the whole move", "That's maddening, I'm sorry. I'll sort it out and call you by 10 tomorrow.", {"warm": 0.9},
           {"acknowledges_feeling": 0.97, "apologises": 0.97, "takes_ownership": 0.97, "concrete_next_step": 0.97},
           {"own": "good", "others": "good", "customer": "good"}),
    Anchor("bouncing (pompottelu)", "That's not our department, ask at the tools desk.", {"calm": 0.9},
           {"deflects": 0.97}, {"customer": "poor"}, {"customer": "customer_deflects"}),
    Anchor("a vague promise", "We'll look into it.", {"calm": 0.9}, {"vague_promise": 0.97}, {"customer": "mixed"}),
    Anchor("policy wall", "Rules are rules.", {"calm": 0.9}, {"hides_behind_policy": 0.97}, {"customer": "poor"}),
    Anchor("one word", "Okay.", {"calm": 0.9}, {}, {"customer": "poor"}, {"customer": "customer_curt"}),
    Anchor("a yes to a simple question", "Of course!", {"warm": 0.9}, {}, {"own": "good", "customer": "good"},
           customer_line="Can we sit outside?"),
    Anchor("an apology that does nothing", "I'm so sorry, that must be awful.", {"apologetic": 0.9},
           {"acknowledges_feeling": 0.97, "apologises": 0.97}, {"others": "good", "customer": "poor"},
           {"customer": "customer_empathy_only"}),
    # docs/rubric.md: a defensive justification is a small leak (mixed), a retort is the worker's
    # own state taking over (poor); the verdict readings carry the difference, the feedback names it.
    Anchor("a defensive justification", "I only work here, I don't set the prices. Let me check what I can do.",
           {"calm": 0.9}, {"defensive_or_irritated": 0.9, "takes_ownership": 0.8}, {"own": "mixed"},
           {"own": "own_defensive"}, {"own_not_good": 0.95, "own_poor": 0.1}),
    Anchor("a retort", "Well, maybe read the sign next time.", {"calm": 0.9},
           {"defensive_or_irritated": 0.9, "blames_customer": 0.9}, {"own": "poor"}, {"own": "own_defensive"},
           {"own_not_good": 0.97, "own_poor": 0.95}),
)  # fmt: skip


def anchor_violations(rubric: Rubric) -> list[str]:
    """Each anchor the rubric gets wrong, as 'anchor: dimension expected X, got Y'."""
    from coach.feedback import feedback_for  # feedback reads this module's types

    problems = []
    for anchor in ANCHORS:
        moves = {m: anchor.moves.get(m, ANCHOR_BACKGROUND) for m in SERVICE_MOVES}
        readings = {r: anchor.readings.get(r, ANCHOR_BACKGROUND) for r in VERDICT_READINGS}
        assessment = rubric.assess(rubric_signals(anchor.tone, moves, anchor.reply, customer_mood=3, readings=readings,
                                                  customer_line=anchor.customer_line))  # fmt: skip
        for dimension, verdict in anchor.expected.items():
            if assessment[dimension].verdict != verdict:
                problems.append(f"{anchor.name}: {dimension} expected {verdict}, got {assessment[dimension].verdict}")
        tone = max(anchor.tone, key=anchor.tone.get)
        analysis = ReplyAnalysis(anchor.reply, tone, anchor.tone[tone], anchor.tone, moves, readings=readings)
        feedback = feedback_for(assessment, analysis, "en")
        for dimension, message in anchor.because.items():
            if feedback[dimension].rule != message:
                problems.append(f"{anchor.name}: {dimension} feedback expected {message}, got {feedback[dimension].rule}")
    return problems


@lru_cache(maxsize=4)
def load_rubric(path: Path = RUBRIC_FILE) -> Rubric:
    return parse_rubric(yaml.safe_load(path.read_text(encoding="utf-8")), path)
