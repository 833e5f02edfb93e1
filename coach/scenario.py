"""Scenario scripts: the YAML format, its validator and the branching rules every runner uses.

    from coach.scenario import load_scenario, choose_branch, take_turn, walk
    scenario = load_scenario(Path("scenarios/hardware-store-bounce.yaml"))  # UserError if invalid
    beat = scenario.beat(scenario.start_id)
    branch = choose_branch(beat, signals, mood)          # first matching branch, else the fallback
    outcome = take_turn(scenario, beat, signals, mood)   # branch + mood change + where to go next
    scenario.text(beat.says[0], "fi")                    # localized text in one language

    result = check_scenario_file(path)                   # every problem, with line and column
    for problem in result.problems: print(problem)       # FILE:LINE:COL: field.path: message

A scenario is a graph: the customer speaks a *beat*, the learner replies, the reply's
``ReplySignals`` (tone and service moves) pick one of the beat's *branches*, which changes the
customer's mood and leads to another beat or to an *ending*. Conditions are declarative
mappings (``when: {tone_in: [...], moves_any: [...], mood_at_least: N}``), never code.

Checking happens in three passes, so one run reports as much as is trustworthy:
1. the safe YAML loader (coach/yamlsafe.py): syntax, tags, aliases, duplicate keys;
2. the pydantic models: fields, types, names of tones and moves, translations;
3. links between ids: unknown ``next`` targets, duplicate ids, fallback rules. Once the ids
   and links are right, the graph itself: unreachable beats and endings, beats with no way
   to an ending, and branches that an earlier branch always wins over. Those graph findings
   would only echo a broken link, so they wait until the links are fixed.
scenarios/AUTHORING.md is the trainer's guide to the format.
"""

from __future__ import annotations

import difflib
import json
import os
import random
import re
import types
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from coach.errors import UserError
from coach.labels import COARSE_TONES, DIMENSIONS, LANGUAGES, SERVICE_MOVES
from coach.signals import ReplySignals
from coach.yamlsafe import LoadedYaml, YamlLoadError, YamlPath, load_yaml_file, load_yaml_text, read_text_file

MOOD_MIN = 0
MOOD_MAX = 10

ENDING_KINDS: tuple[str, ...] = (
    "resolved",  # the customer leaves with the problem solved
    "partly_resolved",  # a way forward, but the customer is not convinced
    "unresolved",  # nothing was settled, the customer just goes
    "escalated",  # the customer takes it further: a formal complaint, a review, the press
    "handed_to_manager",  # the worker brings in a manager or supervisor
    "walked_out",  # the customer leaves or hangs up in the middle
)
EXAMPLE_LABELS: tuple[str, ...] = ("good", "poor")
DIFFICULTY_NAMES: dict[int, str] = {1: "easy", 2: "medium", 3: "hard"}
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
SCENARIOS_ENV = "PALVELUPEILI_SCENARIOS"
SCENARIO_SUFFIXES = (".yaml", ".yml")


def scenarios_dir() -> Path:
    """The bundled scenarios folder, or the one named by $PALVELUPEILI_SCENARIOS."""
    override = os.environ.get(SCENARIOS_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[1] / "scenarios"


# --- field types ------------------------------------------------------------------------


def _invalid(message: str) -> PydanticCustomError:
    # The template is a bare placeholder so braces in the message are never re-formatted.
    return PydanticCustomError("scenario", "{message}", {"message": message})


def did_you_mean(found: str, options: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest option, or '' when nothing is close."""
    close = difflib.get_close_matches(found, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe_value(value: Any) -> str:
    """How a found value reads in an error message."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "a mapping (key: value pairs)"
    return type(value).__name__


def _named(noun: str, names: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value not in names:
            raise _invalid(
                f"unknown {noun} '{value}'; expected one of: {', '.join(names)}{did_you_mean(value, names)}"
            )
        return value

    return Annotated[str, AfterValidator(check), WithJsonSchema({"type": "string", "enum": list(names)})]


Tone = _named("tone", COARSE_TONES)
Move = _named("service move", SERVICE_MOVES)
Dimension = _named("dimension", DIMENSIONS)
Language = _named("language", LANGUAGES)
EndingKind = _named("ending kind", ENDING_KINDS)
ExampleLabel = _named("example label", EXAMPLE_LABELS)


def _check_id(value: str) -> str:
    if not re.match(ID_PATTERN, value):
        raise _invalid(
            f"an id uses lowercase letters a-z, digits, '-' and '_' and starts with a letter "
            f"or digit; found {value!r}"
        )
    return value


Id = Annotated[str, AfterValidator(_check_id), WithJsonSchema({"type": "string", "pattern": ID_PATTERN})]


def _ranged(low: int, high: int, what: str) -> Any:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise _invalid(f"{what} must be between {low} and {high}; found {value}")
        return value

    return Annotated[
        int, AfterValidator(check), WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})
    ]


Mood = _ranged(MOOD_MIN, MOOD_MAX, "mood")
MoodChange = _ranged(MOOD_MIN - MOOD_MAX, MOOD_MAX - MOOD_MIN, "a mood change")


def _check_localized(value: Any, info: ValidationInfo) -> str | dict[str, str]:
    # The declared languages come in through the validation context: with both declared,
    # every text must carry both translations.
    declared: list[str] | None = (info.context or {}).get("languages")
    if isinstance(value, str):
        if not value.strip():
            raise _invalid("text is empty")
        if declared and len(declared) > 1:
            raise _invalid(
                f"found plain text, but this scenario declares languages {', '.join(declared)}; "
                "give each translation, e.g. {fi: ..., en: ...}"
            )
        return value
    if isinstance(value, dict):
        problems = []
        for lang, text in value.items():
            if lang not in LANGUAGES:
                problems.append(
                    f"unknown language '{lang}'; expected {' or '.join(LANGUAGES)}"
                    f"{did_you_mean(lang, LANGUAGES)}"
                )
            elif declared is not None and lang not in declared:
                problems.append(
                    f"has a '{lang}' text but languages lists only {', '.join(declared)}; "
                    f"add {lang} to languages or remove this text"
                )
            elif not isinstance(text, str) or not text.strip():
                problems.append(f"the '{lang}' text must be non-empty text; found {describe_value(text)}")
        missing = [lang for lang in declared or () if lang not in value]
        if missing:
            problems.append(
                f"missing the {', '.join(repr(m) for m in missing)} translation; this scenario declares "
                f"languages {', '.join(declared or ())}, so every text needs each of them"
            )
        if problems:
            raise _invalid("; ".join(problems))
        return dict(value)
    raise _invalid(
        f"expected text, or one text per language like {{fi: ..., en: ...}}; found {describe_value(value)}"
    )


LocalizedText = Annotated[
    Any,
    PlainValidator(_check_localized),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "properties": {lang: {"type": "string", "minLength": 1} for lang in LANGUAGES},
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ]
        }
    ),
]


def _check_difficulty(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in DIFFICULTY_NAMES:
        return value
    by_name = {name: level for level, name in DIFFICULTY_NAMES.items()}
    if isinstance(value, str) and value in by_name:
        return by_name[value]
    raise _invalid(f"expected 1, 2, 3 or easy, medium, hard; found {describe_value(value)}")


Difficulty = Annotated[
    int,
    PlainValidator(_check_difficulty),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 3},
                {"type": "string", "enum": list(DIFFICULTY_NAMES.values())},
            ]
        }
    ),
]


def _unique_languages(languages: list[str]) -> list[str]:
    if len(set(languages)) != len(languages):
        raise _invalid(f"a language is listed twice; found {languages}")
    return languages


# --- models -----------------------------------------------------------------------------


class _Strict(BaseModel):
    # strict: YAML already produced real numbers and booleans, so "2" is not quietly a 2.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Goal(_Strict):
    dimension: Dimension = Field(description="own (self-regulation), others (respect) or customer (help)")
    text: LocalizedText = Field(description="What the learner practises, in one sentence.")


class WalkOut(_Strict):
    at_or_below: Mood = Field(description="The customer leaves when a mood drop ends at or below this.")
    ending: Id = Field(description="The ending the scenario jumps to when the customer leaves.")


class Persona(_Strict):
    name: str = Field(min_length=1, description="The customer's name (not translated).")
    background: LocalizedText = Field(description="Who the customer is and what has happened so far.")
    wants: LocalizedText = Field(description="What the customer wants from this encounter.")
    starting_mood: Mood = Field(description="Mood at the first beat: 0 furious ... 10 delighted.")
    raises_mood: list[LocalizedText] = Field(min_length=1, description="What makes the customer calmer.")
    lowers_mood: list[LocalizedText] = Field(min_length=1, description="What makes the customer angrier.")
    walks_out: WalkOut | None = Field(
        default=None, description="Optional: leave for an ending when the mood drops this low."
    )


class Example(_Strict):
    label: ExampleLabel = Field(description="good or poor")
    reply: LocalizedText = Field(description="A reply the learner could give here.")
    why: LocalizedText = Field(description="One sentence on why it is good or poor.")


class Condition(_Strict):
    """All the tests given must hold; a test left out always holds."""

    tone_in: Annotated[list[Tone], Field(min_length=1)] | None = Field(
        default=None, description="The reply's tone is one of these."
    )
    tone_not_in: Annotated[list[Tone], Field(min_length=1)] | None = Field(
        default=None, description="The reply's tone is none of these."
    )
    moves_all: Annotated[list[Move], Field(min_length=1)] | None = Field(
        default=None, description="The reply makes every one of these moves."
    )
    moves_any: Annotated[list[Move], Field(min_length=1)] | None = Field(
        default=None, description="The reply makes at least one of these moves."
    )
    moves_none: Annotated[list[Move], Field(min_length=1)] | None = Field(
        default=None, description="The reply makes none of these moves."
    )
    mood_at_least: Mood | None = Field(default=None, description="The customer's mood is at least this.")
    mood_at_most: Mood | None = Field(default=None, description="The customer's mood is at most this.")

    @model_validator(mode="after")
    def _can_match(self) -> Condition:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise _invalid(
                "a condition needs at least one test (tone_in, tone_not_in, moves_all, moves_any, "
                "moves_none, mood_at_least, mood_at_most); for the catch-all branch use fallback: true"
            )
        clashes = [
            f"'{name}' is in both {first} and {second}"
            for first, second in (("tone_in", "tone_not_in"), ("moves_all", "moves_none"))
            for name in (getattr(self, first) or [])
            if name in (getattr(self, second) or [])
        ]
        if self.moves_any and self.moves_none and set(self.moves_any) <= set(self.moves_none):
            clashes.append("every move in moves_any is also in moves_none")
        low, high = self.mood_at_least, self.mood_at_most
        if low is not None and high is not None and low > high:
            clashes.append(f"mood_at_least {low} is above mood_at_most {high}")
        if clashes:
            raise _invalid(f"this condition can never match: {'; '.join(clashes)}")
        return self

    def matches(self, signals: ReplySignals, mood: int) -> bool:
        return (
            (self.tone_in is None or signals.tone in self.tone_in)
            and (self.tone_not_in is None or signals.tone not in self.tone_not_in)
            and (self.moves_all is None or all(signals.has(m) for m in self.moves_all))
            and (self.moves_any is None or any(signals.has(m) for m in self.moves_any))
            and (self.moves_none is None or not any(signals.has(m) for m in self.moves_none))
            and (self.mood_at_least is None or mood >= self.mood_at_least)
            and (self.mood_at_most is None or mood <= self.mood_at_most)
        )

    def describe(self) -> str:
        """A one-line summary, e.g. 'tone in calm, warm; moves all of takes_ownership'."""
        wording = {
            "tone_in": "tone in",
            "tone_not_in": "tone not in",
            "moves_all": "moves all of",
            "moves_any": "moves any of",
            "moves_none": "moves none of",
        }
        parts = [
            f"{text} {', '.join(getattr(self, name))}"
            for name, text in wording.items()
            if getattr(self, name)
        ]
        if self.mood_at_least is not None:
            parts.append(f"mood >= {self.mood_at_least}")
        if self.mood_at_most is not None:
            parts.append(f"mood <= {self.mood_at_most}")
        return "; ".join(parts)


class CoachNote(_Strict):
    dimension: Dimension = Field(description="Which dimension the note is about.")
    text: LocalizedText = Field(description="What the coach says when this branch is taken.")


class Branch(_Strict):
    when: Condition | None = Field(default=None, description="The condition; leave out on the fallback.")
    fallback: bool = Field(default=False, description="true on the last branch, which takes every reply.")
    mood: MoodChange = Field(default=0, description="Mood change, e.g. +2 or -1; the result stays in 0..10.")
    next: Id = Field(description="The id of the beat or ending this branch leads to.")
    coach: CoachNote | None = Field(default=None, description="Optional coaching note for this branch.")

    @model_validator(mode="after")
    def _when_or_fallback(self) -> Branch:
        if self.fallback and self.when is not None:
            raise _invalid("a fallback branch takes every reply, so it has no when:; remove one of the two")
        if not self.fallback and self.when is None:
            raise _invalid(
                "a branch needs when: (its condition), or fallback: true if it is the beat's last, "
                "catch-all branch"
            )
        return self

    def matches(self, signals: ReplySignals, mood: int) -> bool:
        return self.fallback or (self.when is not None and self.when.matches(signals, mood))

    def describe(self) -> str:
        return "fallback" if self.when is None else self.when.describe()


class Beat(_Strict):
    id: Id = Field(description="Unique among beats and endings.")
    says: list[LocalizedText] = Field(
        min_length=1, description="The customer's line; each replay picks one variant."
    )
    examples: list[Example] = Field(default_factory=list, description="Model answers the coach can show.")
    branches: list[Branch] = Field(min_length=1, description="Tried in order; the first match wins.")


class Ending(_Strict):
    id: Id = Field(description="Unique among beats and endings.")
    kind: EndingKind = Field(description="How the encounter ended.")
    title: LocalizedText = Field(description="A short headline for the ending.")
    debrief: LocalizedText = Field(description="What the learner reads at the end: what happened and why.")


class Scenario(_Strict):
    id: Id = Field(description="Unique name of the scenario, e.g. hardware-store-bounce.")
    version: int = Field(ge=1, description="Revision of this script; raise it whenever you change it.")
    languages: Annotated[list[Language], AfterValidator(_unique_languages)] = Field(
        min_length=1, description="[fi], [en] or [fi, en]."
    )
    title: LocalizedText = Field(description="The scenario's name as learners see it.")
    setting: LocalizedText = Field(description="Where and when the encounter happens.")
    difficulty: Difficulty = Field(description="1-3, or easy, medium, hard.")
    goals: list[Goal] = Field(min_length=1, description="Learning goals, each tied to a dimension.")
    persona: Persona
    start: Id | None = Field(default=None, description="The first beat; the first listed beat if left out.")
    beats: list[Beat] = Field(min_length=1)
    endings: list[Ending] = Field(min_length=1)

    @property
    def start_id(self) -> str:
        return self.start or self.beats[0].id

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def difficulty_name(self) -> str:
        return DIFFICULTY_NAMES[self.difficulty]

    def beat(self, beat_id: str) -> Beat:
        for beat in self.beats:
            if beat.id == beat_id:
                return beat
        raise KeyError(f"scenario '{self.id}' has no beat '{beat_id}'")

    def ending(self, ending_id: str) -> Ending:
        for ending in self.endings:
            if ending.id == ending_id:
                return ending
        raise KeyError(f"scenario '{self.id}' has no ending '{ending_id}'")

    def is_ending(self, node_id: str) -> bool:
        return any(e.id == node_id for e in self.endings)

    def text(self, value: str | dict[str, str], lang: str | None = None) -> str:
        """``value`` (any localized field) in ``lang``; the scenario's first language if it lacks one."""
        if isinstance(value, str):
            return value
        if lang in value:
            return value[lang]
        return value[self.default_language]


# --- branching: the rules every runner shares ---------------------------------------------


def apply_mood(mood: int, delta: int) -> int:
    """The mood after a change, kept within MOOD_MIN..MOOD_MAX."""
    return max(MOOD_MIN, min(MOOD_MAX, mood + delta))


def choose_branch(beat: Beat, signals: ReplySignals, mood: int) -> Branch:
    """The first branch of ``beat`` whose condition holds; the fallback when none does."""
    for branch in beat.branches:
        if branch.matches(signals, mood):
            return branch
    raise ValueError(f"beat '{beat.id}' has no fallback branch; validate the scenario before running it")


@dataclass(frozen=True)
class TurnOutcome:
    branch_index: int
    branch: Branch
    mood_before: int
    mood_after: int
    next_id: str  # a beat id, or an ending id when the scenario ends here
    walked_out: bool  # the mood drop triggered persona.walks_out, overriding branch.next


def take_turn(scenario: Scenario, beat: Beat, signals: ReplySignals, mood: int) -> TurnOutcome:
    """Pick the branch for one reply, change the mood and decide where the scenario goes.

    The walk-out rule applies only when the branch lowers the mood: a customer already at the
    threshold stays while things improve, and leaves at the next setback.
    """
    branch = choose_branch(beat, signals, mood)
    index = next(i for i, candidate in enumerate(beat.branches) if candidate is branch)
    mood_after = apply_mood(mood, branch.mood)
    walk_out = scenario.persona.walks_out
    if walk_out is not None and branch.mood < 0 and mood_after <= walk_out.at_or_below:
        return TurnOutcome(index, branch, mood, mood_after, walk_out.ending, walked_out=True)
    return TurnOutcome(index, branch, mood, mood_after, branch.next, walked_out=False)


@dataclass(frozen=True)
class Turn:
    number: int
    beat: Beat
    customer_line: str
    signals: ReplySignals
    outcome: TurnOutcome


@dataclass(frozen=True)
class Walk:
    turns: list[Turn]
    ending: Ending | None  # None when the replies ran out first
    waiting_at: Beat | None  # the beat whose line still waits for a reply, if no ending
    unused_replies: int  # replies left over after the ending


def walk(
    scenario: Scenario, signals_list: Sequence[ReplySignals], lang: str | None = None, seed: int | None = None
) -> Walk:
    """Play ``signals_list`` through the scenario from its start beat; ``seed`` picks the lines."""
    rng = random.Random(seed)
    mood = scenario.persona.starting_mood
    beat = scenario.beat(scenario.start_id)
    turns: list[Turn] = []
    for number, signals in enumerate(signals_list, start=1):
        line = scenario.text(rng.choice(beat.says), lang)
        outcome = take_turn(scenario, beat, signals, mood)
        turns.append(Turn(number, beat, line, signals, outcome))
        mood = outcome.mood_after
        if scenario.is_ending(outcome.next_id):
            return Walk(turns, scenario.ending(outcome.next_id), None, len(signals_list) - number)
        beat = scenario.beat(outcome.next_id)
    return Walk(turns, None, beat, 0)


# --- checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    path: str  # e.g. "beats[3].branches[1].next"; empty for the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


@dataclass(frozen=True)
class CheckResult:
    file: str
    scenario: Scenario | None  # set only when there are no problems
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


class ScenarioError(UserError):
    """A scenario (or replies) file has problems; the message lists each on its own line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class _Finding:
    path: YamlPath
    message: str
    at_key: bool = False  # point at the key (e.g. an unknown field) rather than its value


def format_path(path: YamlPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check_scenario_file(path: Path) -> CheckResult:
    """Every problem in the scenario file at ``path``; the Scenario when there are none."""
    try:
        loaded = load_yaml_file(path)
    except OSError as err:
        return CheckResult(
            str(path), None, [Problem(str(path), 1, 1, "", f"cannot read the file: {err.strerror}")]
        )
    except YamlLoadError as err:
        return CheckResult(str(path), None, _yaml_problems(str(path), err.problems))
    return _check_loaded(loaded, str(path))


def check_scenario_text(text: str, file: str = "<text>") -> CheckResult:
    """Like ``check_scenario_file`` for text already in memory (``file`` names it in messages)."""
    try:
        loaded = load_yaml_text(text)
    except YamlLoadError as err:
        return CheckResult(file, None, _yaml_problems(file, err.problems))
    return _check_loaded(loaded, file)


def load_scenario(path: Path) -> Scenario:
    """The scenario at ``path``; raises ScenarioError (a UserError) listing every problem."""
    result = check_scenario_file(path)
    if result.scenario is None:
        raise ScenarioError(result.problems)
    return result.scenario


def scenario_files(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus the .yaml/.yml files directly inside each named folder."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in SCENARIO_SUFFIXES and p.is_file()))
        else:
            found.append(path)
    return found


def _yaml_problems(file: str, problems: Iterable[Any]) -> list[Problem]:
    return [Problem(file, p.line, p.column, format_path(p.path), p.message) for p in problems]


def _check_loaded(loaded: LoadedYaml, file: str) -> CheckResult:
    problems = _yaml_problems(file, loaded.problems)
    data = loaded.data
    if not isinstance(data, dict):
        problems.append(
            Problem(
                file,
                1,
                1,
                "",
                "expected a mapping of scenario fields (id:, title:, beats:, ...); "
                f"found {describe_value(data)}",
            )
        )
        return CheckResult(file, None, problems)
    findings: list[_Finding] = []
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data, context={"languages": _declared_languages(data)})
    except ValidationError as err:
        findings.extend(_explain(error) for error in err.errors())
    findings.extend(_link_findings(data, loaded))
    if scenario is not None and not findings and not problems:
        findings.extend(_graph_findings(scenario))
        findings.extend(_shadow_findings(scenario, loaded))
    for finding in findings:
        line, column = loaded.mark_for(finding.path, key=finding.at_key)
        problems.append(Problem(file, line, column, format_path(finding.path), finding.message))
    problems.sort(key=lambda p: (p.line, p.column))
    return CheckResult(file, scenario if not problems else None, problems)


def _declared_languages(data: dict[str, Any]) -> list[str] | None:
    languages = data.get("languages")
    if isinstance(languages, list) and languages and all(lang in LANGUAGES for lang in languages):
        return list(dict.fromkeys(languages))
    return None  # unusable: the languages field reports its own error, translations go unchecked


def _model_at(root: Any, loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` under ``root``, by following annotations."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            current = get_args(current)[0] if get_origin(current) is list else None
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
        else:
            return annotation


def _explain(error: Any, root: Any = Scenario) -> _Finding:
    """A pydantic error as a finding whose message says what was expected and what was found."""
    loc: YamlPath = tuple(error["loc"])
    kind = error["type"]
    found = describe_value(error.get("input"))
    if kind == "scenario":
        return _Finding(loc, error["ctx"]["message"])
    if kind == "missing":
        model = _model_at(root, loc[:-1])
        field = model.model_fields.get(str(loc[-1])) if model else None
        about = (
            f" ({field.description[0].lower()}{field.description[1:].rstrip('.')})"
            if field and field.description
            else ""
        )
        return _Finding(loc, f"missing required field '{loc[-1]}'{about}")
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = list(model.model_fields) if model else []
        name = str(loc[-1])
        return _Finding(
            loc,
            f"unknown field '{name}'; expected one of: {', '.join(allowed)}{did_you_mean(name, allowed)}",
            at_key=True,
        )
    expected = {
        "string_type": "text",
        "int_type": "a whole number",
        "bool_type": "true or false",
        "list_type": "a list",
        "model_type": "a mapping (key: value pairs)",
        "model_attributes_type": "a mapping (key: value pairs)",
        "dict_type": "a mapping (key: value pairs)",
    }.get(kind)
    if expected:
        hint = (
            " written as [item, item]" if kind == "list_type" and isinstance(error.get("input"), str) else ""
        )
        return _Finding(loc, f"expected {expected}{hint}; found {found}")
    if kind == "too_short":
        return _Finding(loc, f"expected at least {error['ctx']['min_length']} item(s); found an empty list")
    if kind == "string_too_short":
        return _Finding(loc, "text is empty")
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = error["ctx"].get("ge", error["ctx"].get("le"))
        side = "at least" if kind == "greater_than_equal" else "at most"
        return _Finding(loc, f"expected a number {side} {bound}; found {found}")
    return _Finding(loc, f"{error['msg']}; found {found}")


def _items(data: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    """The mapping items of list ``data[key]``, leniently: whatever is malformed was reported already."""
    values = data.get(key) if isinstance(data, dict) else None
    return [(i, v) for i, v in enumerate(values) if isinstance(v, dict)] if isinstance(values, list) else []


def _link_findings(data: dict[str, Any], loaded: LoadedYaml) -> list[_Finding]:
    """Duplicate ids, unknown targets and fallback rules, read from the raw data.

    Working on the raw data rather than the model means these are reported even while
    other fields of the file still have errors.
    """
    findings: list[_Finding] = []
    first_use: dict[str, YamlPath] = {}
    beat_ids: list[str] = []
    ending_ids: list[str] = []
    for section, ids in (("beats", beat_ids), ("endings", ending_ids)):
        for index, item in _items(data, section):
            node_id = item.get("id")
            if not isinstance(node_id, str):
                continue
            path: YamlPath = (section, index, "id")
            if node_id in first_use:
                earlier = first_use[node_id]
                findings.append(
                    _Finding(
                        path,
                        f"duplicate id '{node_id}'; {format_path(earlier[:2])} on line "
                        f"{loaded.mark_for(earlier)[0]} already uses it (beats and endings share one "
                        "set of ids, so each id must be unique)",
                    )
                )
                continue
            first_use[node_id] = path
            ids.append(node_id)
    targets = beat_ids + ending_ids

    start = data.get("start")
    if isinstance(start, str) and start not in beat_ids:
        message = (
            f"start must be a beat, and '{start}' is an ending"
            if start in ending_ids
            else _unknown_id("start beat", start, "beat", beat_ids)
        )
        findings.append(_Finding(("start",), message))

    persona = data.get("persona")
    walks_out = persona.get("walks_out") if isinstance(persona, dict) else None
    exit_id = walks_out.get("ending") if isinstance(walks_out, dict) else None
    if isinstance(exit_id, str) and exit_id not in ending_ids:
        message = (
            f"walks_out.ending must be an ending, and '{exit_id}' is a beat"
            if exit_id in beat_ids
            else _unknown_id("walk-out ending", exit_id, "ending", ending_ids)
        )
        findings.append(_Finding(("persona", "walks_out", "ending"), message))

    for beat_index, beat in _items(data, "beats"):
        branches = _items(beat, "branches")
        if not branches:
            continue
        name = beat.get("id", f"beats[{beat_index}]")
        for branch_index, branch in branches:
            target = branch.get("next")
            if isinstance(target, str) and target not in first_use:
                findings.append(
                    _Finding(
                        ("beats", beat_index, "branches", branch_index, "next"),
                        _unknown_id("target", target, "beat or ending", targets),
                    )
                )
        fallbacks = [index for index, branch in branches if branch.get("fallback") is True]
        last = len(beat["branches"]) - 1
        if not fallbacks:
            findings.append(
                _Finding(
                    ("beats", beat_index, "branches"),
                    f"beat '{name}' has no fallback branch; add a last branch with fallback: true "
                    "so that every reply leads somewhere",
                    at_key=True,
                )
            )
        for extra in fallbacks[1:]:
            findings.append(
                _Finding(
                    ("beats", beat_index, "branches", extra, "fallback"),
                    f"beat '{name}' has more than one fallback (the first is branches[{fallbacks[0]}]); "
                    "keep exactly one, as the last branch",
                )
            )
        if len(fallbacks) == 1 and fallbacks[0] != last:
            findings.append(
                _Finding(
                    ("beats", beat_index, "branches", fallbacks[0], "fallback"),
                    "the fallback must be the last branch; it takes every reply, so "
                    f"{_branch_range(fallbacks[0] + 1, last)} after it can never be chosen. "
                    "Move it to the end",
                )
            )
    return findings


def _branch_range(first: int, last: int) -> str:
    return f"branches[{first}]" if first == last else f"branches[{first}] to branches[{last}]"


def _unknown_id(what: str, found: str, kind: str, options: list[str]) -> str:
    listed = ", ".join(options) if options else "(none defined yet)"
    return f"unknown {what} '{found}'; expected one of the {kind} ids: {listed}{did_you_mean(found, options)}"


def branch_targets(scenario: Scenario, beat: Beat) -> set[str]:
    """Every id the scenario can go to from ``beat``, counting the walk-out ending."""
    targets = {branch.next for branch in beat.branches}
    walk_out = scenario.persona.walks_out
    if walk_out is not None and any(branch.mood < 0 for branch in beat.branches):
        targets.add(walk_out.ending)
    return targets


def reachable_ids(scenario: Scenario) -> set[str]:
    """Ids reachable from the start beat when any branch may be taken (mood tests ignored)."""
    seen = {scenario.start_id}
    queue = deque([scenario.start_id])
    while queue:
        node_id = queue.popleft()
        if scenario.is_ending(node_id):
            continue
        for target in branch_targets(scenario, scenario.beat(node_id)) - seen:
            seen.add(target)
            queue.append(target)
    return seen


def _graph_findings(scenario: Scenario) -> list[_Finding]:
    findings: list[_Finding] = []
    reachable = reachable_ids(scenario)
    for index, beat in enumerate(scenario.beats):
        if beat.id not in reachable:
            findings.append(
                _Finding(
                    ("beats", index, "id"),
                    f"beat '{beat.id}' can never be reached from the start beat '{scenario.start_id}'; "
                    "point some branch's next: at it, or remove it",
                )
            )
    walk_out = scenario.persona.walks_out
    for index, ending in enumerate(scenario.endings):
        if ending.id not in reachable:
            why = (
                " It is the walk-out ending, but no reachable branch lowers the mood (mood: -N)."
                if walk_out is not None and walk_out.ending == ending.id
                else ""
            )
            findings.append(
                _Finding(
                    ("endings", index, "id"),
                    f"ending '{ending.id}' can never be reached: no branch of a reachable beat "
                    f"leads to it.{why} "
                    "Point a branch's next: at it, or remove it",
                )
            )
    # A beat can finish if one of its targets is an ending or a beat that can finish.
    can_finish = {ending.id for ending in scenario.endings}
    changed = True
    while changed:
        changed = False
        for beat in scenario.beats:
            if beat.id not in can_finish and branch_targets(scenario, beat) & can_finish:
                can_finish.add(beat.id)
                changed = True
    for index, beat in enumerate(scenario.beats):
        if beat.id in reachable and beat.id not in can_finish:
            trapped = sorted(node for node in _reachable_from(scenario, beat.id) if node != beat.id)
            loop = f" (from here only {', '.join(trapped)} can follow)" if trapped else ""
            findings.append(
                _Finding(
                    ("beats", index, "id"),
                    f"beat '{beat.id}' has no path to any ending{loop}; give one of these beats a "
                    "branch whose next: is an ending",
                )
            )
    return findings


def _reachable_from(scenario: Scenario, start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for target in branch_targets(scenario, scenario.beat(queue.popleft())) - seen:
            seen.add(target)
            if not scenario.is_ending(target):
                queue.append(target)
    return seen


def condition_covers(first: Condition, later: Condition) -> bool:
    """True when every reply and mood that satisfy ``later`` also satisfy ``first``.

    Sound but not complete: it may miss an overlap, it never reports a false one.
    """
    later_tones = set(later.tone_in or COARSE_TONES) - set(later.tone_not_in or ())
    later_all = set(later.moves_all or ())
    tests = (
        first.tone_in is None or later_tones <= set(first.tone_in),
        first.tone_not_in is None or not later_tones & set(first.tone_not_in),
        first.moves_all is None or set(first.moves_all) <= later_all,
        first.moves_any is None
        or bool(later_all & set(first.moves_any))
        or (later.moves_any is not None and set(later.moves_any) <= set(first.moves_any)),
        first.moves_none is None or set(first.moves_none) <= set(later.moves_none or ()),
        first.mood_at_least is None or (later.mood_at_least or MOOD_MIN) >= first.mood_at_least,
        first.mood_at_most is None
        or (later.mood_at_most if later.mood_at_most is not None else MOOD_MAX) <= first.mood_at_most,
    )
    return all(tests)


def _shadow_findings(scenario: Scenario, loaded: LoadedYaml) -> list[_Finding]:
    findings: list[_Finding] = []
    for beat_index, beat in enumerate(scenario.beats):
        for later_index, later in enumerate(beat.branches):
            if later.when is None:
                continue
            for first_index, first in enumerate(beat.branches[:later_index]):
                if first.when is not None and condition_covers(first.when, later.when):
                    first_line = loaded.mark_for(("beats", beat_index, "branches", first_index))[0]
                    findings.append(
                        _Finding(
                            ("beats", beat_index, "branches", later_index, "when"),
                            f"this branch can never be chosen: branches[{first_index}] (line {first_line}) "
                            "matches every reply this one matches, and the first match wins; "
                            "put the more specific branch first",
                            at_key=True,
                        )
                    )
                    break
    return findings


# --- JSON Schema ------------------------------------------------------------------------


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of the format, for editors (yaml-language-server) and other tools."""
    schema = Scenario.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Palvelupeili scenario",
        "description": "Generated from coach/scenario.py by `coach scenarios schema`; do not edit by hand.",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def scenario_json_schema_text() -> str:
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"


# --- annotated replies, for scripted play ---------------------------------------------------


class AnnotatedReply(_Strict):
    reply: str = Field(min_length=1, description="What the learner says.")
    tone: Tone | None = Field(
        default=None, description="The reply's coarse tone, as the classifier would read it."
    )
    moves: list[Move] = Field(default_factory=list, description="The service moves the reply makes.")

    def signals(self) -> ReplySignals:
        if self.tone is None:
            raise ValueError("reply has no tone annotation")
        return ReplySignals(tone=self.tone, moves={move: 1.0 for move in self.moves})


def load_replies(path: Path) -> list[AnnotatedReply]:
    """Replies from a YAML list or a .jsonl file; ScenarioError lists every bad entry."""
    file = str(path)
    try:
        if path.suffix == ".jsonl":
            data, loaded = _jsonl(path)
        else:
            loaded = load_yaml_file(path)
            data = loaded.data
    except OSError as err:
        raise UserError(f"cannot read the replies file {path}: {err.strerror}") from None
    except YamlLoadError as err:
        raise ScenarioError(_yaml_problems(file, err.problems)) from None
    problems = _yaml_problems(file, loaded.problems)
    if not isinstance(data, list) or not data:
        problems.append(
            Problem(
                file,
                1,
                1,
                "",
                "expected a list of replies like '- {reply: ..., tone: calm, moves: [...]}'; "
                f"found {describe_value(data)}",
            )
        )
        raise ScenarioError(problems)
    replies: list[AnnotatedReply] = []
    for index, item in enumerate(data):
        try:
            replies.append(AnnotatedReply.model_validate(item))
        except ValidationError as err:
            for error in err.errors():
                finding = _explain({**error, "loc": (index, *error["loc"])}, root=list[AnnotatedReply])
                line, column = loaded.mark_for(finding.path, key=finding.at_key)
                problems.append(Problem(file, line, column, format_path(finding.path), finding.message))
    if problems:
        raise ScenarioError(problems)
    return replies


def _jsonl(path: Path) -> tuple[list[Any], LoadedYaml]:
    loaded = LoadedYaml(data=None)
    entries: list[Any] = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise ScenarioError(
                [Problem(str(path), number, err.colno, "", f"not valid JSON: {err.msg}")]
            ) from None
        loaded.value_marks[(len(entries),)] = (number, 1)
        entries.append(entry)
    return entries, loaded
