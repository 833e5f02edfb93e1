"""``coach encoder``: inspect, convert and time the sentence encoder."""

from __future__ import annotations

from coach.commands import add_group


def register(subparsers) -> None:
    commands = add_group(subparsers, "encoder", "Inspect or prepare the sentence encoder.")
    info = commands.add_parser(
        "info", help="Load the encoder (converting the embedded one on first use) and report timings."
    )
    info.add_argument("--model", help="Hugging Face id or local folder (default: $PALVELUPEILI_ENCODER or embedded)")
    info.set_defaults(handler=_info)


def _info(args) -> int:
    import dataclasses
    import json
    import time

    from coach.encoder import EncoderConfig, timed_load

    config = EncoderConfig.from_env()
    if args.model:
        config = dataclasses.replace(config, model=args.model)
    encoder, load_s = timed_load(config)
    started = time.perf_counter()
    encoder.embed(["Ymmärrän, että tämä harmittaa. Selvitän asian heti."])
    first_embed_s = time.perf_counter() - started
    report = {
        "model": config.model,
        "loaded_from": encoder.source,
        "cache_dir": str(config.cache_dir),
        "dim": encoder.dim,
        "load_seconds": round(load_s, 2),
        "first_embed_seconds": round(first_embed_s, 3),
    }
    print(json.dumps(report, indent=2))
    return 0
