"""Int8 inference (coach/int8.py): accuracy of one linear map, batch independence, calibration files."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from coach.errors import UserError
from coach.int8 import CALIBRATION_FILE, Int8Linear, calibrate, chosen_precision, load_calibration, quantised, save_calibration


def _linear_and_inputs(seed: int = 0) -> tuple[nn.Linear, torch.Tensor]:
    """A linear map and inputs where one channel runs 60x louder than the rest, as in transformers."""
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(64, 48)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(48, 64, generator=generator) * 0.1)
    x = torch.randn(10, 7, 64, generator=generator)
    x[..., 5] *= 60
    return linear, x


def _relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).norm() / want.norm())


def test_an_int8_linear_map_stays_close_to_fp32_despite_an_outlier_channel():
    linear, x = _linear_and_inputs()
    ranges = calibrate({"m": linear}, run=lambda: linear(x))
    with torch.no_grad():
        want = linear(x)
    assert _relative_error(Int8Linear(linear, ranges["m."])(x), want) < 0.01
    # Smoothing is what keeps it close: without it (smoothing 0 scales by the weights alone) the
    # loud channel takes every token's resolution.
    assert _relative_error(Int8Linear(linear, ranges["m."], smoothing=0.0)(x), want) > 0.01


def test_each_token_is_quantised_on_its_own_so_batches_do_not_interact():
    linear, x = _linear_and_inputs()
    layer = Int8Linear(linear, calibrate({"m": linear}, run=lambda: linear(x))["m."])
    together = layer(x)
    for i in range(len(x)):
        assert torch.equal(layer(x[i : i + 1])[0], together[i])


def test_calibration_records_the_largest_input_per_channel_of_every_linear_map():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    first = torch.tensor([[1.0, -5.0, 2.0]])
    second = torch.tensor([[-3.0, 1.0, 0.5]])
    ranges = calibrate({"net": model}, run=lambda: (model(first), model(second)))
    assert set(ranges) == {"net.0", "net.2"}
    assert torch.equal(ranges["net.0"], torch.tensor([3.0, 5.0, 2.0]))
    with torch.no_grad():
        hidden = torch.relu(model[0](torch.cat([first, second])))
    assert torch.allclose(ranges["net.2"], hidden.abs().amax(0))


def test_calibration_fails_when_a_linear_map_never_ran():
    model = nn.ModuleDict({"used": nn.Linear(2, 2), "unused": nn.Linear(2, 2)})
    with pytest.raises(ValueError, match="never ran net.unused"):
        calibrate({"net": model}, run=lambda: model["used"](torch.ones(1, 2)))


def test_quantising_copies_and_names_a_missing_range():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    ranges = calibrate({"net": model}, run=lambda: model(torch.randn(5, 4)))
    int8 = quantised(model, ranges, "net")
    assert all(isinstance(m, Int8Linear) for m in int8)
    assert all(isinstance(m, nn.Linear) for m in model)  # the original is untouched
    with pytest.raises(KeyError, match="net.1.*coach train int8"):
        quantised(model, {"net.0": ranges["net.0"]}, "net")


def test_precision_follows_the_folder_unless_asked(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4))
    modules = {"net": model}
    assert chosen_precision(tmp_path, None, modules) == (False, modules)
    with pytest.raises(UserError, match=f"{CALIBRATION_FILE}.*coach train int8"):
        chosen_precision(tmp_path, True, modules)
    save_calibration(calibrate(modules, run=lambda: model(torch.randn(3, 4))), tmp_path)
    assert set(load_calibration(tmp_path)) == {"net.0"}
    int8, chosen = chosen_precision(tmp_path, None, modules)
    assert int8 and isinstance(chosen["net"][0], Int8Linear)
    assert chosen_precision(tmp_path, False, modules) == (False, modules)


# ------------------------------------------------------------------ the shipped models (slow)

SERVICE_REPLIES = [
    "Ymmärrän, että tämä harmittaa. Selvitän asian heti ja soitan teille huomenna.",
    "No kuten jo sanoin, se ei kuulu meille.",
    "I'm so sorry, I really don't know what to do.",
    "Thanks so much for waiting, I've refunded the full amount to your card just now.",
    "Ei kuulu meille. Soita valmistajalle.",
    "Oh no, that's awful! Let me sort out a replacement for you today.",
    "Voi ei, tosi kurjaa! Vaihdan sen heti uuteen.",
    "Well, if you'd read the terms you'd know that.",
    "",
    "sana " * 400,
]


@pytest.fixture(scope="module")
def both_precisions(real_encoder):
    from coach.tone import DEFAULT_ARTIFACT, ToneClassifier

    return ToneClassifier(real_encoder, DEFAULT_ARTIFACT, int8=False), ToneClassifier(real_encoder, DEFAULT_ARTIFACT)


@pytest.mark.slow
def test_the_shipped_classifier_runs_in_int8_by_default_and_agrees_with_fp32(both_precisions):
    import numpy as np

    fp32, int8 = both_precisions
    assert int8.int8 and not fp32.int8
    exact, fast = fp32.probabilities(SERVICE_REPLIES), int8.probabilities(SERVICE_REPLIES)
    for taxonomy in ("goemotions", "xed"):
        difference = np.abs(exact[taxonomy] - fast[taxonomy])
        assert difference.mean() < 0.01 and difference.max() < 0.15
    agree = [a.coarse == b.coarse for a, b in zip(fp32.classify(SERVICE_REPLIES), int8.classify(SERVICE_REPLIES))]
    assert sum(agree) >= len(agree) - 1


@pytest.mark.slow
def test_int8_classification_is_deterministic_and_batch_independent(both_precisions):
    import numpy as np

    _, int8 = both_precisions
    together = int8.probabilities(SERVICE_REPLIES, batch_size=4)
    assert all(np.array_equal(together[k], v) for k, v in int8.probabilities(SERVICE_REPLIES, batch_size=4).items())
    # Scales are per token, so only padding's effect on float accumulation order remains; where that flips
    # an int8 rounding step a probability moves by about 0.01 (max 0.009, 0.011 and 0.015 with the
    # calibrations on 2,320, 4,390 and 8,485 replies; 0.010 for the fully fine-tuned model on 12,409).
    for i, reply in enumerate(SERVICE_REPLIES):
        alone = int8.probabilities([reply])
        assert np.abs(alone["xed"][0] - together["xed"][i]).max() < 0.02


@pytest.mark.slow
def test_the_shipped_moves_model_agrees_in_int8(real_encoder):
    import numpy as np

    from coach.labels import SERVICE_MOVES
    from coach.moves import MovesModel, read_verdicts

    exact = MovesModel(real_encoder, int8=False).predict(SERVICE_REPLIES)
    fast_model = MovesModel(real_encoder)
    assert fast_model.int8
    fast = fast_model.predict(SERVICE_REPLIES)
    difference = np.abs(exact - fast)
    assert difference[:-1].max() < 0.1  # every real reply
    assert difference[-1].max() < 0.15  # 256 tokens of one repeated word: the tone heads' bound
    moves = len(SERVICE_MOVES)
    flipped = (exact[:, :moves] >= fast_model.thresholds) != (fast[:, :moves] >= fast_model.thresholds)
    assert flipped.sum() <= 2  # of 120 move decisions
    assert (read_verdicts(exact[:, moves:]) != read_verdicts(fast[:, moves:])).sum() <= 1  # of 30 verdicts


def test_the_shipped_models_share_the_lower_layers_calibration_when_they_share_the_pass():
    """When both models start from the same layer the app runs the lower layers once, with the tone
    classifier's calibration, so the moves model's own copy must be the same for its separate pass
    to give the same moves. When they start from different layers (the shipped tone classifier
    fine-tunes all twelve), each pass has its own calibration, covering exactly its frozen layers."""
    from coach.moves import DEFAULT_MODEL
    from coach.tone import DEFAULT_ARTIFACT

    first = {folder: json.loads((folder / name).read_text())["first_trained_layer"]
             for folder, name in ((DEFAULT_ARTIFACT, "tone_config.json"), (DEFAULT_MODEL, "moves_config.json"))}  # fmt: skip
    tone, moves = load_calibration(DEFAULT_ARTIFACT), load_calibration(DEFAULT_MODEL)
    tone_lower = sorted(key for key in tone if key.startswith("lower."))
    moves_lower = sorted(key for key in moves if key.startswith("lower."))
    if first[DEFAULT_ARTIFACT] == first[DEFAULT_MODEL]:
        assert tone_lower and tone_lower == moves_lower
        assert all(torch.equal(tone[key], moves[key]) for key in tone_lower)
    else:
        assert {key.split(".")[1] for key in tone_lower} == {str(i) for i in range(first[DEFAULT_ARTIFACT])}
        assert {key.split(".")[1] for key in moves_lower} == {str(i) for i in range(first[DEFAULT_MODEL])}


def test_training_a_shipped_model_recalibrates_both_shipped_models(monkeypatch, tmp_path):
    """They share one lower-layer calibration in the app (the test above); a model trained elsewhere is calibrated alone."""
    from coach.commands import train
    from coach.moves import DEFAULT_MODEL
    from coach.tone import DEFAULT_ARTIFACT

    calls = []
    monkeypatch.setattr(train, "calibrate_int8", lambda tone_dir, moves_dir, encoder: calls.append((tone_dir, moves_dir)))
    train.calibrate_trained(moves_dir=DEFAULT_MODEL)
    train.calibrate_trained(tone_dir=DEFAULT_ARTIFACT)
    train.calibrate_trained(moves_dir=tmp_path)
    train.calibrate_trained(tone_dir=tmp_path)
    assert calls == [(DEFAULT_ARTIFACT, DEFAULT_MODEL), (DEFAULT_ARTIFACT, DEFAULT_MODEL), (None, tmp_path), (tmp_path, None)]
