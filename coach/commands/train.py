"""``coach train``: train the project's models."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coach.commands import add_group
from coach.errors import UserError
from coach.lexical import LexicalTrainingConfig, train_lexical


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
    tone.add_argument("--layer-lr", type=float, help="learning rate of the trained encoder layers (default 8e-5)")
    tone.add_argument("--device", help="torch device to train on, e.g. cuda (default cpu)")
    tone.set_defaults(handler=_tone)

    moves = commands.add_parser(
        "moves",
        help="Fine-tune the service-moves model on models/data/service_moves.*.jsonl (about 22 minutes on 2 cores with 12,409 replies).",
        description="Defaults come from coach.moves.MovesTrainingConfig.",
    )
    moves.add_argument("--out", type=Path, help="model folder to write (default models/moves)")
    moves.add_argument("--epochs", type=int)
    moves.add_argument("--seed", type=int)
    moves.add_argument("--first-trained-layer", type=int,
                       help="layers below stay frozen; match the tone classifier's (default 8) so both share one pass")
    moves.add_argument("--limit", type=int, help="at most this many replies (smoke runs)")
    moves.set_defaults(handler=_moves)

    ngrams = commands.add_parser(
        "moves-ngrams",
        help="Fit the character n-gram model blended into the service-moves model (under a minute; train moves runs it too).",
        description="Defaults come from coach.moves.MovesNgramConfig. Fitted on the moves model's own training replies; "
        "retunes its move thresholds for the blend and reports the blend on the test split.",
    )
    ngrams.add_argument("--moves", type=Path, help="service-moves model folder to add it to (default models/moves)")
    ngrams.add_argument("--weight", type=float, help="the n-grams' share of the blend, 0 to 1 (0 removes it; default 0.4)")
    ngrams.set_defaults(handler=_moves_ngrams)

    lexical = commands.add_parser(
        "lexical",
        help="Fit the Finnish character n-gram model blended into the XED head (about a minute; train tone runs it too).",
        description="Defaults come from coach.lexical.LexicalTrainingConfig. Retunes the Finnish XED thresholds "
        "in the tone classifier's tone_config.json for the blend.",
    )
    lexical.add_argument("--data", type=Path, help="shared corpora folder holding xed/ (default ../shared/data)")
    lexical.add_argument("--tone", type=Path, help="tone classifier folder to add it to (default models/tone)")
    lexical.set_defaults(handler=_lexical)

    int8 = commands.add_parser(
        "int8",
        help="Calibrate int8 inference for trained models (about a minute; train tone/moves do it themselves).",
        description="Runs the fp32 models over the project's service replies (models/data/service_moves.*.jsonl), "
        "records every linear map's input range and writes int8_calibration.safetensors into each model folder. "
        "See coach/int8.py.",
    )
    int8.add_argument("--tone", type=Path, help="tone classifier folder (default models/tone)")
    int8.add_argument("--moves", type=Path, help="service-moves model folder (default models/moves)")
    int8.set_defaults(handler=_int8)


def _config(default, **given):
    """``default`` with every option the user gave on the command line (those left unset are None)."""
    return dataclasses.replace(default, **{name: value for name, value in given.items() if value is not None})


def _tone(args) -> int:
    from coach.tone_training import ToneTrainingConfig, train

    config = _config(
        ToneTrainingConfig(), data_dir=args.data, out_dir=args.out, epochs=args.epochs, seed=args.seed,
        xed_repeats=args.xed_repeats, first_trained_layer=args.first_trained_layer, limit=args.limit,
        state_cache=args.state_cache, layer_lr=args.layer_lr, device=args.device,
    )  # fmt: skip
    manifest = train(config)
    print(f"best epoch {manifest['best_epoch']}, {manifest['training_seconds']} s")
    for name, metrics in manifest["dev_metrics"].items():
        print(f"{name:16s} dev macro-F1 {metrics['macro_f1']:.3f}  micro-F1 {metrics['micro_f1']:.3f}  n={metrics['n']}")
    _report_lexical(train_lexical(LexicalTrainingConfig(data_dir=config.data_dir, tone_dir=config.out_dir)))
    calibrate_trained(tone_dir=config.out_dir)
    return 0


def _lexical(args) -> int:
    _report_lexical(train_lexical(_config(LexicalTrainingConfig(), data_dir=args.data, tone_dir=args.tone)))
    return 0


def _report_lexical(result: dict) -> None:
    tried = "  ".join(f"{w}: {f:.3f}" for w, f in result["half_split_macro_f1_by_weight"].items())
    print(f"Finnish n-gram blend: weight {result['weight']} (half-split dev macro-F1 by weight: {tried})")
    print(f"xed-fi dev macro-F1 {result['dev_macro_f1_encoder_alone']:.3f} alone -> {result['dev_macro_f1_blend']:.3f} blended, "
          f"{result['training_seconds']} s")  # fmt: skip


def _moves(args) -> int:
    from coach.encoder import EncoderConfig, load_encoder
    from coach.moves import MovesNgramConfig, MovesTrainingConfig, train_moves, train_moves_ngrams

    config = _config(MovesTrainingConfig(), out_dir=args.out, epochs=args.epochs, seed=args.seed,
                     first_trained_layer=args.first_trained_layer, limit=args.limit)  # fmt: skip
    encoder = load_encoder(EncoderConfig())  # once for the three steps
    manifest = train_moves(config, encoder=encoder)
    print(f"best epoch {manifest['best_epoch']}, {manifest['training_seconds']} s; the fine-tuned layers alone:")
    _report_moves(manifest["test"])
    _report_ngrams(train_moves_ngrams(MovesNgramConfig(model_dir=config.out_dir), encoder=encoder))
    calibrate_trained(moves_dir=config.out_dir, encoder=encoder)
    return 0


def _moves_ngrams(args) -> int:
    from coach.moves import MovesNgramConfig, train_moves_ngrams

    if args.weight is not None and not 0 <= args.weight <= 1:
        raise UserError(f"--weight must be between 0 and 1 (the n-grams' share of the blend), found {args.weight}")
    _report_ngrams(train_moves_ngrams(_config(MovesNgramConfig(), model_dir=args.moves, weight=args.weight)))
    return 0


def _report_ngrams(result: dict) -> None:
    if not result["weight"]:
        print("no n-gram blend: the moves model runs on its fine-tuned layers alone")
        return
    print(f"blended with the character n-grams (weight {result['weight']}, {result['n_features']} features, "
          f"{result['training_seconds']} s):")  # fmt: skip
    _report_moves(result["test"])


def _report_moves(test: dict) -> None:
    for lang, report in test.items():
        scores = "  ".join(f"{m} {f:.2f}" for m, f in report["per_move_f1"].items())
        print(f"{lang}: test macro-F1 {report['macro_f1']:.3f} (n={report['n_test']})  {scores}")
        accuracy = "  ".join(f"{d} {a:.2f}" for d, a in report["verdict_accuracy"].items())
        print(f"{lang}: test verdict accuracy of the readings  {accuracy}")


def _int8(args) -> int:
    from coach.moves import DEFAULT_MODEL
    from coach.tone import DEFAULT_ARTIFACT

    calibrate_int8(tone_dir=args.tone or DEFAULT_ARTIFACT, moves_dir=args.moves or DEFAULT_MODEL)
    return 0


def calibrate_trained(tone_dir: Path | None = None, moves_dir: Path | None = None, encoder=None) -> None:
    """The int8 calibration of a freshly trained model; of both shipped models when it is one of them. The app
    runs the lower layers once for both, with the tone classifier's calibration, so the two must be measured on
    the same replies, and those change whenever the moves data grows."""
    from coach.moves import DEFAULT_MODEL
    from coach.tone import DEFAULT_ARTIFACT

    shipped = {DEFAULT_ARTIFACT.resolve(), DEFAULT_MODEL.resolve()}
    if any(folder is not None and Path(folder).resolve() in shipped for folder in (tone_dir, moves_dir)):
        tone_dir, moves_dir = tone_dir or DEFAULT_ARTIFACT, moves_dir or DEFAULT_MODEL
    calibrate_int8(tone_dir, moves_dir, encoder)


def calibrate_int8(tone_dir: Path | None = None, moves_dir: Path | None = None, encoder=None) -> None:
    """Write the int8 calibration of each given model folder, measured on the project's service replies
    (``encoder``: the embedded encoder, when the caller has it loaded)."""
    from coach.encoder import EncoderConfig, load_encoder
    from coach.int8 import save_calibration
    from coach.moves import DATA_FILES, MovesModel, read_moves_data
    from coach.tone import ToneClassifier

    texts = [example.reply for example in read_moves_data(DATA_FILES)]
    encoder = encoder or load_encoder(EncoderConfig())
    models = [(folder, build) for folder, build in ((tone_dir, ToneClassifier), (moves_dir, MovesModel)) if folder]
    for folder, build in models:
        path = save_calibration(build(encoder, folder, int8=False).calibration(texts), folder)
        print(f"int8 calibration on {len(texts)} replies: {path}")
