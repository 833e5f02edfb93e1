"""``coach train``: train the project's models."""

from __future__ import annotations

from pathlib import Path

from coach.commands import add_group


def register(subparsers) -> None:
    commands = add_group(subparsers, "train", "Train the tone classifier and the service-moves model.")
    tone = commands.add_parser(
        "tone",
        help="Fine-tune the tone classifier on XED + GoEmotions (about an hour on 2 cores).",
        description="Defaults come from coach.tone_training.ToneTrainingConfig.",
    )
    tone.add_argument("--data", type=Path, help="shared corpora folder holding xed/ and goemotions/ (default ../shared/data)")
    tone.add_argument("--out", type=Path, help="artifact folder to write (default models/tone)")
    tone.add_argument("--epochs", type=int)
    tone.add_argument("--seed", type=int)
    tone.add_argument("--xed-repeats", type=int, help="visit the XED splits this often per epoch (default 2)")
    tone.add_argument("--first-trained-layer", type=int, help="layers below this stay frozen (default 8)")
    tone.add_argument("--limit", type=int, help="at most this many examples per corpus file (smoke runs)")
    tone.add_argument("--state-cache", type=Path, help="folder to save and reuse the frozen layers' outputs (~2 GB)")
    tone.set_defaults(handler=_tone)

    moves = commands.add_parser(
        "moves",
        help="Fine-tune the service-moves model on models/data/service_moves.*.jsonl (about 8 minutes on 2 cores).",
        description="Defaults come from coach.moves.MovesTrainingConfig.",
    )
    moves.add_argument("--out", type=Path, help="model folder to write (default models/moves)")
    moves.add_argument("--epochs", type=int)
    moves.add_argument("--seed", type=int)
    moves.add_argument("--first-trained-layer", type=int,
                       help="layers below stay frozen; match the tone classifier's (default 8) so both share one pass")
    moves.add_argument("--limit", type=int, help="at most this many replies (smoke runs)")
    moves.set_defaults(handler=_moves)


def _tone(args) -> int:
    import dataclasses

    from coach.tone_training import ToneTrainingConfig, train

    given = {
        "data_dir": args.data, "out_dir": args.out, "epochs": args.epochs, "seed": args.seed, "xed_repeats": args.xed_repeats,
        "first_trained_layer": args.first_trained_layer, "limit": args.limit, "state_cache": args.state_cache,
    }  # fmt: skip
    config = dataclasses.replace(ToneTrainingConfig(), **{k: v for k, v in given.items() if v is not None})
    manifest = train(config)
    print(f"best epoch {manifest['best_epoch']}, {manifest['training_seconds']} s")
    for name, metrics in manifest["dev_metrics"].items():
        print(f"{name:16s} dev macro-F1 {metrics['macro_f1']:.3f}  micro-F1 {metrics['micro_f1']:.3f}  n={metrics['n']}")
    return 0


def _moves(args) -> int:
    import dataclasses

    from coach.moves import MovesTrainingConfig, train_moves

    given = {"out_dir": args.out, "epochs": args.epochs, "seed": args.seed,
             "first_trained_layer": args.first_trained_layer, "limit": args.limit}  # fmt: skip
    manifest = train_moves(dataclasses.replace(MovesTrainingConfig(), **{k: v for k, v in given.items() if v is not None}))
    print(f"best epoch {manifest['best_epoch']}, {manifest['training_seconds']} s")
    for lang, report in manifest["test"].items():
        scores = "  ".join(f"{m} {f:.2f}" for m, f in report["per_move_f1"].items())
        print(f"{lang}: test macro-F1 {report['macro_f1']:.3f} (n={report['n_test']})  {scores}")
    return 0
