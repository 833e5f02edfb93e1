"""``coach bench``: speed and memory benchmarks on this machine."""

from __future__ import annotations

from pathlib import Path

from coach.commands import add_group

DEFAULT_RESULTS = Path("eval") / "results"


def register(subparsers) -> None:
    commands = add_group(subparsers, "bench", "Measure speed and memory.")
    classifier = commands.add_parser(
        "classifier", help="Single-reply latency p50/p95, batched replies/s and peak RSS of the tone classifier."
    )
    classifier.add_argument("--out", type=Path, default=DEFAULT_RESULTS / "classifier_bench.json")
    classifier.add_argument("--repeats", type=int, default=200, help="single-reply calls to time")
    classifier.add_argument("--batch-replies", type=int, default=1000, help="replies in the throughput run")
    classifier.add_argument("--fp32", action="store_true",
                            help="run in float32 even where the model has an int8 calibration (the default then)")
    classifier.set_defaults(handler=_classifier)

    coaching = commands.add_parser(
        "coaching", help="Time the coach's rubric and feedback per reply, on top of the classifier."
    )
    coaching.add_argument("--out", type=Path, default=DEFAULT_RESULTS / "coaching_bench.json")
    coaching.set_defaults(handler=_coaching)


def _classifier(args) -> int:
    import json

    from coach.evaluate.bench import ClassifierBenchmark
    from coach.tone import load_tone_classifier

    classifier = load_tone_classifier(int8=False if args.fp32 else None)
    result = ClassifierBenchmark(repeats=args.repeats, batch_replies=args.batch_replies)(classifier)
    result["precision"] = "int8" if classifier.int8 else "fp32"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


def _coaching(args) -> int:
    import json

    from coach.analysis import load_analyzer
    from coach.evaluate.bench import CoachingLatencyBenchmark

    result = CoachingLatencyBenchmark()(load_analyzer())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0
