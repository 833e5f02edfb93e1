"""The service-moves head and its training data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coach.errors import UserError
from coach.labels import SERVICE_MOVES
from coach.moves import DEFAULT_HEAD, MovesHead, fit_head, is_test, read_moves_data, targets


def test_the_project_data_is_large_balanced_and_labelled_with_known_moves():
    examples = read_moves_data()
    by_lang = {lang: [e for e in examples if e.lang == lang] for lang in ("fi", "en")}
    assert len(examples) >= 800 and abs(len(by_lang["fi"]) - len(by_lang["en"])) <= 20
    y = targets(examples)
    for lang, rows in by_lang.items():
        counts = targets(rows).sum(axis=0)
        assert counts.min() >= 60, (lang, dict(zip(SERVICE_MOVES, counts)))
    assert y.shape == (len(examples), len(SERVICE_MOVES))


def test_the_test_split_is_stable_and_about_a_fifth():
    examples = read_moves_data()
    first = [is_test(e) for e in examples]
    assert first == [is_test(e) for e in examples]
    assert 0.15 < sum(first) / len(first) < 0.25


def test_bad_data_lines_are_reported_with_their_number(tmp_path):
    path = tmp_path / "moves.jsonl"
    path.write_text('{"id": "a", "lang": "fi", "reply": "Joo.", "moves": []}\n'
                    '{"id": "b", "lang": "fi", "reply": "Hoidan.", "moves": ["owns_it"]}\n')  # fmt: skip
    with pytest.raises(UserError) as caught:
        read_moves_data([path])
    assert f"{path}:2: unknown move(s) ['owns_it']" in str(caught.value)


def test_a_saved_head_predicts_exactly_like_the_fitted_one(tmp_path):
    rng = np.random.default_rng(0)
    texts = [f"{word} asia {i}" for i in range(60) for word in ("hoidan", "kuten jo sanoin")][:80]
    embeddings = rng.normal(size=(len(texts), 8)).astype(np.float32)
    y = np.zeros((len(texts), len(SERVICE_MOVES)), dtype=int)
    y[:, SERVICE_MOVES.index("takes_ownership")] = [t.startswith("hoidan") for t in texts]
    y[:, SERVICE_MOVES.index("sarcasm")] = [t.startswith("kuten") for t in texts]
    y[::7, :] = 1 - y[::7, :]  # every label needs both classes for the per-move fits
    head = fit_head(embeddings, texts, y)
    head.save(tmp_path / "head.json")
    loaded = MovesHead.load(tmp_path / "head.json")
    np.testing.assert_allclose(loaded.predict(embeddings, texts), head.predict(embeddings, texts), atol=1e-4)
    probabilities = loaded.predict(embeddings[:2], ["hoidan tämän", "kuten jo sanoin"])
    own, sarcasm = SERVICE_MOVES.index("takes_ownership"), SERVICE_MOVES.index("sarcasm")
    assert probabilities[0, own] > probabilities[1, own] and probabilities[1, sarcasm] > probabilities[0, sarcasm]


def test_the_shipped_head_matches_the_move_list_and_reports_its_test_split():
    payload = json.loads(DEFAULT_HEAD.read_text())
    assert payload["moves"] == list(SERVICE_MOVES)
    assert set(payload["test"]) == {"fi", "en"}
    assert DEFAULT_HEAD.stat().st_size < 25 * 1024 * 1024
    head = MovesHead.load()
    assert head.vector_weights.shape[0] == len(SERVICE_MOVES) and len(head.thresholds) == len(SERVICE_MOVES)


def test_a_head_for_other_moves_is_refused(tmp_path):
    payload = json.loads(DEFAULT_HEAD.read_text())
    payload["moves"] = payload["moves"][:-1]
    (tmp_path / "old.json").write_text(json.dumps(payload))
    with pytest.raises(UserError, match="retrain"):
        MovesHead.load(tmp_path / "old.json")
