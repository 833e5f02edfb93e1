"""The service-moves model and its training data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coach.errors import UserError
from coach.labels import DIMENSIONS, SERVICE_MOVES, VERDICT_READINGS, VERDICTS
from coach.moves import (CONFIG_FILE, DEFAULT_MODEL, NGRAM_FILES, WEIGHTS_FILE, MovesModel, MovesTrainingConfig, is_test,
                         read_moves_data, read_verdicts, reading_targets, targets, verdict_codes, write_model)  # fmt: skip


def test_the_project_data_is_large_balanced_and_labelled_with_known_moves():
    examples = read_moves_data()
    by_lang = {lang: [e for e in examples if e.lang == lang] for lang in ("fi", "en")}
    # half Finnish, half English: within 1% of an even split (batches lose a few rows each to deduplication)
    assert len(examples) >= 800 and abs(len(by_lang["fi"]) - len(by_lang["en"])) <= 0.01 * len(examples)
    y = targets(examples)
    for lang, rows in by_lang.items():
        counts = targets(rows).sum(axis=0)
        # every move needs enough examples for a test split of about ten per language
        assert counts.min() >= 50, (lang, dict(zip(SERVICE_MOVES, counts)))
    assert y.shape == (len(examples), len(SERVICE_MOVES))


def test_every_reply_carries_all_three_verdicts_and_each_verdict_occurs_in_both_languages():
    examples = read_moves_data()
    codes = verdict_codes(examples)
    assert codes.shape == (len(examples), len(DIMENSIONS))
    for lang in ("fi", "en"):
        rows = codes[[e.lang == lang for e in examples]]
        for d, dimension in enumerate(DIMENSIONS):
            counts = np.bincount(rows[:, d], minlength=len(VERDICTS))
            assert counts.min() >= 40, (lang, dimension, counts)


def test_verdict_readings_are_ordinal_and_read_back_to_the_same_verdicts():
    codes = np.array([[0, 1, 2], [2, 0, 1]])
    readings = reading_targets(codes)
    assert readings.shape == (2, len(VERDICT_READINGS))
    assert dict(zip(VERDICT_READINGS, readings[0])) == {"own_not_good": 0, "own_poor": 0, "others_not_good": 1,
                                                        "others_poor": 0, "customer_not_good": 1, "customer_poor": 1}  # fmt: skip
    np.testing.assert_array_equal(read_verdicts(readings * 0.8 + 0.1), codes)


def test_the_test_split_is_stable_and_about_a_fifth():
    examples = read_moves_data()
    first = [is_test(e) for e in examples]
    assert first == [is_test(e) for e in examples]
    assert 0.15 < sum(first) / len(first) < 0.25


def test_bad_data_lines_are_reported_with_their_number(tmp_path):
    path = tmp_path / "moves.jsonl"
    verdicts = {"own": "good", "others": "good", "customer": "good"}
    rows = [{"id": "a", "lang": "fi", "reply": "Joo.", "moves": [], "verdicts": verdicts},
            {"id": "b", "lang": "fi", "reply": "Hoidan.", "moves": ["owns_it"], "verdicts": verdicts}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError) as caught:
        read_moves_data([path])
    assert f"{path}:2: unknown move(s) ['owns_it']" in str(caught.value)


@pytest.mark.parametrize(
    ("verdicts", "message"),
    [
        (None, "field 'verdicts' must be an object with own, others, customer, each one of good/mixed/poor, found None"),
        ({"own": "good", "others": "fine", "customer": "poor"}, "verdicts.others must be one of good/mixed/poor, found 'fine'"),
        ({"own": "good", "others": "good"}, "verdicts.customer must be one of good/mixed/poor, found None"),
    ],
)  # fmt: skip
def test_missing_or_unknown_verdicts_are_reported_with_the_line_and_field(tmp_path, verdicts, message):
    path = tmp_path / "moves.jsonl"
    good = {"own": "good", "others": "good", "customer": "good"}
    rows = [{"id": "a", "lang": "fi", "reply": "Joo.", "moves": [], "verdicts": good},
            {"id": "b", "lang": "fi", "reply": "Hoidan.", "moves": [], **({"verdicts": verdicts} if verdicts else {})}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError) as caught:
        read_moves_data([path])
    assert f"{path}:2: {message}" in str(caught.value)


def test_the_shipped_model_matches_the_move_list_and_reports_its_test_split():
    manifest = json.loads((DEFAULT_MODEL / CONFIG_FILE).read_text())
    assert manifest["moves"] == list(SERVICE_MOVES) and len(manifest["thresholds"]) == len(SERVICE_MOVES)
    assert manifest["verdict_readings"] == list(VERDICT_READINGS)
    assert set(manifest["test"]) == {"fi", "en"}
    assert all(report["n_test"] > 100 for report in manifest["test"].values())
    assert (DEFAULT_MODEL / WEIGHTS_FILE).stat().st_size < 25 * 1024 * 1024
    assert 0 < manifest["ngrams"]["weight"] < 1 and len(manifest["ngrams"]["thresholds"]) == len(SERVICE_MOVES)
    assert set(manifest["ngrams"]["test"]) == {"fi", "en"}
    assert all((DEFAULT_MODEL / name).stat().st_size < 5 * 1024 * 1024 for name in NGRAM_FILES)


@pytest.mark.parametrize("field", ["moves", "verdict_readings"])
def test_a_model_for_other_moves_or_readings_is_refused_before_the_encoder_is_touched(tmp_path, field):
    manifest = json.loads((DEFAULT_MODEL / CONFIG_FILE).read_text())
    manifest[field] = manifest[field][:-1]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="retrain it with: coach train moves"):
        MovesModel(encoder=None, folder=tmp_path)


def test_n_gram_files_without_their_record_in_the_manifest_are_refused_with_the_fix(tmp_path):
    manifest = json.loads((DEFAULT_MODEL / CONFIG_FILE).read_text())
    manifest.pop("ngrams", None)
    (tmp_path / CONFIG_FILE).write_text(json.dumps(manifest))
    for name in NGRAM_FILES:
        (tmp_path / name).write_bytes((DEFAULT_MODEL / name).read_bytes())
    with pytest.raises(UserError, match="refit it with: coach train moves-ngrams"):
        MovesModel(encoder=None, folder=tmp_path)
    (tmp_path / NGRAM_FILES[0]).write_text("{not json")
    with pytest.raises(UserError, match=f"{NGRAM_FILES[0]} is unreadable.*coach train moves-ngrams"):
        MovesModel(encoder=None, folder=tmp_path)


def test_new_fine_tuned_layers_drop_the_n_gram_model_fitted_for_the_old_ones(tmp_path):
    for name in NGRAM_FILES:
        (tmp_path / name).write_text("fitted for the previous layers")
    write_model(MovesTrainingConfig(out_dir=tmp_path), {}, np.full(len(SERVICE_MOVES), 0.5), {})
    assert (tmp_path / CONFIG_FILE).is_file()
    assert not any((tmp_path / name).exists() for name in NGRAM_FILES)


def test_a_missing_model_names_the_command_that_makes_one(tmp_path):
    with pytest.raises(UserError, match=f"No service-moves model in {tmp_path}.*coach train moves"):
        MovesModel(encoder=None, folder=tmp_path)


# ------------------------------------------------------------------ the real model (slow)


@pytest.fixture(scope="module")
def shipped(real_encoder):
    return MovesModel(real_encoder)


def _moves_over_threshold(model: MovesModel, reply: str) -> set[str]:
    [row] = model.predict([reply])
    return {m for m, p, t in zip(SERVICE_MOVES, row, model.thresholds) if p >= t}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("reply", "expected", "absent"),
    [
        ("I'm so sorry, that's really frustrating. I'll sort it out myself and call you by 10 tomorrow.",
         {"apologises", "acknowledges_feeling", "takes_ownership", "concrete_next_step"}, {"sarcasm", "blames_customer"}),
        ("Kuten jo kolmesti sanoin, lomake on netissä.", {"sarcasm"}, {"apologises", "takes_ownership"}),
        ("Ei kuulu meille, kysykää infosta.", {"deflects"}, {"takes_ownership"}),
        ("Voi ei voi ei, anteeks anteeks, mä en yhtään tiedä mitä nyt pitäis tehdä!", {"panicked_or_helpless"}, {"sarcasm"}),
    ],
)  # fmt: skip
def test_the_shipped_model_reads_clear_replies(shipped, reply, expected, absent):
    found = _moves_over_threshold(shipped, reply)
    assert expected <= found and not absent & found, found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("reply", "own"),
    [
        ("Ymmärrän, tosi harmillista. Hoidan tämän heti ja soitan teille huomenna kymmeneen mennessä.", "good"),
        ("I'm sorry about the wait. I'll check the order right now and email you the tracking number today.", "good"),
        ("Well, maybe if you'd read the instructions for once we wouldn't be here. Whatever.", "poor"),
        ("Kuule, mä en voi tälle mitään, ihan sama mitä sä huudat.", "poor"),
    ],
)  # fmt: skip
def test_the_shipped_model_reads_the_own_verdict_of_clear_replies(shipped, reply, own):
    [verdicts] = read_verdicts(shipped.predict([reply])[:, len(SERVICE_MOVES) :])
    assert VERDICTS[verdicts[DIMENSIONS.index("own")]] == own


@pytest.mark.slow
def test_shared_lower_states_give_the_same_moves_as_a_separate_pass(real_encoder, tmp_path):
    import copy
    import json

    from coach.files import save_weight_shards
    from coach.moves import MovesModel
    from coach.tone import DEFAULT_ARTIFACT, ToneClassifier, TopHeads

    # fp32, so the two passes differ only in their plumbing (int8 agreement: tests/test_int8.py).
    moves = MovesModel(real_encoder, int8=False)
    shipped_tone = ToneClassifier(real_encoder, int8=False)
    assert bool(moves.heads_for(shipped_tone)) == (shipped_tone.first_trained == moves.first_trained_layer)
    # A tone classifier that starts where the moves model does (the shipped one fine-tunes every layer).
    model = real_encoder.model
    heads = TopHeads(copy.deepcopy(model.encoder.layer[moves.first_trained_layer :]), model.config)
    save_weight_shards(heads.state_dict(), tmp_path, "tone_weights")
    manifest = json.loads((DEFAULT_ARTIFACT / "tone_config.json").read_text())
    (tmp_path / "tone_config.json").write_text(json.dumps({**manifest, "first_trained_layer": moves.first_trained_layer}))
    tone = ToneClassifier(real_encoder, tmp_path, int8=False)
    replies = ["Hoidan tämän heti.", "As I already said, no.", "", "Voi ei, anteeksi! " * 30]
    assert moves.heads_for(tone)
    probabilities = tone.probabilities(replies, batch_size=2, extra_heads=moves.heads_for(tone))
    np.testing.assert_allclose(probabilities["moves"], moves.predict(replies, batch_size=3, ngrams=False), atol=1e-5)
    assert moves.ngrams, "the shipped moves model blends its character n-grams"
    np.testing.assert_allclose(moves.with_ngrams(replies, probabilities["moves"]), moves.predict(replies, batch_size=3),
                               atol=1e-5)  # fmt: skip


@pytest.mark.slow
def test_a_tiny_training_run_writes_a_model_that_loads_and_predicts_the_same(tmp_path, real_encoder):
    import dataclasses

    import torch

    from coach.moves import MovesTrainingConfig, train_moves

    config = dataclasses.replace(MovesTrainingConfig(), out_dir=tmp_path, limit=160, epochs=2)
    base = {name: tensor.clone() for name, tensor in real_encoder.model.state_dict().items()}
    manifest = train_moves(config, encoder=real_encoder)
    # The shared encoder is handed on to the n-gram fit and the int8 calibration: training must not touch it.
    assert all(torch.equal(base[name], tensor) for name, tensor in real_encoder.model.state_dict().items())
    assert [entry["epoch"] for entry in manifest["history"]] == [1, 2] and manifest["best_epoch"] in (1, 2)
    assert manifest["n_train"] + manifest["n_dev"] + sum(r["n_test"] for r in manifest["test"].values()) == 160
    model = MovesModel(real_encoder, tmp_path)
    replies = ["Selvitän asian ja soitan huomenna.", "Not our department, sorry."]
    first, second = model.predict(replies), model.predict(list(reversed(replies)))[::-1]
    np.testing.assert_allclose(first, second, atol=1e-6)
    assert first.shape == (2, len(SERVICE_MOVES) + len(VERDICT_READINGS)) and ((first >= 0) & (first <= 1)).all()
    assert set(manifest["test"]["fi"]["verdict_accuracy"]) == set(DIMENSIONS)
    assert model.ngrams is None and list(model.thresholds) == manifest["thresholds"]

    # The character n-grams: fitted on the same training replies, blended in, thresholds retuned for the blend.
    from coach.moves import MovesNgramConfig, train_moves_ngrams

    fitted = train_moves_ngrams(MovesNgramConfig(model_dir=tmp_path, weight=0.5), encoder=real_encoder)
    assert fitted["n_train"] == manifest["n_train"] and set(fitted["test"]) == {"fi", "en"}
    blended_model = MovesModel(real_encoder, tmp_path)
    layers_alone = blended_model.predict(replies, ngrams=False)
    np.testing.assert_allclose(layers_alone, first, atol=1e-6)
    ngram_part = blended_model.ngrams.ngram_probabilities(replies)  # as written: commas carry tone
    np.testing.assert_allclose(blended_model.predict(replies), 0.5 * layers_alone + 0.5 * ngram_part, atol=1e-5)
    assert list(blended_model.thresholds) == json.loads((tmp_path / CONFIG_FILE).read_text())["ngrams"]["thresholds"]

    train_moves_ngrams(MovesNgramConfig(model_dir=tmp_path, weight=0.0), encoder=real_encoder)  # weight 0: no blend
    assert not any((tmp_path / name).exists() for name in NGRAM_FILES)
    np.testing.assert_allclose(MovesModel(real_encoder, tmp_path).predict(replies), first, atol=1e-6)
