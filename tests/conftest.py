"""Shared fixtures: one encoder cache per test run, the real encoder, corpus samples."""

from __future__ import annotations

import os

import pytest

from coach.paths import shared_data_dir


@pytest.fixture(scope="session", autouse=True)
def encoder_cache(tmp_path_factory):
    """Convert the embedded encoder once per run into a private cache (subprocesses inherit it)."""
    if not os.environ.get("PALVELUPEILI_CACHE"):
        os.environ["PALVELUPEILI_CACHE"] = str(tmp_path_factory.mktemp("encoder-cache"))
    os.environ.pop("PALVELUPEILI_ENCODER", None)
    return os.environ["PALVELUPEILI_CACHE"]


@pytest.fixture(scope="session")
def real_encoder(encoder_cache):
    from coach.encoder import load_encoder

    return load_encoder()


def read_corpus_texts(relative: str, limit: int) -> list[str]:
    path = shared_data_dir() / relative
    if not path.is_file():
        pytest.fail(f"shared corpus file missing: {path} (set PALVELUPEILI_DATA to the shared/data folder)")
    with path.open(encoding="utf-8") as handle:
        return [line.split("\t", 1)[0] for _, line in zip(range(limit), handle)]
