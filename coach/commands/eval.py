"""``coach eval``: batch evaluation of the classifier and the coach."""

from __future__ import annotations

from pathlib import Path

from coach.commands import add_group


def register(subparsers) -> None:
    commands = add_group(subparsers, "eval", "Evaluate the tone classifier and the coach on labelled data.")
    emotions = commands.add_parser(
        "emotions",
        help="Score the tone classifier on an XED or GoEmotions file (shared-corpus format).",
        description="GoEmotions lines: text<TAB>label ids<TAB>comment id. XED lines: text<TAB>label ids.",
    )
    emotions.add_argument("--taxonomy", required=True, choices=("goemotions", "xed"))
    emotions.add_argument("--data", required=True, type=Path, help="the .tsv file to score")
    emotions.add_argument("--out", required=True, type=Path, help="folder for metrics.json and predictions.jsonl")
    emotions.add_argument("--lang", choices=("fi", "en"),
                          help="language of the text: picks its thresholds and, for fi, the n-gram blend (default: from the file name)")
    emotions.add_argument("--model", type=Path, help="tone artifact folder (default models/tone)")
    emotions.add_argument("--fp32", action="store_true",
                          help="run in float32 even where the model has an int8 calibration (the default then; see the model card)")
    emotions.set_defaults(handler=_emotions)

    replies = commands.add_parser(
        "replies",
        help="Coach a batch of replies (JSONL, CSV or a datasets folder); metrics when gold labels are given.",
        description='Each record: {"id", "lang", "reply", "customer"?, "customer_mood"?, "gold"?}. '
        "Malformed rows are reported with their line number and skipped. A run started again "
        "with the same --data and --out continues where it stopped.",
    )
    replies.add_argument("--data", required=True, type=Path, help="input file (.jsonl/.csv) or datasets folder")
    replies.add_argument("--out", required=True, type=Path, help="output folder")
    replies.add_argument("--batch-size", type=int, default=64)
    replies.add_argument("--restart", action="store_true", help="ignore earlier progress and start over")
    replies.add_argument("--num-proc", type=int, default=1,
                         help="worker processes, each with its own model copy (~1 GB and 2 threads each); "
                         "helps only with more cores than 2 per worker")  # fmt: skip
    replies.set_defaults(handler=_replies)

    everything = commands.add_parser(
        "all",
        help="The whole evaluation: classifier, coach on the gold sets, simulated learners, benchmarks.",
        description="Scores the tone classifier (the training's dev splits, or --data files), the coach on "
        "eval/data/gold_*.jsonl (gold_test is the headline), plays every bundled scenario with the skilled, "
        "average and struggling learners of eval/data/reply_banks/, and collects the latest benchmark files. "
        "Writes report.md, report.html and summary.json (flat figures for `coach eval compare`) into --out.",
    )
    everything.add_argument("--out", required=True, type=Path, help="output folder")
    everything.add_argument("--seed", type=int, default=0, help="sampling and customer line variants (default 0)")
    everything.add_argument("--quick", action="store_true",
                            help="CI size: 300 dev lines per corpus, gold_test only, one pass per learner")  # fmt: skip
    everything.add_argument("--data", nargs="+", action="extend", type=Path, metavar="FILE", default=[],
                            help="XED/GoEmotions .tsv files to score instead of the dev splits")  # fmt: skip
    everything.set_defaults(handler=_all)

    compare = commands.add_parser(
        "compare",
        help="What got better and worse between two summary.json files of `coach eval all`.",
        description="Prints every figure that moved, with its delta, grouped into better, worse and changed, "
        "largest relative move first.",
    )
    compare.add_argument("old", type=Path, metavar="OLD", help="the earlier summary.json")
    compare.add_argument("new", type=Path, metavar="NEW", help="the later summary.json")
    compare.set_defaults(handler=_compare)


def _emotions(args) -> int:
    from coach.corpora import read_corpus
    from coach.evaluate.emotions import EmotionEvaluator, summary_table
    from coach.tone import DEFAULT_ARTIFACT, load_tone_classifier

    evaluator = EmotionEvaluator(args.data, args.taxonomy, lang=args.lang)
    # Check the file first, so a malformed corpus is reported before the model loads.
    read_corpus(args.data, args.taxonomy)
    classifier = load_tone_classifier(args.model or DEFAULT_ARTIFACT, int8=False if args.fp32 else None)
    metrics = evaluator(classifier, out_dir=args.out)
    print(summary_table(metrics))
    print(f"wrote {args.out / 'metrics.json'} and {args.out / 'predictions.jsonl'}")
    return 0


def _replies(args) -> int:
    import json

    from coach.analysis import load_analyzer
    from coach.errors import UserError
    from coach.evaluate.replies import ReplyBatchEvaluator, iter_records

    next(iter_records(args.data), None)  # a missing or unreadable input fails before the model loads
    if args.num_proc < 1:
        raise UserError(f"--num-proc must be 1 or more, found {args.num_proc}")
    evaluator = ReplyBatchEvaluator(batch_size=args.batch_size, num_proc=args.num_proc, analyzer_factory=load_analyzer)
    result = evaluator(args.data, args.out, resume=not args.restart)
    print(f"{result['rows']} rows, {result['skipped']} skipped; wrote {args.out / 'predictions.jsonl'}")
    if result["metrics"]:
        print(json.dumps({k: v for k, v in result["metrics"].items() if k != "all"} | {"all": {
            d: {k: m[k] for k in ("accuracy", "kappa", "severe_error_rate")} for d, m in result["metrics"]["all"].items()}}, indent=2))
    return 0


def _all(args) -> int:
    from coach.analysis import load_analyzer
    from coach.evaluate.suite import EvaluationSuite, SuiteConfig

    suite = EvaluationSuite(SuiteConfig(out_dir=args.out, seed=args.seed, quick=args.quick, data=args.data))
    plan = suite.prepare()  # every input is checked before the model loads
    analyzer = load_analyzer()
    summary = suite.run(plan, analyzer, analyzer.tone)
    for key, value in summary.items():
        if key.endswith((".mean_accuracy", ".macro_f1")) or key == "sim.flags":
            print(f"{key:40s} {value}")
    print(f"wrote {args.out / 'report.md'}, {args.out / 'report.html'} and {args.out / 'summary.json'}")
    return 0


def _compare(args) -> int:
    from coach.evaluate.compare import compare_summaries, format_comparison, load_summary

    comparison = compare_summaries(load_summary(args.old), load_summary(args.new))
    print(format_comparison(comparison, str(args.old), str(args.new)))
    return 0
