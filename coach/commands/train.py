"""``coach train``: train the project's models."""

from __future__ import annotations

from pathlib import Path

from coach.commands import add_group


def register(subparsers) -> None:
    commands = add_group(subparsers, "train", "Train the tone classifier and the service-moves head.")
    tone = commands.add_parser(
        "tone",
        help="Fine-tune the tone classifier on XED + GoEmotions (about an hour on 2 cores).",
        description="Defaults come from coach.tone_training.ToneTrainingConfig.",
    )
    tone.add_argument("--data", type=Path, help="shared corpora folder holding xed/ and goemotions/ (default ../shared/data)")
    tone.add_argument("--out", type=Path, help="artifact folder to write (default models/tone)")
    tone.add_argument("--epochs", type=int)
    tone.add_argument("--seed", type=int)
    tone.add_argument("--first-trained-layer", type=int, help="layers below this stay frozen (default 10)")
    tone.add_argument("--limit", type=int, help="at most this many examples per corpus file (smoke runs)")
    tone.add_argument("--state-cache", type=Path, help="folder to save and reuse the frozen layers' outputs (~2 GB)")
    tone.set_defaults(handler=_tone)

    moves = commands.add_parser(
        "moves",
        help="Train the service-moves head on models/data/service_moves.*.jsonl (a minute; needs models/tone).",
    )
    moves.add_argument("--out", type=Path, help="where to write the head (default models/moves/moves_head.json)")
    moves.set_defaults(handler=_moves)


def _tone(args) -> int:
    import dataclasses

    from coach.tone_training import ToneTrainingConfig, train

    given = {
        "data_dir": args.data, "out_dir": args.out, "epochs": args.epochs, "seed": args.seed,
        "first_trained_layer": args.first_trained_layer, "limit": args.limit, "state_cache": args.state_cache,
    }  # fmt: skip
    config = dataclasses.replace(ToneTrainingConfig(), **{k: v for k, v in given.items() if v is not None})
    manifest = train(config)
    print(f"best epoch {manifest['best_epoch']}, {manifest['training_seconds']} s")
    for name, metrics in manifest["dev_metrics"].items():
        print(f"{name:16s} dev macro-F1 {metrics['macro_f1']:.3f}  micro-F1 {metrics['micro_f1']:.3f}  n={metrics['n']}")
    return 0


def _moves(args) -> int:
    from coach.moves import DEFAULT_HEAD, train_moves
    from coach.tone import load_tone_classifier

    head = train_moves(load_tone_classifier(), out=args.out or DEFAULT_HEAD)
    for lang, report in head.metadata["test"].items():
        scores = "  ".join(f"{m} {f:.2f}" for m, f in report["per_move_f1"].items())
        print(f"{lang}: test macro-F1 {report['macro_f1']:.3f} (n={report['n_test']})  {scores}")
    return 0
