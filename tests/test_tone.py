"""The tone classifier: label sets, thresholds, determinism, batching, training, evaluation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from coach.corpora import GOEMOTIONS_LABELS, XED_LABELS, read_corpus
from coach.errors import UserError
from coach.evaluate.emotions import EmotionEvaluator
from coach.files import load_weight_shards, save_weight_shards, weight_files
from coach.labels import COARSE_TONES
from coach.paths import shared_data_dir
from coach.tone import (COARSE_TONE_SOURCES, DEFAULT_ARTIFACT, ToneClassifier, ToneResult, coarse_tone, decisions,
                        normalise_for_model)  # fmt: skip

FIXTURES = Path(__file__).parent / "fixtures" / "corpora"


# ------------------------------------------------------------------ label sets and rules


def test_goemotions_labels_match_the_shared_labels_file():
    shipped = (shared_data_dir() / "goemotions" / "labels.txt").read_text().split()
    assert list(GOEMOTIONS_LABELS) == shipped


def test_xed_labels_follow_the_documented_ids():
    assert XED_LABELS[0] == "neutral" and XED_LABELS[1] == "anger" and XED_LABELS[8] == "trust"
    assert len(XED_LABELS) == 9


def test_coarse_tone_mapping_uses_only_known_names():
    assert set(COARSE_TONE_SOURCES) | {"calm"} == set(COARSE_TONES)
    for sources in COARSE_TONE_SOURCES.values():
        assert set(sources["goemotions"]) <= set(GOEMOTIONS_LABELS)
        assert set(sources["xed"]) <= set(XED_LABELS)


def test_coarse_tone_picks_the_strongest_mapped_emotion_or_calm():
    go = dict.fromkeys(GOEMOTIONS_LABELS, 0.01)
    xed = dict.fromkeys(XED_LABELS, 0.01)
    assert coarse_tone(go, xed)[0] == "calm"
    go["annoyance"] = 0.8
    go["caring"] = 0.4
    tone, confidence, scores = coarse_tone(go, xed)
    assert (tone, confidence) == ("irritated", 0.8)
    assert scores["warm"] == 0.4


def test_decisions_keep_labels_over_threshold_and_fall_back_to_the_argmax():
    thresholds = np.array([0.5, 0.3, 0.9])
    chosen = decisions(np.array([[0.6, 0.35, 0.95], [0.1, 0.2, 0.4]]), thresholds)
    assert np.flatnonzero(chosen[0]).tolist() == [0, 1, 2]
    assert np.flatnonzero(chosen[1]).tolist() == [2]


def test_commas_are_normalised_like_the_xed_training_text():
    assert normalise_for_model("No,  kuten sanoin ,se ei käy.") == "No kuten sanoin se ei käy."


def test_shipped_artifact_matches_the_label_sets():
    manifest = json.loads((DEFAULT_ARTIFACT / "tone_config.json").read_text())
    assert manifest["labels"] == {"goemotions": list(GOEMOTIONS_LABELS), "xed": list(XED_LABELS)}
    for taxonomy, labels in manifest["labels"].items():
        for lang, values in manifest["thresholds"][taxonomy].items():
            assert len(values) == len(labels), (taxonomy, lang)
            assert all(0 < v < 1 for v in values)
    weights = weight_files(DEFAULT_ARTIFACT, "tone_weights")
    assert weights and all(path.stat().st_size < 25 * 1024 * 1024 for path in weights)


def test_weights_too_large_for_one_file_are_saved_in_shards_that_load_back_whole(tmp_path):
    tensors = {f"layer.{i}.weight": torch.full((64, 64), float(i)) for i in range(5)}  # 16 kB each
    (tmp_path / "w.safetensors").write_bytes(b"stale single file")
    paths = save_weight_shards(tensors, tmp_path, "w", max_bytes=40_000)
    assert [p.name for p in paths] == ["w-00001-of-00003.safetensors", "w-00002-of-00003.safetensors",
                                       "w-00003-of-00003.safetensors"]  # fmt: skip
    assert not (tmp_path / "w.safetensors").exists()
    loaded = load_weight_shards(tmp_path, "w")
    assert list(loaded) == list(tensors) and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    save_weight_shards(tensors, tmp_path, "w")  # fits one file now: the shards go
    assert [p.name for p in weight_files(tmp_path, "w")] == ["w.safetensors"]
    assert not list(tmp_path.glob("w-*"))


def test_a_tone_artifact_with_a_missing_shard_is_refused_by_name(tmp_path):
    tensors = {f"t{i}": torch.zeros(64, 64) for i in range(3)}
    save_weight_shards(tensors, tmp_path, "tone_weights", max_bytes=20_000)
    (tmp_path / "tone_weights-00002-of-00003.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="2 of the 3 shards of tone_weights"):
        load_weight_shards(tmp_path, "tone_weights")
    (tmp_path / "tone_config.json").write_text(json.dumps({"first_trained_layer": 8}))
    with pytest.raises(UserError, match="artifact is incomplete.*coach train tone --out"):
        ToneClassifier(SimpleNamespace(model=None), tmp_path)


# ------------------------------------------------------------------ corpus files


@pytest.mark.parametrize(
    ("content", "taxonomy", "expected"),
    [
        ("hyvä\t5\nhuono\t1\textra\n", "xed", ":2: expected 2 tab-separated columns"),
        ("hyvä\t5\nhuono\t12\n", "xed", ":2: unknown xed label id(s) [12]; expected 0..8"),
        ("great\t1\tid1\nbad\tx\tid2\n", "goemotions", ":2: label ids must be comma-separated integers"),
        ("\n\n", "xed", "has no examples"),
    ],
)
def test_bad_corpus_files_name_the_line(tmp_path, content, taxonomy, expected):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=None) as caught:
        read_corpus(path, taxonomy)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_non_utf8_corpus_is_reported_with_its_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("ok\t1\nhyv\xe4\t5\n".encode("latin-1"))
    with pytest.raises(UserError) as caught:
        read_corpus(path, "xed")
    assert ":2: not UTF-8" in str(caught.value)


def test_eval_cli_reports_a_bad_file_without_loading_the_model(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("teksti\t99\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "coach.cli", "eval", "emotions", "--taxonomy", "xed", "--data", str(path),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"{path}:1: unknown xed label id(s) [99]" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ evaluator with known metrics


class ScriptedClassifier:
    """Returns fixed XED labels per text, so the expected metrics can be worked out by hand."""

    def __init__(self, labels_by_text: dict[str, list[str]]):
        self.labels_by_text = labels_by_text
        self.langs_seen: set = set()

    def classify(self, texts, lang=None, batch_size=32):
        self.langs_seen.add(lang)
        results = []
        for text in texts:
            labels = self.labels_by_text[text]
            xed = {name: (0.9 if name in labels else 0.1) for name in XED_LABELS}
            go = dict.fromkeys(GOEMOTIONS_LABELS, 0.0)
            results.append(ToneResult(go, xed, [], labels, "calm", 1.0, {}, 0.0))
        return results


def test_emotion_evaluator_on_a_fixture_with_known_metrics(tmp_path):
    # gold: {joy,trust} {anger} {neutral} {fear}; predicted: {joy} {anger} {anger} {fear}
    fake = ScriptedClassifier({
        "Kiitos paljon avusta!": ["joy"], "Tämä on ihan hirveää.": ["anger"],
        "Okei.": ["anger"], "Pelottaa vähän.": ["fear"],
    })  # fmt: skip
    metrics = EmotionEvaluator(FIXTURES / "fi.small.tsv", "xed")(fake, out_dir=tmp_path, show_progress=False)
    # per label F1: joy 1, anger 2/3, fear 1, trust 0, neutral 0, others 0 (no support, no predictions)
    assert metrics["per_label"]["joy"] == 1.0
    assert metrics["per_label"]["anger"] == pytest.approx(0.6667, abs=1e-4)
    assert metrics["per_label"]["trust"] == 0.0
    assert metrics["macro_f1"] == pytest.approx((1 + 2 / 3 + 1) / 9)
    # micro: TP 3, FP 1, FN 2 -> 6 / (6 + 3)
    assert metrics["micro_f1"] == pytest.approx(6 / 9)
    assert metrics["n"] == 4 and metrics["lang"] == "fi"
    assert fake.langs_seen == {"fi"}  # thresholds for the file's language
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["macro_f1"] == pytest.approx(metrics["macro_f1"])
    predictions = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [p["predicted"] for p in predictions] == [["joy"], ["anger"], ["anger"], ["fear"]]
    assert predictions[0]["gold"] == ["joy", "trust"]


def test_an_xed_file_without_a_language_in_its_name_is_read_in_the_language_of_its_text(tmp_path, capsys):
    fake = ScriptedClassifier({
        "Kiitos paljon avusta!": ["joy"], "Tämä on ihan hirveää.": ["anger"],
        "Okei.": ["anger"], "Pelottaa vähän.": ["fear"],
    })  # fmt: skip
    unnamed = tmp_path / "heldout.tsv"
    unnamed.write_text((FIXTURES / "fi.small.tsv").read_text(encoding="utf-8"), encoding="utf-8")
    metrics = EmotionEvaluator(unnamed, "xed")(fake, show_progress=False)
    assert metrics["lang"] == "fi" and fake.langs_seen == {"fi"}
    assert "--lang" in capsys.readouterr().err
    english = tmp_path / "other.tsv"
    english.write_text("Thanks a lot!\t5\nThis is awful.\t1\n", encoding="utf-8")
    assert EmotionEvaluator(english, "xed")(ScriptedClassifier({"Thanks a lot!": ["joy"], "This is awful.": ["anger"]}),
                                            show_progress=False)["lang"] == "en"  # fmt: skip


# ------------------------------------------------------------------ the real model (slow)


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory, encoder_cache):
    """A real training run on a few hundred rows per corpus."""
    import dataclasses

    from coach.tone_training import ToneTrainingConfig, train

    out = tmp_path_factory.mktemp("tiny-tone")
    config = dataclasses.replace(ToneTrainingConfig(), out_dir=out, limit=300, epochs=2, first_trained_layer=10,
                                 state_cache=tmp_path_factory.mktemp("tiny-states"))  # fmt: skip
    manifest = train(config)
    return out, manifest, config


def _chance_macro_f1(path: Path, taxonomy: str, n_labels: int) -> float:
    """Macro-F1 of a random guesser that predicts each label at its true rate (F1 = rate)."""
    examples = read_corpus(path, taxonomy)
    rates = np.zeros(n_labels)
    for example in examples:
        rates[list(example.labels)] += 1
    return float((rates / len(examples)).mean())


@pytest.mark.slow
def test_a_tiny_training_run_beats_chance(tiny_artifact):
    _, manifest, _ = tiny_artifact
    data = shared_data_dir()
    assert manifest["dev_metrics"]["xed-fi"]["macro_f1"] > _chance_macro_f1(data / "xed" / "fi.train.tsv", "xed", 9) + 0.05
    assert manifest["dev_metrics"]["xed-en"]["macro_f1"] > _chance_macro_f1(data / "xed" / "en.train.tsv", "xed", 9) + 0.05
    go_chance = _chance_macro_f1(data / "goemotions" / "dev.tsv", "goemotions", 28)
    assert manifest["dev_metrics"]["goemotions-en"]["macro_f1"] > go_chance + 0.02


@pytest.mark.slow
def test_training_is_reproducible_and_reuses_the_saved_states(tiny_artifact, tmp_path):
    import dataclasses

    from coach.tone_training import train

    from coach.lexical import LEXICAL_CONFIG

    _, manifest, config = tiny_artifact
    assert len(list(Path(config.state_cache).glob("lower-states-*.pt"))) == 1
    (tmp_path / LEXICAL_CONFIG).write_text("{}")  # fitted to earlier weights: a retrain must drop it
    again = train(dataclasses.replace(config, out_dir=tmp_path))
    assert not (tmp_path / LEXICAL_CONFIG).exists()
    assert again["dev_metrics"] == manifest["dev_metrics"]
    assert again["thresholds"] == manifest["thresholds"]


@pytest.fixture(scope="session")
def tiny_classifier(tiny_artifact, real_encoder):
    from coach.tone import ToneClassifier

    return ToneClassifier(real_encoder, tiny_artifact[0])


REPLIES = [
    "Ymmärrän, että tämä harmittaa. Selvitän asian heti ja soitan teille huomenna.",
    "No kuten jo sanoin, se ei kuulu meille.",
    "I'm so sorry, I really don't know what to do.",
    "",
    "😡" * 50,
    "sana " * 4000,
]


@pytest.mark.slow
def test_classification_is_deterministic_and_batch_independent(tiny_classifier):
    together = tiny_classifier.classify(REPLIES, batch_size=4)
    again = tiny_classifier.classify(REPLIES, batch_size=4)
    one_by_one = [tiny_classifier.classify([reply])[0] for reply in REPLIES]
    for a, b, c in zip(together, again, one_by_one):
        assert a.goemotions == b.goemotions
        for name in XED_LABELS:
            assert abs(a.xed[name] - c.xed[name]) < 1e-4
        assert a.coarse == c.coarse
        assert a.coarse in COARSE_TONES
        assert -1.0 <= a.valence <= 1.0


@pytest.mark.slow
def test_language_thresholds_are_loaded_and_used(tiny_artifact, real_encoder):
    from coach.tone import ToneClassifier

    out, manifest, _ = tiny_artifact
    tweaked = json.loads((out / "tone_config.json").read_text())
    tweaked["thresholds"]["xed"]["fi"] = [0.0001] * len(XED_LABELS)  # every label passes in Finnish
    tweaked["thresholds"]["xed"]["all"] = [0.9999] * len(XED_LABELS)  # none passes: the argmax alone
    (out / "tone_config.json").write_text(json.dumps(tweaked))
    try:
        classifier = ToneClassifier(real_encoder, out)
        [finnish] = classifier.classify([REPLIES[0]], lang="fi")
        [default] = classifier.classify([REPLIES[0]], lang=None)
        assert finnish.xed_labels == list(XED_LABELS)
        assert default.xed_labels == [max(default.xed, key=default.xed.get)]
    finally:
        (out / "tone_config.json").write_text(json.dumps(manifest, indent=2))


@pytest.mark.slow
def test_the_lower_layers_forward_reproduces_the_plain_encoder(real_encoder):
    """Running the layers by hand (as training and inference do) must equal the model's own forward."""
    import torch

    from coach.tone import lower_layers_forward

    model = real_encoder.model
    batch = real_encoder.tokenize(["Hei, miten voin auttaa?", "A much longer English sentence for padding."])
    with torch.inference_mode():
        split = lower_layers_forward(model, model.encoder.layer, batch)
        plain = model(**batch).last_hidden_state
    mask = batch["attention_mask"].bool()
    assert torch.allclose(split[mask], plain[mask], atol=1e-4)


# ------------------------------------------------------------------ the Finnish n-gram blend


def test_the_saved_ngram_model_reproduces_the_fitted_one():
    """The vocabulary, idf and coefficients written to disk must give sklearn's own probabilities."""
    from sklearn.linear_model import LogisticRegression

    from coach.lexical import LexicalBlend, _vectorizer

    texts = ["vituttaa ihan hirveesti", "ihanaa kiitos tosi paljon", "pelottaa mennä sinne", "no jaahas taas",
             "kiitos ihanaa päivää", "ärsyttää tää jono"] * 3  # fmt: skip
    labels = np.array([1, 0, 0, 1, 0, 1] * 3)
    vectorizer = _vectorizer()
    features = vectorizer.fit_transform(texts)
    regression = LogisticRegression().fit(features, labels)
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    blend = LexicalBlend(vocabulary, vectorizer.idf_.astype(np.float32), regression.coef_.astype(np.float32),
                         regression.intercept_.astype(np.float32), weight=0.25)  # fmt: skip
    unseen = ["vituttaa tää jono", "kiitos paljon", ""]
    expected = regression.predict_proba(vectorizer.transform(unseen))[:, 1]
    assert np.allclose(blend.ngram_probabilities(unseen)[:, 0], expected, atol=1e-5)
    encoder = np.full((3, 1), 0.2, dtype=np.float32)
    assert np.allclose(blend(unseen, encoder)[:, 0], 0.75 * 0.2 + 0.25 * expected, atol=1e-5)


def test_a_fitted_ngram_model_saved_under_other_names_loads_back_the_same(tmp_path):
    from coach.lexical import LexicalBlend

    texts = ["hoidan tämän heti", "ei kuulu meille", "soitan huomenna", "kysy infosta", "selvitän asian", "en voi mitään"] * 3
    targets = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 0]] * 3)
    fitted = LexicalBlend.fit(texts, targets, regularisation_c=4.0, weight=0.3)
    files = ("other.json", "other.safetensors")
    fitted.save(tmp_path, files, note="kept")
    loaded = LexicalBlend.load(tmp_path, files, retrain="coach train moves-ngrams")
    unseen = ["hoidan asian", "ei meille", ""]
    np.testing.assert_allclose(loaded.ngram_probabilities(unseen), fitted.ngram_probabilities(unseen), atol=1e-6)
    assert loaded.weight == 0.3 and json.loads((tmp_path / "other.json").read_text())["note"] == "kept"
    assert fitted.ngram_probabilities(["hoidan"])[0, 0] > fitted.ngram_probabilities(["ei kuulu"])[0, 0]
    assert LexicalBlend.load(tmp_path) is None  # the tone classifier's own file names are not there


def test_an_unreadable_ngram_model_names_the_folder_and_the_fix(tmp_path):
    from coach.lexical import LEXICAL_CONFIG, LexicalBlend

    assert LexicalBlend.load(tmp_path) is None  # no file: the classifier runs without a blend
    (tmp_path / LEXICAL_CONFIG).write_text("{not json")
    with pytest.raises(UserError, match="coach train lexical"):
        LexicalBlend.load(tmp_path)


@pytest.fixture(scope="session")
def finnish_xed_sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xed-fi-sample")
    (folder / "xed").mkdir()
    with (shared_data_dir() / "xed" / "fi.train.tsv").open(encoding="utf-8") as handle:
        lines = handle.readlines()
    (folder / "xed" / "fi.train.tsv").write_text("".join(lines[:: len(lines) // 800]), encoding="utf-8")  # every label occurs
    return folder


@pytest.mark.slow
def test_the_ngram_blend_changes_finnish_xed_only_and_retunes_its_thresholds(tiny_artifact, finnish_xed_sample,
                                                                              tmp_path, real_encoder):  # fmt: skip
    import shutil

    from coach.lexical import LEXICAL_CONFIG, LEXICAL_WEIGHTS, LexicalTrainingConfig, train_lexical
    from coach.tone import ToneClassifier

    shutil.copytree(tiny_artifact[0], tmp_path / "tone")
    before = json.loads((tmp_path / "tone" / "tone_config.json").read_text())
    plain = ToneClassifier(real_encoder, tmp_path / "tone")
    result = train_lexical(LexicalTrainingConfig(data_dir=finnish_xed_sample, tone_dir=tmp_path / "tone", weights=(0.5,)))
    after = json.loads((tmp_path / "tone" / "tone_config.json").read_text())
    assert result["weight"] == 0.5 and (tmp_path / "tone" / LEXICAL_WEIGHTS).is_file()
    assert after["lexical"]["weight"] == 0.5 and after["thresholds"]["xed"]["en"] == before["thresholds"]["xed"]["en"]
    assert after["thresholds"]["goemotions"] == before["thresholds"]["goemotions"]

    blended = ToneClassifier(real_encoder, tmp_path / "tone")
    texts = REPLIES[:3]
    fi_plain, fi_blend = plain.probabilities(texts, lang="fi"), blended.probabilities(texts, lang="fi")
    en_blend = blended.probabilities(texts, lang="en")
    assert np.array_equal(fi_blend["goemotions"], fi_plain["goemotions"])
    assert np.array_equal(en_blend["xed"], fi_plain["xed"])  # English (and unknown language) text is left alone
    assert not np.allclose(fi_blend["xed"], fi_plain["xed"], atol=1e-3)
    assert np.all((fi_blend["xed"] >= 0) & (fi_blend["xed"] <= 1))
    # The blend decides the XED labels; the coarse tone keeps reading the encoder (coach.tone.ENCODER_XED).
    plain_results, blend_results = plain.classify(texts, lang="fi"), blended.classify(texts, lang="fi")
    assert [r.coarse_scores for r in blend_results] == [r.coarse_scores for r in plain_results]
    assert [r.xed for r in blend_results] != [r.xed for r in plain_results]

    # A blend that does not help is not kept: its files go, the classifier runs without it.
    train_lexical(LexicalTrainingConfig(data_dir=finnish_xed_sample, tone_dir=tmp_path / "tone", weights=(0.0,)))
    assert not (tmp_path / "tone" / LEXICAL_CONFIG).exists() and not (tmp_path / "tone" / LEXICAL_WEIGHTS).exists()
    assert np.array_equal(ToneClassifier(real_encoder, tmp_path / "tone").probabilities(texts, lang="fi")["xed"], fi_plain["xed"])
