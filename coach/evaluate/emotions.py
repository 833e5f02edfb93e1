"""Evaluate the tone classifier on a labelled corpus file in the shared XED/GoEmotions format.

    coach eval emotions --taxonomy xed --data ../shared/data/xed/fi.train.tsv --out runs/xed-fi

    evaluator = EmotionEvaluator(Path("fi.test.tsv"), "xed", lang="fi")
    metrics = evaluator(classifier, out_dir=Path("runs/x"))   # primary metric: metrics["macro_f1"]

Writes ``metrics.json`` (macro_f1, micro_f1, per_label F1 by label name, n, taxonomy, lang) and
``predictions.jsonl`` (one line per input: line number, text, gold labels, predicted labels,
probabilities). Predictions use the thresholds the model ships with, for ``lang`` if given.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from tqdm import tqdm

from coach.corpora import TAXONOMIES, read_corpus

_LANG_IN_NAME = re.compile(r"(?:^|[._-])(fi|en)(?:[._-])")


def language_from_filename(path: Path) -> str | None:
    """XED files are named by language (fi.train.tsv); GoEmotions files are English."""
    match = _LANG_IN_NAME.search(path.name)
    return match.group(1) if match else None


def language_from_texts(texts: list[str]) -> str:
    """Finnish or English, for a file whose name does not say: a fifth of Finnish lines or more carry ä or ö,
    English subtitle lines almost never do."""
    with_umlauts = sum(any(c in t for c in "äöÄÖ") for t in texts)
    return "fi" if with_umlauts >= 0.2 * max(1, len(texts)) else "en"


@dataclass
class EmotionEvaluator:
    data: Path
    taxonomy: str
    lang: str | None = None
    batch_size: int = 64
    primary_metric: str = "macro_f1"

    def __call__(self, classifier, out_dir: Path | None = None, show_progress: bool = True) -> dict:
        examples = read_corpus(self.data, self.taxonomy)
        labels = TAXONOMIES[self.taxonomy]
        lang = self.lang or ("en" if self.taxonomy == "goemotions" else language_from_filename(self.data))
        if lang is None:
            lang = language_from_texts([e.text for e in examples])
            print(f"{self.data.name}: no language in the file name; the text reads as {lang!r} "
                  f"(pass --lang to choose)", file=sys.stderr)  # fmt: skip
        gold = np.zeros((len(examples), len(labels)), dtype=int)
        predicted = np.zeros_like(gold)
        rows = []
        with tqdm(total=len(examples), desc=f"{self.taxonomy} {self.data.name}", unit="text",
                  disable=not show_progress) as bar:  # fmt: skip
            for start in range(0, len(examples), self.batch_size):
                chunk = examples[start : start + self.batch_size]
                results = classifier.classify([e.text for e in chunk], lang=lang)
                for offset, (example, result) in enumerate(zip(chunk, results)):
                    row = start + offset
                    names = getattr(result, f"{self.taxonomy}_labels")
                    gold[row, list(example.labels)] = 1
                    predicted[row, [labels.index(n) for n in names]] = 1
                    rows.append({
                        "line": example.line,
                        "text": example.text,
                        "gold": [labels[i] for i in example.labels],
                        "predicted": names,
                        "probabilities": {k: round(v, 4) for k, v in getattr(result, self.taxonomy).items()},
                    })  # fmt: skip
                bar.update(len(chunk))
        per_label = f1_score(gold, predicted, average=None, zero_division=0)
        metrics = {
            "taxonomy": self.taxonomy,
            "lang": lang,
            "data": str(self.data),
            "n": len(examples),
            "macro_f1": float(f1_score(gold, predicted, average="macro", zero_division=0)),
            "micro_f1": float(f1_score(gold, predicted, average="micro", zero_division=0)),
            "per_label": {name: round(float(v), 4) for name, v in zip(labels, per_label)},
            "support": {name: int(gold[:, i].sum()) for i, name in enumerate(labels)},
        }
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
            with (out_dir / "predictions.jsonl").open("w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return metrics


def summary_table(metrics: dict) -> str:
    lines = [
        f"{metrics['taxonomy']} on {metrics['data']} (lang={metrics['lang']}, n={metrics['n']})",
        f"  macro-F1 {metrics['macro_f1']:.3f}   micro-F1 {metrics['micro_f1']:.3f}",
        f"  {'label':16s} {'F1':>6s} {'support':>8s}",
    ]
    for name, value in metrics["per_label"].items():
        lines.append(f"  {name:16s} {value:6.3f} {metrics['support'][name]:8d}")
    return "\n".join(lines)
