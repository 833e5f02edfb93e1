"""Simulated learners: scripted replies played through the session engine, scenario by scenario.

    scenario = load_scenario(Path("scenarios/telecom-technician.yaml"))
    bank = load_reply_bank(reply_bank_path(scenario.id), scenario)    # UserError if it does not fit
    runs = LearnerSimulator(analyzer, seed=0)(scenario, bank)        # every learner x language
    for flag in scenario_flags(runs): print(flag.message)

A reply bank (``eval/data/reply_banks/<scenario-id>.yaml``) gives three learners, skilled,
average and struggling, a reply for every beat of the scenario in each of its languages: what a
worker at that level would really type when the customer says that beat's line. A learner
answers whichever beat the session has reached, so each one can be played down any branch. A
beat given a list of replies answers its first, second, ... visit with the next one in turn
(starting from an offset drawn from the seed)::

    scenario: telecom-technician
    learners:
      skilled:
        en:
          opening: Three missed visits is awful, and I'm sorry ...
          details: [That's nine days ..., "..."]

The analyzer reads every reply of a language in one batch; sessions then advance with
``Session.apply``, the same path a typed reply takes in the app. A run stops at an ending or,
when the replies go round a loop, after ``MAX_TURNS_PER_BEAT`` turns per beat of the scenario.

Flags: a struggling learner who still reaches a ``resolved`` ending, or a skilled learner who
does not, means the branches (or the classifier's reading of the replies) do not separate good
service from poor.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from coach.errors import UserError
from coach.paths import REPO_ROOT
from coach.scenario import Scenario
from coach.session import Session
from coach.yamlsafe import YamlLoadError, load_yaml_file

LEARNERS: tuple[str, ...] = ("skilled", "average", "struggling")
REPLY_BANKS_DIR = REPO_ROOT / "eval" / "data" / "reply_banks"
RESOLVED = "resolved"
MAX_TURNS_PER_BEAT = 2


def reply_bank_path(scenario_id: str, folder: Path = REPLY_BANKS_DIR) -> Path:
    return folder / f"{scenario_id}.yaml"


@dataclass(frozen=True)
class ReplyBank:
    scenario_id: str
    path: Path
    # learner -> language -> beat id -> replies, answered in turn on repeated visits
    replies: dict[str, dict[str, dict[str, tuple[str, ...]]]]

    def reply(self, learner: str, lang: str, beat_id: str, visit: int, offset: int = 0) -> str:
        options = self.replies[learner][lang][beat_id]
        return options[(offset + visit) % len(options)]

    def texts(self, lang: str) -> list[str]:
        """Every distinct reply in ``lang``, in file order."""
        seen: dict[str, None] = {}
        for by_lang in self.replies.values():
            for options in by_lang.get(lang, {}).values():
                seen.update(dict.fromkeys(options))
        return list(seen)

    def count(self, learner: str, lang: str) -> int:
        return sum(len(options) for options in self.replies[learner][lang].values())


def load_reply_bank(path: Path, scenario: Scenario) -> ReplyBank:
    """The bank at ``path``, checked against ``scenario``; UserError lists every problem by line."""
    if not path.is_file():
        raise UserError(
            f"{path}: no reply bank for scenario '{scenario.id}'. Write one with a reply per beat "
            f"({', '.join(b.id for b in scenario.beats)}) for each of {', '.join(LEARNERS)} "
            f"in {', '.join(scenario.languages)}."
        )
    try:
        loaded = load_yaml_file(path)
    except YamlLoadError as err:
        raise UserError("\n".join(f"{path}:{p.line}:{p.column}: {p.message}" for p in err.problems)) from None
    problems = [(p.line, p.column, p.message) for p in loaded.problems]

    def problem(where: tuple, message: str) -> None:
        line, column = loaded.mark_for(where)
        dotted = ".".join(str(part) for part in where)
        problems.append((line, column, f"{dotted}: {message}" if dotted else message))

    data = loaded.data
    replies: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {}
    if not isinstance(data, dict) or not isinstance(data.get("learners"), dict):
        problem((), "expected 'scenario: <id>' and 'learners:' with skilled, average and struggling")
    else:
        if data.get("scenario") != scenario.id:
            problem(("scenario",), f"expected '{scenario.id}' (the file is named after it), found {data.get('scenario')!r}")
        for extra in sorted(set(data) - {"scenario", "learners"}):
            problem((extra,), "unknown field; a bank has only scenario: and learners:")
        learners = data["learners"]
        for learner in sorted(set(learners) - set(LEARNERS)):
            problem(("learners", learner), f"unknown learner; expected {', '.join(LEARNERS)}")
        beat_ids = [beat.id for beat in scenario.beats]
        for learner in LEARNERS:
            by_lang = learners.get(learner)
            if not isinstance(by_lang, dict):
                problem(("learners", learner), f"missing: give this learner's replies per language ({', '.join(scenario.languages)})")
                continue
            for lang in sorted(set(by_lang) - set(scenario.languages)):
                problem(("learners", learner, lang), f"the scenario has no '{lang}'; it declares {', '.join(scenario.languages)}")
            for lang in scenario.languages:
                by_beat = by_lang.get(lang)
                where = ("learners", learner, lang)
                if not isinstance(by_beat, dict):
                    problem(where, f"missing: give a reply for each beat ({', '.join(beat_ids)})")
                    continue
                missing = [b for b in beat_ids if b not in by_beat]
                if missing:
                    problem(where, f"no reply for beat(s) {', '.join(missing)}; every beat the learner can reach needs one")
                for beat_id in sorted(set(by_beat) - set(beat_ids)):
                    problem((*where, beat_id), f"not a beat of '{scenario.id}'; its beats are {', '.join(beat_ids)}")
                for beat_id in (b for b in beat_ids if b in by_beat):
                    value = by_beat[beat_id]
                    options = [value] if isinstance(value, str) else value
                    if not isinstance(options, list) or not options or not all(
                        isinstance(o, str) and o.strip() for o in options
                    ):
                        problem((*where, beat_id), "expected a reply (text) or a list of replies")
                        continue
                    replies.setdefault(learner, {}).setdefault(lang, {})[beat_id] = tuple(o.strip() for o in options)
    if problems:
        raise UserError("\n".join(f"{path}:{line}:{column}: {message}" for line, column, message in sorted(problems)))
    return ReplyBank(scenario.id, path, replies)


@dataclass
class LearnerRun:
    scenario_id: str
    learner: str
    lang: str
    ending_id: str | None  # None when the turn limit ended the run
    ending_kind: str | None
    mood_curve: list[int]
    averages: dict[str, float]  # mean rubric score per dimension over the run's turns
    turns: list[dict] = field(default_factory=list)  # beat, reply, tone, moves, verdicts, mood_after
    transcript: str = ""  # the session report as the learner would read it (markdown)

    @property
    def resolved(self) -> bool:
        return self.ending_kind == RESOLVED

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LearnerSimulator:
    analyzer: object
    seed: int = 0
    all_languages: bool = True  # False: each scenario's first language only
    primary_metric: str = "flags"

    def __call__(self, scenario: Scenario, bank: ReplyBank, progress=None) -> list[LearnerRun]:
        runs = []
        for lang in scenario.languages if self.all_languages else scenario.languages[:1]:
            texts = bank.texts(lang)
            analyses = dict(zip(texts, self.analyzer.analyze(texts, lang=lang)))
            for learner in LEARNERS:
                runs.append(self._play(scenario, bank, learner, lang, analyses))
                if progress is not None:
                    progress.update(1)
        return runs

    def _play(self, scenario: Scenario, bank: ReplyBank, learner: str, lang: str, analyses: dict) -> LearnerRun:
        session = Session(scenario, self.analyzer, lang=lang, seed=self.seed)
        offset = random.Random(f"{self.seed}:{scenario.id}:{learner}:{lang}").randrange(1000)
        visits: Counter[str] = Counter()
        limit = MAX_TURNS_PER_BEAT * len(scenario.beats)
        while not session.ended and len(session.turns) < limit:
            beat_id = session.current_id
            text = bank.reply(learner, lang, beat_id, visits[beat_id], offset)
            visits[beat_id] += 1
            session.apply(text, analyses[text])
        report = session.report()
        return LearnerRun(
            scenario_id=scenario.id,
            learner=learner,
            lang=lang,
            ending_id=report.ending["id"] if report.ending else None,
            ending_kind=report.ending["kind"] if report.ending else None,
            mood_curve=report.mood_curve,
            averages=report.averages,
            turns=[{"beat": t["beat"], "reply": t["reply"], "tone": t["tone"]["label"],
                    "moves": sorted(m for m, p in t["moves"].items() if p >= 0.5),
                    "verdicts": {d: v["verdict"] for d, v in t["dimensions"].items()},
                    "mood_after": t["mood_after"]} for t in report.turns],  # fmt: skip
            transcript=report.to_markdown(),
        )


@dataclass(frozen=True)
class Flag:
    scenario_id: str
    lang: str | None
    learner: str | None
    message: str


def scenario_flags(runs: list[LearnerRun]) -> list[Flag]:
    """Runs where the scenario does not separate the learners: see the module docstring."""
    flags = []
    for run in runs:
        where = f"{run.scenario_id} ({run.lang})"
        reached = f"'{run.ending_id}' ({run.ending_kind})" if run.ending_id else "no ending within the turn limit"
        if run.learner == "struggling" and run.resolved:
            flags.append(Flag(run.scenario_id, run.lang, run.learner,
                              f"{where}: the struggling learner still reaches the resolved ending {reached}"))  # fmt: skip
        if run.learner == "skilled" and not run.resolved:
            flags.append(Flag(run.scenario_id, run.lang, run.learner,
                              f"{where}: the skilled learner does not reach a resolved ending; it ends at {reached}"))  # fmt: skip
    return flags
