"""The scenario format: bundled scripts, line-numbered problems, safe YAML and branching rules."""

from __future__ import annotations

import itertools
import random
import re
from collections import deque
from pathlib import Path

import pytest

from coach.labels import COARSE_TONES, SERVICE_MOVES
from coach.scenario import (
    Beat,
    Condition,
    Scenario,
    apply_mood,
    check_scenario_file,
    check_scenario_text,
    choose_branch,
    condition_covers,
    reachable_ids,
    scenario_json_schema_text,
    take_turn,
    walk,
)
from coach.signals import ReplySignals
from coach.yamlsafe import MAX_ALIAS_USES, MAX_DEPTH, MAX_FILE_BYTES, load_yaml_text

REPO = Path(__file__).resolve().parents[1]
BUNDLED_DIR = REPO / "scenarios"
BUNDLED = sorted(BUNDLED_DIR.glob("*.yaml"))
FIXTURES = Path(__file__).parent / "fixtures" / "scenarios"
MINIMAL = FIXTURES / "minimal.yaml"
INVALID = FIXTURES / "invalid"


def signals(tone: str = "calm", *moves: str, strength: float = 1.0) -> ReplySignals:
    return ReplySignals(tone=tone, moves={move: strength for move in moves})


def minimal() -> Scenario:
    result = check_scenario_file(MINIMAL)
    assert result.scenario is not None, [str(p) for p in result.problems]
    return result.scenario


# --- bundled scenarios ------------------------------------------------------------------


def test_both_example_scenarios_are_bundled() -> None:
    assert {path.stem for path in BUNDLED} >= {"hardware-store-bounce", "telecom-technician"}


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_scenario_is_valid_and_rich_enough(path: Path) -> None:
    result = check_scenario_file(path)
    assert result.problems == []
    scenario = result.scenario
    assert scenario is not None
    assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=./schema.json\n")
    assert scenario.id == path.stem
    assert len(scenario.beats) >= 6
    assert len(scenario.endings) >= 3
    assert {"resolved", "walked_out"} <= {ending.kind for ending in scenario.endings}
    with_examples = [beat for beat in scenario.beats if {e.label for e in beat.examples} == {"good", "poor"}]
    assert len(with_examples) > len(scenario.beats) / 2


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_beat_and_ending_is_reachable_in_the_graph(path: Path) -> None:
    scenario = check_scenario_file(path).scenario
    assert scenario is not None
    every_id = {beat.id for beat in scenario.beats} | {ending.id for ending in scenario.endings}
    assert reachable_ids(scenario) == every_id


# Replies with up to three moves are enough to satisfy any bundled condition.
SAMPLE_SIGNALS = [
    signals(tone, *moves)
    for tone in COARSE_TONES
    for size in range(4)
    for moves in itertools.combinations(SERVICE_MOVES, size)
]


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_ending_is_reached_by_real_replies_and_every_branch_can_fire(path: Path) -> None:
    """Stronger than the graph search: mood conditions, clamping and walk-outs all apply."""
    scenario = check_scenario_file(path).scenario
    assert scenario is not None
    start = (scenario.start_id, scenario.persona.starting_mood)
    routes: dict[tuple[str, int], list[ReplySignals]] = {start: []}
    ending_routes: dict[str, list[ReplySignals]] = {}
    fired: set[tuple[str, int]] = set()
    queue = deque([start])
    while queue:
        beat_id, mood = queue.popleft()
        beat = scenario.beat(beat_id)
        for reply in SAMPLE_SIGNALS:
            outcome = take_turn(scenario, beat, reply, mood)
            fired.add((beat_id, outcome.branch_index))
            route = [*routes[(beat_id, mood)], reply]
            if scenario.is_ending(outcome.next_id):
                ending_routes.setdefault(outcome.next_id, route)
            elif (outcome.next_id, outcome.mood_after) not in routes:
                routes[(outcome.next_id, outcome.mood_after)] = route
                queue.append((outcome.next_id, outcome.mood_after))
    assert set(ending_routes) == {ending.id for ending in scenario.endings}
    for ending_id, route in ending_routes.items():
        played = walk(scenario, route, seed=1)
        assert played.ending is not None and played.ending.id == ending_id
    every_branch = {(beat.id, index) for beat in scenario.beats for index in range(len(beat.branches))}
    assert every_branch - fired == set(), "branches that no reply in any reachable state chooses"


def test_schema_json_is_in_sync_with_the_models() -> None:
    on_disk = (BUNDLED_DIR / "schema.json").read_text(encoding="utf-8")
    assert on_disk == scenario_json_schema_text(), "run: coach scenarios schema"


def test_schema_lists_the_shared_vocabularies() -> None:
    text = scenario_json_schema_text()
    for name in (*COARSE_TONES, *SERVICE_MOVES):
        assert f'"{name}"' in text


# --- problems, with the line they are reported on ------------------------------------------

# fixture -> [(line, column or None, text the message must contain)], in file order.
EXPECTED: dict[str, list[tuple[int, int | None, str]]] = {
    "unknown-next.yaml": [
        (
            53,
            15,
            (
                "beats[1].branches[1].next: unknown target 'resolvd'; "
                "expected one of the beat or ending ids: "
                "opening, second, resolved, complaint, walked-out (did you mean 'resolved'?)"
            ),
        )
    ],
    "unknown-start-and-exit.yaml": [
        (22, 13, "persona.walks_out.ending: walks_out.ending must be an ending, and 'second' is a beat"),
        (
            23,
            8,
            (
                "start: unknown start beat 'openin'; expected one of the beat ids: opening, second "
                "(did you mean 'opening'?)"
            ),
        ),
    ],
    "unreachable-beat.yaml": [
        (57, 9, "beats[2].id: beat 'orphan' can never be reached from the start beat 'opening'"),
    ],
    "no-path-to-ending.yaml": [
        (57, 9, "beat 'loop-a' has no path to any ending (from here only loop-b can follow)"),
        (63, 9, "beat 'loop-b' has no path to any ending (from here only loop-a can follow)"),
    ],
    "unreachable-ending.yaml": [
        (60, 10, "endings[2].id: ending 'never' can never be reached"),
    ],
    "fallback-rules.yaml": [
        (
            32,
            5,
            "beats[0].branches: beat 'opening' has no fallback branch; add a last branch with fallback: true",
        ),
        (
            45,
            19,
            (
                "beats[1].branches[0].fallback: the fallback must be the last branch; it takes every reply, "
                "so branches[1] after it can never be chosen"
            ),
        ),
        (
            57,
            19,
            (
                "beats[2].branches[1].fallback: beat 'third' has more than one fallback "
                "(the first is branches[0])"
            ),
        ),
    ],
    "mood-out-of-range.yaml": [
        (17, 18, "persona.starting_mood: mood must be between 0 and 10; found 11"),
        (21, 18, "persona.walks_out.at_or_below: mood must be between 0 and 10; found -1"),
        (51, 81, "beats[1].branches[1].when.mood_at_least: mood must be between 0 and 10; found 12"),
        (52, 15, "beats[1].branches[1].mood: a mood change must be between -10 and 10; found 15"),
    ],
    "duplicate-ids.yaml": [
        (44, 9, "beats[1].id: duplicate id 'opening'; beats[0] on line 24 already uses it"),
        (59, 10, "endings[1].id: duplicate id 'opening'; beats[0] on line 24 already uses it"),
    ],
    "unknown-names.yaml": [
        (11, 16, "goals[0].dimension: unknown dimension 'self'; expected one of: own, others, customer"),
        (
            33,
            28,
            (
                "unknown service move 'deflect'; expected one of: acknowledges_feeling, apologises, "
                "takes_ownership, concrete_next_step, asks_clarifying, deflects, blames_customer, "
                "hides_behind_policy, sarcasm, defensive_or_irritated, panicked_or_helpless, vague_promise "
                "(did you mean 'deflects'?)"
            ),
        ),
        (
            37,
            62,
            (
                "beats[0].branches[1].when.tone_in[1]: unknown tone 'angry'; expected one of: calm, warm, "
                "apologetic, irritated, dismissive, anxious, downcast"
            ),
        ),
        (
            56,
            9,
            (
                "beats[1].branches[2].nxt: unknown field 'nxt'; expected one of: when, fallback, mood, next, "
                "coach (did you mean 'next'?)"
            ),
        ),
        (61, 11, "endings[1].kind: unknown ending kind 'escalation'"),
    ],
    "bad-types.yaml": [
        (
            7,
            8,
            "title: expected text, or one text per language like {fi: ..., en: ...}; found the number 2024",
        ),
        (9, 13, "difficulty: expected 1, 2, 3 or easy, medium, hard; found the text 'trivial'"),
        (18, 16, "persona.raises_mood: expected a list written as [item, item]; found the text"),
        (34, 15, "beats[0].branches[0].mood: expected a whole number; found the number -1.5"),
    ],
    "empty-condition.yaml": [
        (33, 15, "beats[0].branches[0].when: a condition needs at least one test"),
        (41, 9, "beats[0].branches[2]: a fallback branch takes every reply, so it has no when:"),
        (
            49,
            15,
            (
                "beats[1].branches[0].when: this condition can never match: "
                "'deflects' is in both moves_all and moves_none"
            ),
        ),
    ],
    "shadowed-branch.yaml": [
        (
            41,
            9,
            (
                "beats[0].branches[2].when: this branch can never be chosen: branches[1] (line 37) matches "
                "every reply this one matches"
            ),
        ),
    ],
    "missing-translation.yaml": [
        (7, 1, "title: missing the 'en' translation; this scenario declares languages fi, en"),
        (26, 9, "beats[0].says[0]: found plain text, but this scenario declares languages fi, en"),
        (35, 14, "endings[0].debrief: unknown language 'sv'; expected fi or en"),
    ],
    "duplicate-key.yaml": [
        (9, 1, "title: duplicate key 'title'; it is already set on line 7"),
    ],
    "python-tag.yaml": [
        (8, 10, "explicit YAML tag '!!python/object/apply:os.system' is not allowed"),
        (8, 10, "setting: expected text"),
    ],
    "alias-bomb.yaml": [
        (8, 4, "this value expands to 66430 values through aliases (the limit is 50000)"),
    ],
    "empty.yaml": [
        (1, 1, "file is empty"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_fixture_reports_each_problem_with_its_line(name: str) -> None:
    path = INVALID / name
    result = check_scenario_file(path)
    assert result.scenario is None
    found = [(p.line, p.column, str(p)) for p in result.problems]
    assert len(found) == len(EXPECTED[name]), "\n".join(text for _, _, text in found)
    for (line, column, text), (want_line, want_column, want_text) in zip(found, EXPECTED[name]):
        assert want_text in text
        assert text.startswith(f"{path}:{want_line}:{want_column}: ")
        assert (line, column) == (want_line, want_column)


def test_expectations_cover_every_invalid_fixture_and_match_its_error_markers() -> None:
    assert {p.name for p in INVALID.glob("*.yaml")} == set(EXPECTED)
    for name, expected in EXPECTED.items():
        lines = (INVALID / name).read_text(encoding="utf-8").splitlines()
        marked = {number for number, line in enumerate(lines, start=1) if re.search(r"# ERROR\b", line)}
        if name != "empty.yaml":
            assert marked == {line for line, _, _ in expected}, name


def test_link_problems_are_reported_alongside_field_problems() -> None:
    text = MINIMAL.read_text(encoding="utf-8")
    text = text.replace("  starting_mood: 6\n", "  starting_mood: 60\n")
    text = text.replace(
        "        mood: +3\n        next: resolved\n", "        mood: +3\n        next: nowhere\n"
    )
    messages = [p.message for p in check_scenario_text(text, "x.yaml").problems]
    assert any("mood must be between 0 and 10; found 60" in m for m in messages)
    assert any("unknown target 'nowhere'" in m for m in messages)


def test_explicit_start_must_be_a_beat_not_an_ending() -> None:
    text = MINIMAL.read_text(encoding="utf-8").replace("beats:\n", "start: resolved\nbeats:\n")
    (problem,) = check_scenario_text(text, "x.yaml").problems
    assert problem.path == "start"
    assert problem.message == "start must be a beat, and 'resolved' is an ending"
    assert problem.line == text.splitlines().index("start: resolved") + 1


def test_missing_required_field_names_the_field_and_what_it_is_for() -> None:
    text = MINIMAL.read_text(encoding="utf-8").replace("        next: complaint\n", "")
    (problem,) = check_scenario_text(text, "x.yaml").problems
    assert problem.path == "beats[1].branches[2].next"
    assert problem.message.startswith("missing required field 'next' (the id of the beat or ending")
    lines = text.splitlines()
    last_fallback = max(i for i, line in enumerate(lines, start=1) if line == "      - fallback: true")
    assert (problem.line, problem.column) == (last_fallback, 9)


def test_walk_out_ending_unreachable_without_a_mood_drop_is_explained() -> None:
    text = re.sub(r"mood: -\d", "mood: 0", MINIMAL.read_text(encoding="utf-8"))
    (problem,) = check_scenario_text(text, "x.yaml").problems
    assert "ending 'walked-out' can never be reached" in problem.message
    assert "no reachable branch lowers the mood" in problem.message


def test_a_file_that_is_not_a_mapping_is_reported() -> None:
    (problem,) = check_scenario_text("- just\n- a list\n", "x.yaml").problems
    assert (problem.line, problem.column) == (1, 1)
    assert (
        "expected a mapping of scenario fields" in problem.message
        and "found a list of 2 item(s)" in problem.message
    )


# --- safe YAML loading --------------------------------------------------------------------


def check_bytes(tmp_path: Path, raw: bytes) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_bytes(raw)
    return [str(p).removeprefix(f"{path}:") for p in check_scenario_file(path).problems]


def test_binary_file_reports_the_nul_byte(tmp_path: Path) -> None:
    assert check_bytes(tmp_path, b"id: x\ntitle: a\x00b\n") == [
        "2:9: file is binary, not text: NUL byte at offset 14"
    ]


def test_non_utf8_file_reports_line_column_and_byte_offset(tmp_path: Path) -> None:
    (message,) = check_bytes(tmp_path, b"id: x\ntitle: \xe4iti\n")
    assert message.startswith("2:8: file is not UTF-8: byte 0xE4 at offset 13 cannot be decoded")


def test_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    assert check_bytes(tmp_path, "id: x\n".encode("utf-16")) == ["1:1: file is UTF-16 text; save it as UTF-8"]


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.read_bytes())
    assert check_scenario_file(path).ok


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    (message,) = check_bytes(tmp_path, b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    assert message.startswith("1:1: file is ") and "the limit is 524288 bytes (512 KB)" in message


def test_tab_indentation_is_a_syntax_error_with_a_hint() -> None:
    (problem,) = check_scenario_text("id: x\n\ttitle: y\n").problems
    assert (problem.line, problem.column) == (2, 1)
    assert "YAML syntax error" in problem.message and "YAML does not allow tab characters" in problem.message


def test_unclosed_quote_points_where_the_quote_opens() -> None:
    (problem,) = check_scenario_text("id: x\ntitle: 'abc\nsetting: y\n").problems
    assert (problem.line, problem.column) == (2, 8)
    assert "a quote or bracket is not closed" in problem.message


def test_unquoted_colon_in_text_gets_a_quoting_hint() -> None:
    (problem,) = check_scenario_text("id: x\ntitle: Note: this breaks\n").problems
    assert problem.line == 2 and "must be put in quotes" in problem.message


def test_second_document_is_refused() -> None:
    (problem,) = check_scenario_text("id: x\n---\nid: y\n").problems
    assert problem.line == 2 and "remove the extra '---'" in problem.message


def test_nesting_depth_is_limited() -> None:
    (problem,) = check_scenario_text("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n").problems
    assert problem.message == f"nesting is deeper than {MAX_DEPTH} levels"
    assert problem.line == 1


def test_alias_uses_are_counted() -> None:
    aliases = ", ".join(["*a"] * (MAX_ALIAS_USES + 1))
    (problem,) = check_scenario_text(f"a: &a [x]\nb: [{aliases}]\n").problems
    assert problem.line == 2
    assert problem.message.startswith(f"too many aliases: more than {MAX_ALIAS_USES} *alias uses")


def test_alias_that_contains_itself_is_refused() -> None:
    (problem,) = check_scenario_text("a: &a [1, *a]\n").problems
    assert problem.message == "an alias refers to a list or mapping that contains it"


def test_any_explicit_tag_is_refused_and_nothing_is_constructed() -> None:
    problems = check_scenario_text("id: !local x\ntitle: !!str y\n").problems
    tags = [p for p in problems if "explicit YAML tag" in p.message]
    assert [(p.line, p.column) for p in tags] == [(1, 5), (2, 8)]
    assert "'!local'" in tags[0].message and "'!!str'" in tags[1].message


def test_merge_keys_and_non_text_keys_are_refused() -> None:
    problems = check_scenario_text("base: &b {x: 1}\nuse:\n  <<: *b\n1: one\n").problems
    messages = {(p.line, p.message) for p in problems}
    assert (3, "merge keys (<<) are not supported; write the fields out in this mapping") in messages
    assert (4, "a key must be a name; found '1'") in messages


def test_control_characters_are_refused() -> None:
    (problem,) = check_scenario_text("id: x\ntitle: a\x07b\n").problems
    assert (problem.line, problem.column) == (2, 9)
    assert problem.message.startswith("control character U+0007")


def test_plain_scalars_follow_yaml_1_2_so_finnish_words_stay_text() -> None:
    data = load_yaml_text(
        "a: on\nb: no\nc: 12:30\nd: 2024-05-01\ne: true\nf: +2\ng: -1\nh: ~\ni: '3'\nj: 1.5\n"
    ).data
    assert data == {
        "a": "on",
        "b": "no",
        "c": "12:30",
        "d": "2024-05-01",
        "e": True,
        "f": 2,
        "g": -1,
        "h": None,
        "i": "3",
        "j": 1.5,
    }


def test_quoted_numbers_are_not_accepted_as_numbers() -> None:
    text = MINIMAL.read_text(encoding="utf-8").replace("  starting_mood: 6\n", "  starting_mood: '6'\n")
    (problem,) = check_scenario_text(text).problems
    assert problem.message == "expected a whole number; found the text '6'"


# --- branching rules ---------------------------------------------------------------------


def beat(*branches: dict) -> Beat:
    return Beat.model_validate({"id": "b", "says": ["Hi"], "branches": list(branches)})


def test_first_matching_branch_wins_in_order() -> None:
    b = beat(
        {"when": {"moves_any": ["deflects"]}, "next": "first"},
        {"when": {"moves_all": ["takes_ownership"]}, "next": "second"},
        {"fallback": True, "next": "last"},
    )
    assert choose_branch(b, signals("calm", "deflects", "takes_ownership"), 5).next == "first"
    assert choose_branch(b, signals("calm", "takes_ownership"), 5).next == "second"
    assert choose_branch(b, signals("calm"), 5).next == "last"


def test_every_test_of_a_condition_must_hold() -> None:
    b = beat(
        {
            "when": {
                "tone_in": ["calm", "warm"],
                "moves_all": ["apologises", "takes_ownership"],
                "moves_none": ["sarcasm"],
            },
            "next": "hit",
        },
        {"fallback": True, "next": "miss"},
    )
    assert choose_branch(b, signals("warm", "apologises", "takes_ownership"), 5).next == "hit"
    assert choose_branch(b, signals("irritated", "apologises", "takes_ownership"), 5).next == "miss"
    assert choose_branch(b, signals("calm", "apologises"), 5).next == "miss"
    assert choose_branch(b, signals("calm", "apologises", "takes_ownership", "sarcasm"), 5).next == "miss"


def test_tone_not_in_and_moves_any() -> None:
    b = beat(
        {
            "when": {"tone_not_in": ["dismissive"], "moves_any": ["apologises", "acknowledges_feeling"]},
            "next": "hit",
        },
        {"fallback": True, "next": "miss"},
    )
    assert choose_branch(b, signals("anxious", "acknowledges_feeling"), 5).next == "hit"
    assert choose_branch(b, signals("dismissive", "acknowledges_feeling"), 5).next == "miss"
    assert choose_branch(b, signals("calm", "concrete_next_step"), 5).next == "miss"


@pytest.mark.parametrize(("mood", "expected"), [(2, "miss"), (3, "hit"), (7, "hit"), (8, "miss")])
def test_mood_bounds_are_inclusive(mood: int, expected: str) -> None:
    b = beat(
        {"when": {"mood_at_least": 3, "mood_at_most": 7}, "next": "hit"},
        {"fallback": True, "next": "miss"},
    )
    assert choose_branch(b, signals("calm"), mood).next == expected


def test_a_move_is_present_only_at_the_signals_threshold() -> None:
    b = beat({"when": {"moves_all": ["takes_ownership"]}, "next": "hit"}, {"fallback": True, "next": "miss"})
    assert choose_branch(b, signals("calm", "takes_ownership", strength=0.5), 5).next == "hit"
    assert choose_branch(b, signals("calm", "takes_ownership", strength=0.49), 5).next == "miss"


def test_choose_branch_refuses_a_beat_without_fallback() -> None:
    b = beat({"when": {"moves_all": ["takes_ownership"]}, "next": "hit"})
    with pytest.raises(ValueError, match="no fallback branch"):
        choose_branch(b, signals("calm"), 5)


@pytest.mark.parametrize(
    ("mood", "delta", "expected"), [(5, 2, 7), (9, 3, 10), (1, -4, 0), (0, 0, 0), (10, -10, 0)]
)
def test_apply_mood_keeps_the_result_within_0_to_10(mood: int, delta: int, expected: int) -> None:
    assert apply_mood(mood, delta) == expected


def test_walk_out_overrides_next_only_when_the_mood_drops_to_the_threshold() -> None:
    scenario = minimal()
    second = scenario.beat("second")
    deflect = signals("calm", "deflects")
    outcome = take_turn(scenario, second, deflect, 4)
    assert (outcome.branch_index, outcome.mood_after, outcome.next_id, outcome.walked_out) == (
        0,
        1,
        "walked-out",
        True,
    )
    outcome = take_turn(scenario, second, deflect, 5)
    assert (outcome.mood_after, outcome.next_id, outcome.walked_out) == (2, "second", False)
    # Already at the threshold, but the reply does not lower the mood: the customer stays.
    owning = signals("calm", "takes_ownership", "concrete_next_step")
    outcome = take_turn(scenario, scenario.beat("opening"), owning, 1)
    assert (outcome.next_id, outcome.walked_out) == ("resolved", False)


def test_walk_reports_the_path_the_ending_and_leftover_replies() -> None:
    scenario = minimal()
    result = walk(scenario, [signals("calm", "deflects"), signals("calm"), signals("warm")], seed=0)
    assert [turn.beat.id for turn in result.turns] == ["opening", "second"]
    assert [turn.outcome.mood_after for turn in result.turns] == [4, 2]
    assert result.ending is not None and result.ending.id == "complaint"
    assert result.unused_replies == 1


def test_walk_stops_at_the_waiting_beat_when_replies_run_out() -> None:
    result = walk(minimal(), [signals("calm", "deflects")])
    assert result.ending is None and result.waiting_at is not None and result.waiting_at.id == "second"


def test_walk_line_choice_is_repeatable_per_seed() -> None:
    scenario = minimal()
    lines = {walk(scenario, [signals("calm")], seed=seed).turns[0].customer_line for seed in range(20)}
    assert lines == set(scenario.beat("opening").says)
    first = [walk(scenario, [signals("calm")], seed=7).turns[0].customer_line for _ in range(3)]
    assert len(set(first)) == 1


def test_text_picks_the_language_and_falls_back_to_the_first_declared() -> None:
    scenario = minimal()
    assert scenario.text("plain", "fi") == "plain"
    bilingual = scenario.model_copy(update={"languages": ["fi", "en"]})
    assert bilingual.text({"fi": "Hei", "en": "Hi"}, "en") == "Hi"
    assert bilingual.text({"fi": "Hei", "en": "Hi"}, None) == "Hei"
    assert bilingual.text({"fi": "Hei", "en": "Hi"}, "sv") == "Hei"


def test_condition_summary_is_readable() -> None:
    condition = Condition.model_validate(
        {"tone_in": ["calm", "warm"], "moves_all": ["takes_ownership"], "mood_at_least": 3}
    )
    assert condition.describe() == "tone in calm, warm; moves all of takes_ownership; mood >= 3"


def random_condition(rng: random.Random) -> Condition:
    moves = ["takes_ownership", "deflects", "apologises"]
    tones = ["calm", "warm", "irritated"]
    fields: dict = {}
    for key, pool in (
        ("tone_in", tones),
        ("tone_not_in", tones),
        ("moves_all", moves),
        ("moves_any", moves),
        ("moves_none", moves),
    ):
        if rng.random() < 0.35:
            fields[key] = rng.sample(pool, rng.randint(1, 2))
    if rng.random() < 0.3:
        fields["mood_at_least"] = rng.randint(0, 6)
    if rng.random() < 0.3:
        fields["mood_at_most"] = rng.randint(4, 10)
    try:
        return Condition.model_validate(fields or {"mood_at_least": 0})
    except ValueError:  # a contradictory draw; try again
        return random_condition(rng)


def test_condition_covers_never_claims_an_overlap_that_is_not_there() -> None:
    rng = random.Random(20240501)
    cases = [
        signals(tone, *moves)
        for tone in ("calm", "warm", "irritated", "downcast")
        for size in range(4)
        for moves in itertools.combinations(["takes_ownership", "deflects", "apologises"], size)
    ]
    claimed = 0
    for _ in range(400):
        first, later = random_condition(rng), random_condition(rng)
        if condition_covers(first, later):
            claimed += 1
            for reply in cases:
                for mood in range(11):
                    if later.matches(reply, mood):
                        assert first.matches(reply, mood), (first, later, reply, mood)
    assert claimed > 20  # the check was exercised, not vacuous


# --- the trainer's guide -----------------------------------------------------------------


def guide_section(title: str) -> str:
    guide = (BUNDLED_DIR / "AUTHORING.md").read_text(encoding="utf-8")
    start = guide.index(f"\n## {title}\n")
    end = guide.find("\n## ", start + 1)
    return guide[start : end if end != -1 else None]


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_guides_worked_example_validates_and_plays_as_the_guide_shows() -> None:
    result = check_scenario_text("".join(yaml_blocks(guide_section("A worked example"))), "AUTHORING.md")
    assert result.problems == []
    assert result.scenario is not None
    (replies_yaml,) = yaml_blocks(guide_section("Trying a scenario with `play`"))
    replies = load_yaml_text(replies_yaml).data
    played = walk(result.scenario, [signals(r["tone"], *r["moves"]) for r in replies], seed=0)
    assert played.ending is not None and played.ending.id == "fixed"
    assert [turn.outcome.mood_after for turn in played.turns] == [2, 4]
