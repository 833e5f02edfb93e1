"""Compare two ``summary.json`` files of ``coach eval all``: what got better and what got worse.

    coach eval compare runs/before/summary.json runs/after/summary.json

    comparison = compare_summaries(load_summary(old_path), load_summary(new_path))
    print(format_comparison(comparison, "before", "after"))

Which way is better follows from the key's last part: accuracy, kappa, F1 and replies per second
up; severe error rates, latencies, seconds, memory, skipped lines and flags down. A skilled
learner reaching a resolved ending is better, a struggling one reaching it is worse. Every other
figure that moved (turns, mood, mean scores of a simulated learner, sample sizes, an ending) is
listed as changed without a verdict. Within each group the largest relative moves come first
(delta divided by the larger of the two values, so latencies and accuracies sort together).
``meta.*`` keys describe the run and are shown in the header, never compared.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from coach.errors import UserError

HIGHER_IS_BETTER = {"accuracy", "mean_accuracy", "kappa", "macro_f1", "micro_f1"}
LOWER_IS_BETTER = {"severe_error_rate", "skipped", "flags", "missing_banks", "peak_rss_mb"}
LOWER_SUFFIXES = ("_ms", "_s", "_seconds")
TOLERANCE = 1e-9

Value = float | int | str | bool | None


def direction(key: str) -> int:
    """+1 when a higher value is better, -1 when lower is better, 0 when neither."""
    parts = key.split(".")
    last = parts[-1]
    if parts[0] == "sim" and len(parts) > 2:
        if last == "resolved":
            return {"skilled": 1, "struggling": -1}.get(parts[-2], 0)
        return 0
    if last in HIGHER_IS_BETTER or last.endswith("_per_s"):
        return 1
    if last in LOWER_IS_BETTER or last.endswith(LOWER_SUFFIXES) or "_ms_" in last:
        return -1
    return 0


@dataclass(frozen=True)
class Change:
    key: str
    old: Value
    new: Value
    direction: int

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (self.old, self.new))

    @property
    def delta(self) -> float | None:
        return self.new - self.old if self.numeric else None

    @property
    def size(self) -> float:
        """The relative move, |delta| / max(|old|, |new|); non-numeric changes sort last."""
        if not self.numeric:
            return -1.0
        return abs(self.delta) / max(abs(self.old), abs(self.new))

    @property
    def verdict(self) -> str:
        if not self.numeric or self.direction == 0:
            return "changed"
        return "better" if self.delta * self.direction > 0 else "worse"


@dataclass
class Comparison:
    old_meta: dict
    new_meta: dict
    better: list[Change] = field(default_factory=list)
    worse: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    unchanged: int = 0


def load_summary(path: Path) -> dict[str, Value]:
    if not path.is_file():
        raise UserError(f"{path}: no such file; expected a summary.json written by `coach eval all`.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not valid JSON ({err}); expected a summary.json written by `coach eval all`.") from None
    if not isinstance(data, dict) or any(isinstance(v, (dict, list)) for v in data.values()):
        raise UserError(f"{path}: expected a flat JSON object of figures like {{\"coach.gold_test.mean_accuracy\": 0.8}}.")
    return data


def _same(old: Value, new: Value) -> bool:
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(old, bool):
        return math.isclose(old, new, rel_tol=0, abs_tol=TOLERANCE)
    return old == new


def compare_summaries(old: dict[str, Value], new: dict[str, Value]) -> Comparison:
    comparison = Comparison({k: v for k, v in old.items() if k.startswith("meta.")},
                            {k: v for k, v in new.items() if k.startswith("meta.")})  # fmt: skip
    old_keys = {k for k in old if not k.startswith("meta.")}
    new_keys = {k for k in new if not k.startswith("meta.")}
    comparison.only_old = sorted(old_keys - new_keys)
    comparison.only_new = sorted(new_keys - old_keys)
    for key in sorted(old_keys & new_keys):
        if _same(old[key], new[key]):
            comparison.unchanged += 1
            continue
        change = Change(key, old[key], new[key], direction(key))
        getattr(comparison, change.verdict).append(change)
    for group in (comparison.better, comparison.worse, comparison.changed):
        group.sort(key=lambda c: (-c.size, c.key))
    return comparison


def _value(value: Value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _line(change: Change, width: int) -> str:
    text = f"  {change.key:<{width}}  {_value(change.old)} → {_value(change.new)}"
    if change.numeric:
        relative = f" ({change.delta / abs(change.old):+.1%})" if change.old else ""
        text += f"   {change.delta:+.4g}{relative}"
    return text


def format_comparison(comparison: Comparison, old_name: str, new_name: str) -> str:
    lines = [f"old: {old_name}  ({comparison.old_meta.get('meta.created', 'unknown date')})",
             f"new: {new_name}  ({comparison.new_meta.get('meta.created', 'unknown date')})"]  # fmt: skip
    if comparison.old_meta.get("meta.quick") != comparison.new_meta.get("meta.quick"):
        lines.append("note: one run is --quick and the other is not; their samples differ.")
    changes = comparison.better + comparison.worse + comparison.changed
    width = max((len(c.key) for c in changes), default=0)
    for title, group in (("Better", comparison.better), ("Worse", comparison.worse),
                         ("Changed (no better or worse)", comparison.changed)):  # fmt: skip
        lines += ["", f"{title} ({len(group)}):"]
        lines += [_line(c, width) for c in group] or ["  none"]
    for title, keys in (("Only in old", comparison.only_old), ("Only in new", comparison.only_new)):
        if keys:
            lines += ["", f"{title} ({len(keys)}):"] + [f"  {k}" for k in keys]
    lines += ["", f"{comparison.unchanged} figure(s) unchanged."]
    return "\n".join(lines)
