"""``coach scenarios``: check, create, try out and list scenario scripts.

    coach scenarios validate [PATH ...]      check files or folders (default: the bundled folder)
    coach scenarios new [PATH] [--lang fi|en|fi,en] [--id ID]
                                             write a commented starter scenario (stdout if no PATH)
    coach scenarios play PATH --replies FILE [--lang fi|en] [--seed N] [--expect ENDING]
                                             walk annotated replies through a scenario
    coach scenarios schema [--output FILE] [--check]
                                             (re)write scenarios/schema.json from the models
    coach scenarios list [DIR] [--lang fi|en]

Problems are printed one per line as ``FILE:LINE:COLUMN: field.path: message`` so editors and
CI can jump to them. The bundled folder is the repository's ``scenarios/``, or the folder
named by $PALVELUPEILI_SCENARIOS. Only the standard library is imported here; the format
lives in coach/scenario.py and is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coach.commands import add_group
from coach.errors import UserError

if TYPE_CHECKING:
    from coach.scenario import AnnotatedReply, Scenario, Walk
    from coach.signals import ReplySignals


def register(subparsers: Any) -> None:
    commands = add_group(subparsers, "scenarios", "Check, create, try out and list scenario scripts.")

    validate = commands.add_parser(
        "validate",
        help="Check scenario files; print each problem as FILE:LINE:COL: message.",
        description="Check scenario files (or every .yaml/.yml file in a folder). Exit 0 when all "
        "are valid, 1 when any has problems; every problem is printed, not only the first.",
    )
    validate.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="files or folders (default: bundled)"
    )
    validate.set_defaults(handler=_validate)

    new = commands.add_parser(
        "new",
        help="Write a commented starter scenario.",
        description="Write a small, valid, commented scenario to start from. Refuses to overwrite a file.",
    )
    new.add_argument("path", nargs="?", type=Path, metavar="PATH", help="file to create (default: print it)")
    new.add_argument(
        "--lang", default="fi", metavar="fi|en|fi,en", help="language(s) of the texts (default: fi)"
    )
    new.add_argument(
        "--id", dest="scenario_id", metavar="ID", help="scenario id (default: from the file name)"
    )
    new.set_defaults(handler=_new)

    play = commands.add_parser(
        "play",
        help="Walk replies through a scenario and print the path taken.",
        description="Play a list of replies through a scenario and print the path: beats, branches, "
        "mood and coaching notes, then the ending. A reply annotated with tone and moves is taken "
        "as annotated; one without a tone is read by the classifier.",
    )
    play.add_argument("scenario", metavar="PATH", help="scenario file, or the id of a bundled scenario")
    play.add_argument(
        "--replies", required=True, type=Path, metavar="FILE", help="YAML list or .jsonl of replies"
    )
    play.add_argument("--lang", metavar="fi|en", help="language to show (default: the scenario's first)")
    play.add_argument(
        "--seed", type=int, default=0, help="picks among the customer's line variants (default: 0)"
    )
    play.add_argument("--expect", metavar="ENDING", help="exit 1 unless the replies reach this ending id")
    play.set_defaults(handler=_play)

    schema = commands.add_parser(
        "schema",
        help="Write scenarios/schema.json from the models.",
        description="Regenerate the JSON Schema that editors use to check and complete scenario files.",
    )
    schema.add_argument(
        "--output", type=Path, metavar="FILE", help="where to write (default: bundled schema.json)"
    )
    schema.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file is out of date"
    )
    schema.set_defaults(handler=_schema)

    listing = commands.add_parser(
        "list",
        help="List scenarios: id, languages, difficulty, title.",
        description="List the scenarios in a folder.",
    )
    listing.add_argument("folder", nargs="?", type=Path, metavar="DIR", help="folder (default: bundled)")
    listing.add_argument(
        "--lang", metavar="fi|en", help="language of the titles (default: each scenario's first)"
    )
    listing.set_defaults(handler=_list)


def _bundled_dir() -> Path:
    """The bundled scenarios folder, relative to the working directory when inside it (shorter messages)."""
    from coach.scenario import scenarios_dir

    folder = scenarios_dir()
    try:
        return folder.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return folder


# --- validate ---------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    from coach.scenario import check_scenario_file, scenario_files

    paths: list[Path] = args.paths or [_bundled_dir()]
    unusable = [path for path in paths if not path.exists()]
    for path in unusable:
        print(f"{path}:1:1: no such file or folder")
    files = scenario_files(path for path in paths if path.exists())
    for folder in (path for path in paths if path.is_dir()):
        if not any(file.parent == folder for file in files):
            print(f"{folder}:1:1: no .yaml or .yml files in this folder")
            unusable.append(folder)
    invalid = 0
    for file in files:
        try:
            result = check_scenario_file(file)
        except Exception as err:  # noqa: BLE001 - one broken check must not hide the other files
            print(
                f"{file}:1:1: internal error while checking ({type(err).__name__}: {err}); please report it"
            )
            invalid += 1
            continue
        if result.scenario is not None:
            scenario = result.scenario
            print(
                f"OK {file} ({scenario.id} v{scenario.version}, {','.join(scenario.languages)}, "
                f"{len(scenario.beats)} beats, {len(scenario.endings)} endings)"
            )
        else:
            invalid += 1
            for problem in result.problems:
                print(problem)
    if invalid or unusable:
        count = f"{invalid} of {len(files)} file(s) invalid" if files else "nothing checked"
        print(f"{count}; fix the problems above and run again", file=sys.stderr)
        return 1
    return 0


# --- new --------------------------------------------------------------------------------

# Each text of the starter as (Finnish, English); rendered as plain text or {fi:, en:}.
_STARTER_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Paketti, jota ei löydy", "The parcel that isn't there"),
    "setting": (
        "Lähikaupan pakettipiste arki-iltana. Jonossa on kolme ihmistä.",
        "A parcel pickup point in a corner shop on a weekday evening. Three people are queueing.",
    ),
    "goal": (
        "Ota asia hoitaaksesi sen sijaan, että ohjaat asiakkaan muualle.",
        "Take the case on yourself instead of sending the customer elsewhere.",
    ),
    "background": (
        "Sai eilen viestin, että paketti on noudettavissa. Tämä on jo toinen käynti.",
        "Got a text yesterday saying the parcel was ready. This is the second visit.",
    ),
    "wants": (
        "Paketin tänään, tai varman tiedon siitä, missä se on.",
        "The parcel today, or a straight answer where it is.",
    ),
    "raises": ("Se, että joku ottaa asian omakseen.", "Someone taking the case on."),
    "lowers": ("Neuvo soittaa asiakaspalveluun.", "Being told to call customer service."),
    "opening_1": (
        (
            "Mun paketin piti olla täällä jo eilen. Sovellus sanoo, että noudettavissa, "
            "mutta teidän hyllyssä sitä ei ole."
        ),
        "My parcel was supposed to be here yesterday. The app says it's ready, but it's not on your shelf.",
    ),
    "opening_2": (
        "Moi. Tää on jo toinen kerta, kun mä käyn täällä saman paketin takia.",
        "Hi. This is the second time I've come in for the same parcel.",
    ),
    "good_reply": (
        "Harmillista, että joudut tulemaan uudestaan. Katson seurantakoodilla heti, missä se on.",
        "Sorry you've had to come back. I'll look the tracking code up right now.",
    ),
    "good_why": (
        "Tunnistaa harmin ja lupaa konkreettisen teon itse.",
        "Names the annoyance and commits to a concrete step.",
    ),
    "poor_reply": (
        "Soita asiakaspalveluun, me ei täällä nähdä mitään.",
        "Call customer service, we can't see anything here.",
    ),
    "poor_why": (
        "Lähettää asiakkaan muualle kysymättä mitään.",
        "Sends the customer elsewhere without asking anything.",
    ),
    "deflect_note": (
        "Asiakas on jo käynyt kahdesti. Ohjaus muualle tuntuu siltä, ettei kukaan vastaa asiasta.",
        "This is the second visit. Sending them elsewhere feels like nobody is responsible.",
    ),
    "own_note": ("Otit asian hoitaaksesi: asiakas rauhoittuu.", "You took it on: the customer calms down."),
    "fallback_note": (
        "Vastaus ei vielä kertonut, mitä nyt tapahtuu. Kerro seuraava askel.",
        "The reply did not say what happens next. Name the next step.",
    ),
    "second_1": (
        "Eli mitä mä nyt teen? Mä en jaksa tulla tänne kolmatta kertaa.",
        "So what do I do now? I'm not coming back a third time.",
    ),
    "second_note": (
        "Konkreettinen askel ja oma vastuu ratkaisivat.",
        "A concrete step and ownership settled it.",
    ),
    "sorted_title": ("Paketti löytyi", "Parcel found"),
    "sorted_debrief": (
        "Otit asian hoitaaksesi ja kerroit, mitä seuraavaksi tapahtuu. Asiakas lähti paketin kanssa.",
        "You took the case on and said what would happen next. The customer left with the parcel.",
    ),
    "complaint_title": ("Asiakas tekee valituksen", "The customer files a complaint"),
    "complaint_debrief": (
        (
            "Asiakas ei saanut vastausta, joten hän vie asian eteenpäin. "
            "Mikä vastaus olisi pitänyt hänet mukana?"
        ),
        "The customer got no answer and takes it further. Which reply would have kept them with you?",
    ),
    "walked_title": ("Asiakas lähti", "The customer left"),
    "walked_debrief": (
        "Mieliala putosi niin alas, että asiakas lähti kesken. Katso, missä kohtaa suunta kääntyi.",
        "The mood fell so low that the customer left mid-conversation. Look where it turned.",
    ),
}

_STARTER = """\
# yaml-language-server: $schema={schema}
# A new Palvelupeili scenario. Replace the texts with your own, then check it with
#   coach scenarios validate {path}
# and try a path through it with
#   coach scenarios play {path} --replies my-replies.yaml
# scenarios/AUTHORING.md explains every field.

id: {scenario_id}   # lowercase letters, digits, '-' and '_'
version: 1   # raise this whenever you change the script
languages: [{languages}]   # [fi], [en] or [fi, en]; with both, every text needs fi: and en:
title: «title»
setting: «setting»   # shown to the learner before the first line
difficulty: easy   # easy, medium or hard (or 1, 2, 3)

goals:   # what the learner practises; each goal belongs to one dimension
  - dimension: customer   # own = self-regulation, others = respect, customer = concrete help
    text: «goal»

persona:
  name: Sanna
  background: «background»
  wants: «wants»
  starting_mood: 4   # 0 = furious ... 10 = delighted
  raises_mood:
    - «raises»
  lowers_mood:
    - «lowers»
  walks_out:   # optional: the customer leaves when a mood drop ends this low
    at_or_below: 1
    ending: walked-out

beats:
  - id: opening   # the first beat is where the scenario starts
    says:   # the customer's line; each replay picks one variant
      - «opening_1»
      - «opening_2»
    examples:   # model answers the coach can show
      - label: good
        reply: «good_reply»
        why: «good_why»
      - label: poor
        reply: «poor_reply»
        why: «poor_why»
    branches:   # tried from the top; the first that matches wins
      - when:
          moves_any: [deflects, hides_behind_policy]
        mood: -2
        next: second-try
        coach:
          dimension: customer
          text: «deflect_note»
      - when:
          moves_all: [takes_ownership]
          tone_not_in: [irritated, dismissive]
        mood: +2
        next: sorted
        coach:
          dimension: customer
          text: «own_note»
      - fallback: true   # every beat ends with exactly one fallback
        mood: -1
        next: second-try
        coach:
          dimension: customer
          text: «fallback_note»

  - id: second-try
    says:
      - «second_1»
    branches:
      - when:
          moves_all: [takes_ownership, concrete_next_step]
        mood: +2
        next: sorted
        coach:
          dimension: customer
          text: «second_note»
      - fallback: true
        mood: -2
        next: complaint

endings:
  - id: sorted
    kind: resolved
    title: «sorted_title»
    debrief: «sorted_debrief»
  - id: complaint
    kind: escalated
    title: «complaint_title»
    debrief: «complaint_debrief»
  - id: walked-out
    kind: walked_out
    title: «walked_title»
    debrief: «walked_debrief»
"""

_PLACEHOLDER = re.compile(r"^(?P<indent> *)(?P<lead>- |[a-z_]+: )«(?P<name>\w+)»(?P<rest>.*)$")


def starter_scenario(languages: list[str], scenario_id: str, schema_ref: str, path_hint: str) -> str:
    """The text of a small, valid, commented scenario in ``languages`` (['fi'], ['en'] or both)."""
    head = _STARTER.format(
        schema=schema_ref, path=path_hint, scenario_id=scenario_id, languages=", ".join(languages)
    )
    lines: list[str] = []
    for line in head.splitlines():
        match = _PLACEHOLDER.match(line)
        if match is None:
            lines.append(line)
            continue
        fi, en = _STARTER_TEXTS[match["name"]]
        texts = {"fi": fi, "en": en}
        indent, lead, rest = match["indent"], match["lead"], match["rest"]
        if len(languages) == 1:
            lines.append(f"{indent}{lead}{json.dumps(texts[languages[0]], ensure_ascii=False)}{rest}")
            continue
        quoted = [f"{lang}: {json.dumps(texts[lang], ensure_ascii=False)}" for lang in languages]
        if lead == "- ":  # a list item becomes a mapping whose first key sits on the dash line
            lines.append(f"{indent}- {quoted[0]}{rest}")
            lines.extend(f"{indent}  {text}" for text in quoted[1:])
        else:
            lines.append(f"{indent}{lead.rstrip()}{rest}")
            lines.extend(f"{indent}  {text}" for text in quoted)
    return "\n".join(lines) + "\n"


def _parse_languages(value: str) -> list[str]:
    from coach.labels import LANGUAGES

    languages = [part.strip() for part in value.split(",") if part.strip()]
    if (
        not languages
        or any(lang not in LANGUAGES for lang in languages)
        or len(set(languages)) != len(languages)
    ):
        raise UserError(f"--lang expects fi, en or fi,en; found {value!r}")
    return languages


def _new(args: argparse.Namespace) -> int:
    from coach.scenario import ID_PATTERN, scenarios_dir

    languages = _parse_languages(args.lang)
    path: Path | None = args.path
    scenario_id = args.scenario_id or (path.stem if path else "my-scenario")
    if not re.match(ID_PATTERN, scenario_id):
        raise UserError(
            f"scenario id {scenario_id!r} is not usable as an id (lowercase letters, digits, '-' and '_'); "
            "pass one with --id"
        )
    schema = scenarios_dir() / "schema.json"
    if path is None:
        sys.stdout.write(starter_scenario(languages, scenario_id, str(schema), "my-scenario.yaml"))
        return 0
    if path.suffix not in (".yaml", ".yml"):
        raise UserError(f"{path}: a scenario file name ends in .yaml; found {path.suffix or 'no extension'}")
    if path.exists():
        raise UserError(f"{path} already exists; choose another name or remove it first")
    if not path.parent.is_dir():
        raise UserError(f"folder {path.parent} does not exist; create it first")
    schema_ref = os.path.relpath(schema, path.resolve().parent).replace(os.sep, "/")
    if not schema_ref.startswith("."):
        schema_ref = f"./{schema_ref}"
    with open(path, "x", encoding="utf-8") as handle:  # "x": never overwrite, even in a race
        handle.write(starter_scenario(languages, scenario_id, schema_ref, str(path)))
    print(f"wrote {path}; check it with: coach scenarios validate {path}")
    return 0


# --- play -------------------------------------------------------------------------------


def _signals_for(replies: list[AnnotatedReply], lang: str) -> list[ReplySignals]:
    """Annotated replies keep their signals; the others are read by the real analyzer."""
    unannotated = [reply.reply for reply in replies if reply.tone is None]
    analysed = iter(_load_analyzer().analyze(unannotated, lang=lang) if unannotated else [])
    return [reply.signals() if reply.tone is not None else next(analysed).signals for reply in replies]


def _load_analyzer():
    from coach.analysis import load_analyzer

    return load_analyzer()


def _scenario_path(name: str) -> Path:
    from coach.scenario import scenarios_dir

    path = Path(name)
    if path.exists():
        return path
    for suffix in (".yaml", ".yml"):
        bundled = scenarios_dir() / f"{name}{suffix}"
        if bundled.exists():
            return bundled
    raise UserError(
        f"{name}: no such scenario file, and no bundled scenario with that id in {scenarios_dir()}"
    )


def _play(args: argparse.Namespace) -> int:
    from coach.scenario import load_replies, load_scenario, walk

    scenario = load_scenario(_scenario_path(args.scenario))
    if args.lang is not None and args.lang not in scenario.languages:
        raise UserError(
            f"--lang {args.lang}: this scenario is written in {', '.join(scenario.languages)} only"
        )
    replies = load_replies(args.replies)
    if args.expect is not None and not scenario.is_ending(args.expect):
        raise UserError(
            f"--expect {args.expect}: not an ending of this scenario; endings: "
            + ", ".join(ending.id for ending in scenario.endings)
        )
    lang = args.lang or scenario.default_language
    result = walk(scenario, _signals_for(replies, lang), lang=lang, seed=args.seed)
    _print_walk(scenario, replies, result, lang)
    if args.expect is not None and (result.ending is None or result.ending.id != args.expect):
        reached = result.ending.id if result.ending else "no ending"
        print(f"expected ending '{args.expect}', reached {reached}", file=sys.stderr)
        return 1
    return 0


def _print_walk(scenario: Scenario, replies: list[AnnotatedReply], result: Walk, lang: str) -> None:
    print(f"{scenario.id} v{scenario.version} [{lang}]: {scenario.text(scenario.title, lang)}")
    print(f"start mood {scenario.persona.starting_mood}/10, start beat '{scenario.start_id}'")
    for turn, reply in zip(result.turns, replies):
        outcome = turn.outcome
        moves = ", ".join(turn.signals.present_moves) or "none"
        change = f"{outcome.branch.mood:+d}"
        if outcome.mood_before + outcome.branch.mood != outcome.mood_after:
            change += ", kept within 0..10"
        print()
        print(f"turn {turn.number}  beat '{turn.beat.id}'")
        _print_labelled("customer", turn.customer_line)
        _print_labelled("reply", reply.reply)
        _print_labelled("signals", f"tone {turn.signals.tone}; moves {moves}")
        _print_labelled("branch", f"branches[{outcome.branch_index}]: {outcome.branch.describe()}")
        _print_labelled("mood", f"{outcome.mood_before} -> {outcome.mood_after} ({change})")
        if outcome.branch.coach is not None:
            note = outcome.branch.coach
            _print_labelled("coach", f"({note.dimension}) {scenario.text(note.text, lang)}")
        if outcome.walked_out:
            _print_labelled("walks out", "the mood drop reached persona.walks_out.at_or_below")
        _print_labelled("next", outcome.next_id)
    print()
    if result.ending is not None:
        ending = result.ending
        print(f"ending '{ending.id}' ({ending.kind}): {scenario.text(ending.title, lang)}")
        print(
            textwrap.fill(
                scenario.text(ending.debrief, lang), width=_WIDTH, initial_indent="  ", subsequent_indent="  "
            )
        )
        if result.unused_replies:
            print(
                f"note: the last {result.unused_replies} reply(ies) came after the ending and were not used"
            )
    elif result.waiting_at is not None:
        print(
            f"no ending yet: the replies ran out at beat '{result.waiting_at.id}'; "
            "add replies to the file to go on"
        )


_WIDTH = 100


def _print_labelled(label: str, text: str) -> None:
    print(
        textwrap.fill(text, width=_WIDTH, initial_indent=f"  {label + ':':<11}", subsequent_indent=" " * 13)
    )


# --- schema -----------------------------------------------------------------------------


def _schema(args: argparse.Namespace) -> int:
    from coach.scenario import scenario_json_schema_text, scenarios_dir

    target: Path = args.output or scenarios_dir() / "schema.json"
    text = scenario_json_schema_text()
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if args.check:
        if current != text:
            print(f"{target} is out of date; run: coach scenarios schema", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    if current == text:
        print(f"{target} is already up to date")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


# --- list -------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from coach.scenario import check_scenario_file, scenario_files

    folder: Path = args.folder or _bundled_dir()
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder")
    files = scenario_files([folder])
    if not files:
        print(f"no scenarios in {folder}")
        return 0
    invalid = 0
    print(f"{'ID':<28} {'LANG':<6} {'LEVEL':<7} TITLE")
    for file in files:
        result = check_scenario_file(file)
        if result.scenario is None:
            invalid += 1
            print(
                f"{file.name:<28} {'-':<6} {'-':<7} INVALID: {len(result.problems)} problem(s); "
                f"run: coach scenarios validate {file}"
            )
            continue
        scenario = result.scenario
        lang = args.lang if args.lang in scenario.languages else scenario.default_language
        print(
            f"{scenario.id:<28} {','.join(scenario.languages):<6} {scenario.difficulty_name:<7} "
            f"{scenario.text(scenario.title, lang)}"
        )
    return 1 if invalid else 0
