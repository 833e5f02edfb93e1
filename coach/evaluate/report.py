"""The written report of ``coach eval all``: report.md, report.html and plots/*.png.

    paths = write_report(json.loads(Path("runs/eval/results.json").read_text()), Path("runs/eval"))

The report is built once as a list of blocks (headings, paragraphs, tables, bullet lists and
figures) and rendered twice: Markdown that links the PNG files beside it, and one self-contained
HTML page with the same plots embedded. Plots are drawn with matplotlib's Agg backend, so no
display is needed. ``results`` is the dictionary the suite writes to results.json, so a report
can be redrawn from a finished run without any model.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

from coach.labels import DIMENSIONS, VERDICTS

PLOTS = "plots"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Figure:
    path: str  # relative to the report folder
    caption: str


Block = Heading | Paragraph | Bullets | Table | Figure


def _f(value, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _short(text: str | None, limit: int = 220) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------ plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, out_dir: Path, name: str) -> str:
    (out_dir / PLOTS).mkdir(parents=True, exist_ok=True)
    relative = f"{PLOTS}/{name}.png"
    figure.savefig(out_dir / relative, dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return relative


def tone_plot(tone: list[dict], out_dir: Path) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(tone), figsize=(4.2 * len(tone), 7), squeeze=False)
    for axis, entry in zip(axes[0], tone):
        per_label = entry["metrics"]["per_label"]
        names = list(per_label)[::-1]
        axis.barh(names, [per_label[n] for n in names], color="#4c72b0")
        axis.set_xlim(0, 1)
        axis.set_title(f"{entry['key']}  macro-F1 {entry['metrics']['macro_f1']:.2f}", fontsize=10)
        axis.tick_params(axis="y", labelsize=8)
        axis.set_xlabel("F1")
    figure.tight_layout()
    return _save(figure, out_dir, "tone_f1")


def confusion_plot(entry: dict, out_dir: Path) -> str:
    plt = _pyplot()
    overall = entry["metrics"]["all"]
    dimensions = [d for d in DIMENSIONS if d in overall]
    figure, axes = plt.subplots(1, len(dimensions), figsize=(3.6 * len(dimensions), 3.4), squeeze=False)
    for axis, dimension in zip(axes[0], dimensions):
        confusion = overall[dimension]["confusion"]
        matrix, labels = confusion["matrix"], confusion["labels"]
        axis.imshow(matrix, cmap="Blues")
        axis.set_xticks(range(len(labels)), labels)
        axis.set_yticks(range(len(labels)), labels)
        axis.set_xlabel("coach")
        axis.set_ylabel("gold")
        axis.set_title(f"{dimension}  acc {overall[dimension]['accuracy']:.2f}", fontsize=10)
        peak = max(max(row) for row in matrix) or 1
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                axis.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    figure.tight_layout()
    return _save(figure, out_dir, f"confusion_{entry['name']}")


def mood_plot(scenario_id: str, runs: list[dict], out_dir: Path) -> str:
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    figure, axis = plt.subplots(figsize=(6, 3.4))
    styles = {"skilled": "#2a9d8f", "average": "#e9c46a", "struggling": "#e76f51"}
    for run in runs:
        label = f"{run['learner']} ({run['lang']}): {run['ending_kind'] or 'no ending'}"
        axis.plot(range(len(run["mood_curve"])), run["mood_curve"], marker="o", label=label,
                  color=styles.get(run["learner"]), linestyle="-" if run["lang"] == runs[0]["lang"] else "--")  # fmt: skip
    axis.set_ylim(-0.5, 10.5)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("turn")
    axis.set_ylabel("customer mood (0-10)")
    axis.set_title(scenario_id, fontsize=10)
    axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return _save(figure, out_dir, f"mood_{scenario_id}")


# ------------------------------------------------------------------------------ the document


def _headline(results: dict) -> Table:
    rows = []
    if results["coach"]:
        entry = results["coach"][0]
        rows.append([f"coach on {entry['name']}: mean accuracy over dimensions", _f(entry["metrics"]["mean_accuracy"])])
        for dimension, m in entry["metrics"]["all"].items():
            rows.append([f"coach on {entry['name']}: {dimension} accuracy / kappa / severe errors",
                         f"{_f(m['accuracy'])} / {_f(m['kappa'])} / {_f(m['severe_error_rate'])}"])  # fmt: skip
    else:
        rows.append(["coach on gold sets", "no gold_*.jsonl files found"])
    for entry in results["tone"]:
        rows.append([f"tone classifier {entry['key']} macro-F1 (n={entry['metrics']['n']})", _f(entry["metrics"]["macro_f1"])])
    learners = results["learners"]
    rows.append(["simulated learners: flags", f"{len(learners['flags'])} in {len(learners['scenarios'])} scenario(s)"])
    classifier = results["bench"].get("classifier") or {}
    for key, label in (("single_reply_ms_p50", "classifier single-reply latency p50 (ms)"),
                       ("single_reply_ms_p95", "classifier single-reply latency p95 (ms)"),
                       ("batch_replies_per_s", "classifier batched throughput (replies/s)")):  # fmt: skip
        rows.append([label, _f(classifier[key], 2) if key in classifier else "not measured"])
    return Table(["figure", "value"], rows)


def _tone_section(results: dict, out_dir: Path) -> list[Block]:
    blocks: list[Block] = [Heading("1. Tone classifier")]
    tone = results["tone"]
    if not tone:
        return blocks + [Paragraph("No corpus was evaluated.")]
    sources = sorted({entry["source"] for entry in tone})
    blocks.append(Paragraph(f"Data: {'; '.join(sources)}. Per-label thresholds were tuned on the training's dev "
                            "splits, so figures on those splits are optimistic. Macro-F1 averages every label of "
                            "the taxonomy, as `coach eval emotions` does: a label absent from a small sample counts "
                            "as 0, so the column over the labels present is the one to compare across sample sizes."))  # fmt: skip
    rows = []
    for entry in tone:
        m = entry["metrics"]
        supported = [(v, k) for k, v in m["per_label"].items() if m["support"][k] > 0]
        weakest = ", ".join(f"{k} {v:.2f}" for v, k in sorted(supported)[:3])
        rows.append([entry["key"], m["taxonomy"], str(m["lang"]), str(m["n"]), _f(m["macro_f1"]),
                     f"{_f(entry['macro_f1_supported'])} ({entry['labels_in_sample']}/{len(m['per_label'])})",
                     _f(m["micro_f1"]), weakest])  # fmt: skip
    blocks.append(Table(["corpus", "taxonomy", "lang", "n", "macro-F1", "macro-F1, labels present", "micro-F1",
                         "weakest labels (F1)"], rows))  # fmt: skip
    blocks.append(Figure(tone_plot(tone, out_dir), "Per-label F1 on each corpus"))
    return blocks


def _coach_section(results: dict, out_dir: Path) -> list[Block]:
    blocks: list[Block] = [Heading("2. Coach on the gold sets")]
    if not results["coach"]:
        return blocks + [Paragraph(f"No gold_*.jsonl files in {results['gold_dir']}; the coach was not scored.")]
    for index, entry in enumerate(results["coach"]):
        metrics = entry["metrics"]
        title = f"{entry['name']} (headline)" if index == 0 else entry["name"]
        blocks.append(Heading(title, 3))
        blocks.append(Paragraph(f"{entry['file']}: {entry['rows']} line(s), {entry['skipped']} skipped as malformed "
                                f"(see coach/{entry['name']}/errors.jsonl). Mean accuracy "
                                f"{metrics['mean_accuracy']:.3f}."))  # fmt: skip
        rows = []
        for group in ["all"] + sorted(g for g in metrics if g not in ("all", "mean_accuracy")):
            for dimension, m in metrics[group].items():
                rows.append([group, dimension, str(m["n"]), _f(m["accuracy"]), _f(m["kappa"]), _f(m["severe_error_rate"])])
        blocks.append(Table(["language", "dimension", "n", "accuracy", "kappa", "severe error rate"], rows))
        confusion_rows = []
        for dimension, m in metrics["all"].items():
            for label, row in zip(m["confusion"]["labels"], m["confusion"]["matrix"]):
                confusion_rows.append([dimension, label, *map(str, row)])
        blocks.append(Table(["dimension", "gold \\ coach", *VERDICTS], confusion_rows))
        blocks.append(Figure(confusion_plot(entry, out_dir), f"Confusion matrices on {entry['name']}, all languages"))
        worst = entry["worst"]
        blocks.append(Heading(f"Worst disagreements on {entry['name']} ({len(worst)})", 4))
        if not worst:
            blocks.append(Paragraph("The coach agreed with every gold verdict."))
            continue
        blocks.append(Paragraph("Severe (good vs poor) first, then by how far the coach's score lies outside the "
                                "gold verdict's score band."))  # fmt: skip
        blocks.append(Table(["#", "id", "lang", "dimension", "gold", "coach", "score", "reply", "coach's feedback",
                             "gold note"], [
            [str(i), w["id"], w["lang"], w["dimension"], w["gold"], w["coach"] + (" (severe)" if w["severe"] else ""),
             _f(w["score"], 2), _short(w["reply"]), _short(w["feedback"]), _short(w.get("note"), 160)]
            for i, w in enumerate(worst, start=1)
        ]))  # fmt: skip
    return blocks


def _learner_section(results: dict, out_dir: Path) -> list[Block]:
    learners = results["learners"]
    blocks: list[Block] = [Heading("3. Simulated learners")]
    blocks.append(Paragraph("Each scenario played by a skilled, an average and a struggling learner from its reply "
                            "bank (eval/data/reply_banks/). Flagged: a struggling learner who still reaches a "
                            "resolved ending, or a skilled learner who does not. Transcripts: learners/*.md."))  # fmt: skip
    flags = [f["message"] for f in learners["flags"]]
    blocks.append(Bullets(flags) if flags else Paragraph("No flags: every scenario separates the learners."))
    for scenario_id in learners["scenarios"]:
        runs = [r for r in learners["runs"] if r["scenario_id"] == scenario_id]
        blocks.append(Heading(scenario_id, 3))
        if not runs:
            blocks.append(Paragraph("Not played: the scenario has no reply bank."))
            continue
        blocks.append(Table(["learner", "lang", "ending", "turns", "mood curve", *DIMENSIONS], [
            [r["learner"], r["lang"], f"{r['ending_id']} ({r['ending_kind']})" if r["ending_id"] else "none (turn limit)",
             str(len(r["turns"])), " → ".join(map(str, r["mood_curve"])), *(_f(r["averages"][d], 2) for d in DIMENSIONS)]
            for r in runs
        ]))  # fmt: skip
        blocks.append(Figure(mood_plot(scenario_id, runs, out_dir), f"Customer mood per turn in {scenario_id}"))
    return blocks


def _bench_section(results: dict) -> list[Block]:
    blocks: list[Block] = [Heading("4. Benchmarks")]
    names = {"classifier": "Classifier (eval/results/classifier_bench.json)",
             "coaching": "Coaching on top of the classifier (eval/results/coaching_bench.json)",
             "app_load": "App load (eval/results/app_load.json)"}  # fmt: skip
    for name, title in names.items():
        data = results["bench"].get(name)
        if data is None:
            blocks.append(Paragraph(f"{title}: not measured."))
            continue
        rows = [[key, _f(value, 2)] for key, value in data.items() if not isinstance(value, (dict, list))]
        blocks += [Paragraph(f"{title}:"), Table(["figure", "value"], rows)]
    return blocks


def build_report(results: dict, out_dir: Path) -> list[Block]:
    meta = results["meta"]
    timings = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in meta["timings"].items())
    return [
        Heading("Palvelupeili evaluation report", 1),
        Paragraph(f"{meta['created']} · {'quick (CI-sized)' if meta['quick'] else 'full'} run · seed {meta['seed']} · "
                  f"analyzer {meta['analyzer']} · {timings}. Every figure is also in summary.json."),  # fmt: skip
        Heading("Headline"),
        _headline(results),
        *_tone_section(results, out_dir),
        *_coach_section(results, out_dir),
        *_learner_section(results, out_dir),
        *_bench_section(results),
    ]


# ------------------------------------------------------------------------------ rendering


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += [f"{'#' * block.level} {block.text}", ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Bullets):
            lines += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(map(_md_cell, block.header)) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Figure):
            lines += [f"![{block.caption}]({block.path})", ""]
    return "\n".join(lines)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}img{max-width:100%}figure{margin:1em 0}
figcaption{color:#555;font-size:.9em}"""


def render_html(blocks: list[Block], out_dir: Path) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>Palvelupeili evaluation report</title>", f"<style>{_STYLE}</style></head><body>"]  # fmt: skip
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(block, Figure):
            data = base64.b64encode((out_dir / block.path).read_bytes()).decode("ascii")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.caption)}">'
                         f"<figcaption>{html.escape(block.caption)}</figcaption></figure>")  # fmt: skip
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(results: dict, out_dir: Path) -> dict[str, Path]:
    blocks = build_report(results, out_dir)
    paths = {"markdown": out_dir / "report.md", "html": out_dir / "report.html"}
    paths["markdown"].write_text(render_markdown(blocks), encoding="utf-8")
    paths["html"].write_text(render_html(blocks, out_dir), encoding="utf-8")
    return paths
