"""Shared fixtures: the real encoder (converted once per test run into a temporary cache)."""

from __future__ import annotations

import pytest

from coach.encoder import EncoderConfig, load_encoder
from coach.paths import shared_data_dir


@pytest.fixture(scope="session")
def encoder_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("encoder-cache")


@pytest.fixture(scope="session")
def real_encoder(encoder_cache):
    return load_encoder(EncoderConfig(cache_dir=encoder_cache))


def read_corpus_texts(relative: str, limit: int) -> list[str]:
    path = shared_data_dir() / relative
    if not path.is_file():
        pytest.fail(f"shared corpus file missing: {path} (set PALVELUPEILI_DATA to the shared/data folder)")
    with path.open(encoding="utf-8") as handle:
        return [line.split("\t", 1)[0] for _, line in zip(range(limit), handle)]
