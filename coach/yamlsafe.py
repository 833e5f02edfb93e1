"""Load untrusted YAML as plain data, with the line and column of every value.

    from coach.yamlsafe import load_yaml_file, YamlLoadError
    try:
        loaded = load_yaml_file(path)
    except YamlLoadError as err:          # the file cannot be read as data at all
        for problem in err.problems: print(problem.line, problem.column, problem.message)
    loaded.data                           # dicts, lists, str, int, float, bool, None
    loaded.value_marks[("beats", 0, "id")]  # (line, column), both 1-based
    loaded.problems                       # non-fatal findings: tags, duplicate keys, ...

Scenario scripts are written by trainers and shared as files, so they are treated as
untrusted input. Nothing here constructs Python objects from YAML: the document is composed
into nodes with PyYAML's pure-Python ``SafeLoader`` and those nodes are turned into data by
``_Converter`` below, which also records where each value came from. Explicit tags are
rejected, aliases are counted and expansion is capped (the "billion laughs" bomb), nesting
depth and file size are limited.

Plain scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules: only
``true``/``false`` are booleans and ``on``, ``no``, ``12:30`` or ``2024-05-01`` stay text,
so a Finnish "on" or a time of day never silently turns into something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 512 * 1024
MAX_DEPTH = 32
MAX_ALIAS_USES = 100
# Values produced after expanding aliases; a real scenario has a few thousand.
MAX_EXPANDED_VALUES = 50_000

YamlPath = tuple[str | int, ...]
Mark = tuple[int, int]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")

# PyYAML's parser messages are written for programmers; these add the likely fix.
_SYNTAX_HINTS: tuple[tuple[str, str], ...] = (
    ("found character '\\t'", "indent with spaces; YAML does not allow tab characters for indentation"),
    ("mapping values are not allowed here", "a text that contains ': ' must be put in quotes"),
    (
        "while parsing a flow",
        (
            "inside [ ] or { } put texts that contain , ? : [ ] { } or # in quotes, "
            "or write the list one item per line with '- '"
        ),
    ),
    ("found undefined alias", "an *alias must refer to an &anchor defined earlier in the file"),
    (
        "expected <block end>",
        "check the indentation: items of one list or mapping must start in the same column",
    ),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("but found another document", "a scenario file holds one document; remove the extra '---'"),
)


@dataclass(frozen=True)
class YamlProblem:
    line: int
    column: int
    message: str
    path: YamlPath = ()


class YamlLoadError(Exception):
    """The file could not be turned into data; ``problems`` says where and why."""

    def __init__(self, problems: list[YamlProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass
class LoadedYaml:
    data: Any
    # Where each value starts, keyed by its path from the document root.
    value_marks: dict[YamlPath, Mark] = field(default_factory=dict)
    # Where each mapping key starts: errors about the key itself (unknown field) point here.
    key_marks: dict[YamlPath, Mark] = field(default_factory=dict)
    # Findings that do not stop loading: explicit tags, duplicate keys, non-text keys.
    problems: list[YamlProblem] = field(default_factory=list)

    def mark_for(self, path: YamlPath, *, key: bool = False) -> Mark:
        """The mark of ``path``, or of its closest ancestor that exists in the file.

        A value that starts on a later line than its key (a block list or mapping) is
        reported at the key: ``title:`` is what the author looks for, not its first item.
        """
        key_mark = self.key_marks.get(path)
        value_mark = self.value_marks.get(path)
        if key_mark is not None and (key or value_mark is None or value_mark[0] > key_mark[0]):
            return key_mark
        for end in range(len(path), -1, -1):
            if path[:end] in self.value_marks:
                return self.value_marks[path[:end]]
        return (1, 1)


class _Fatal(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def _mark(mark: yaml.Mark | None) -> Mark:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


class _GuardedLoader(yaml.SafeLoader):
    """Composes nodes only; counts aliases, limits depth and reports explicit tags.

    The pure-Python loader is used on purpose: the C loader does not call ``compose_node``,
    which is where the guards live. Scenario files are small, so speed does not matter.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.alias_uses = 0
        self.tag_problems: list[YamlProblem] = []

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self.alias_uses += 1
            if self.alias_uses > MAX_ALIAS_USES:
                raise _Fatal(
                    self.peek_event().start_mark,
                    f"too many aliases: more than {MAX_ALIAS_USES} *alias uses; "
                    "write the repeated text out instead of nesting anchors",
                )
            return super().compose_node(parent, index)
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None:
            line, column = _mark(event.start_mark)
            self.tag_problems.append(
                YamlProblem(
                    line,
                    column,
                    f"explicit YAML tag '{_short_tag(tag)}' is not allowed; scenario files hold "
                    "only text, numbers, true/false, lists and mappings. Remove the tag",
                )
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Fatal(event.start_mark, f"nesting is deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse documents whose aliases would expand past MAX_EXPANDED_VALUES, before expanding.

    Sizes are counted on the composed graph, where an alias is one shared node, so a bomb
    costs nothing to measure. The error points at the innermost value that is too big.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 1  # placeholder: a self-containing alias is reported by _Converter
            sizes[id(node)] = 1 + sum(size(child) for child in _children(node))
        return sizes[id(node)]

    if size(root) <= MAX_EXPANDED_VALUES:
        return
    node = root
    while True:
        bigger = next((child for child in _children(node) if size(child) > MAX_EXPANDED_VALUES), None)
        if bigger is None:
            break
        node = bigger
    raise _Fatal(
        node.start_mark,
        f"this value expands to {size(node)} values through aliases (the limit is "
        f"{MAX_EXPANDED_VALUES}); this looks like an alias bomb, write the content out instead",
    )


class _Converter:
    """Turns composed nodes into plain data and records each value's mark."""

    def __init__(self, loaded: LoadedYaml) -> None:
        self.loaded = loaded
        # Nodes being converted right now: meeting one again means an alias contains itself.
        self.open_nodes: set[int] = set()

    def convert(self, node: yaml.Node, path: YamlPath) -> Any:
        self.loaded.value_marks.setdefault(path, _mark(node.start_mark))
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if id(node) in self.open_nodes:
            raise _Fatal(node.start_mark, "an alias refers to a list or mapping that contains it")
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self.open_nodes.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, column = _mark(key_node.start_mark)
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a list or mapping"
                self.loaded.problems.append(
                    YamlProblem(line, column, f"a key must be a name; found {shown!r}", path)
                )
                continue
            if key == "<<" and key_node.style is None:
                self.loaded.problems.append(
                    YamlProblem(
                        line,
                        column,
                        "merge keys (<<) are not supported; write the fields out in this mapping",
                        path,
                    )
                )
                continue
            if key in result:
                first_line = self.loaded.key_marks[(*path, key)][0]
                self.loaded.problems.append(
                    YamlProblem(
                        line,
                        column,
                        f"duplicate key '{key}'; it is already set on line {first_line}. Keep one of them",
                        (*path, key),
                    )
                )
                continue
            self.loaded.key_marks[(*path, key)] = (line, column)
            result[key] = self.convert(value_node, (*path, key))
        return result


def _scalar(node: yaml.ScalarNode) -> Any:
    text = node.value
    if node.style is not None:  # quoted or block text is always text
        return text
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def _line_and_column(data: bytes | str, offset: int) -> Mark:
    before = data[:offset]
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = before.count(newline) + 1
    return line, offset - (before.rfind(newline) + 1) + 1


def decode_text(raw: bytes) -> str:
    """Decode a file's bytes as UTF-8 or raise YamlLoadError saying exactly what is wrong."""
    if len(raw) > MAX_FILE_BYTES:
        raise YamlLoadError(
            [YamlProblem(1, 1, f"file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES} bytes (512 KB)")]
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise YamlLoadError([YamlProblem(1, 1, "file is UTF-16 text; save it as UTF-8")])
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        line, column = _line_and_column(raw, offset)
        raise YamlLoadError(
            [YamlProblem(line, column, f"file is binary, not text: NUL byte at offset {offset}")]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line, column = _line_and_column(raw, err.start)
        raise YamlLoadError(
            [
                YamlProblem(
                    line,
                    column,
                    f"file is not UTF-8: byte 0x{raw[err.start]:02X} at offset {err.start} "
                    "cannot be decoded; save the file as UTF-8 (it may be Latin-1/Windows-1252)",
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def load_yaml_text(text: str) -> LoadedYaml:
    """Compose one YAML document from ``text`` and convert it to plain data."""
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise YamlLoadError(
            [YamlProblem(1, 1, "file is empty; a scenario needs at least id, title and beats")]
        )
    loaded = LoadedYaml(data=None)
    loader: _GuardedLoader | None = None
    try:
        # The reader checks for forbidden control characters as soon as it is constructed.
        loader = _GuardedLoader(text)
        root = loader.get_single_node()
        if root is None:
            raise YamlLoadError([YamlProblem(1, 1, "file holds no YAML document")])
        _check_expansion(root)
        loaded.data = _Converter(loaded).convert(root, ())
    except _Fatal as err:
        line, column = _mark(err.mark)
        raise YamlLoadError([YamlProblem(line, column, err.message)]) from None
    except yaml.reader.ReaderError as err:
        line, column = _line_and_column(text, err.position)
        raise YamlLoadError(
            [
                YamlProblem(
                    line,
                    column,
                    f"control character U+{err.character:04X} is not allowed in a YAML file; remove it",
                )
            ]
        ) from None
    except yaml.MarkedYAMLError as err:
        raise YamlLoadError([_syntax_problem(err)]) from None
    except yaml.YAMLError as err:
        raise YamlLoadError([YamlProblem(1, 1, f"YAML error: {err}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    loaded.problems[:0] = loader.tag_problems
    loaded.problems.sort(key=lambda problem: (problem.line, problem.column))
    return loaded


def load_yaml_file(path: Path) -> LoadedYaml:
    """Read ``path`` and load it; see ``read_text_file`` and ``load_yaml_text``."""
    return load_yaml_text(read_text_file(path))


def read_text_file(path: Path) -> str:
    """The UTF-8 text of ``path``; YamlLoadError for files too big, binary or not UTF-8."""
    with open(path, "rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        size = path.stat().st_size
        raise YamlLoadError(
            [YamlProblem(1, 1, f"file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes (512 KB)")]
        )
    return decode_text(raw)


def _syntax_problem(err: yaml.MarkedYAMLError) -> YamlProblem:
    # An unclosed quote or bracket is noticed at the end of the file; where it opened is more useful.
    noticed_at_end = "end of stream" in (err.problem or "")
    mark = (err.context_mark if noticed_at_end else None) or err.problem_mark or err.context_mark
    line, column = _mark(mark)
    parts = [part for part in (err.context, err.problem) if part]
    message = "YAML syntax error: " + ", ".join(parts)
    for needle, hint in _SYNTAX_HINTS:
        if needle in message:
            message += f"; hint: {hint}"
            break
    return YamlProblem(line, column, message)
