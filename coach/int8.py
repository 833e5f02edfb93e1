"""Int8 inference for encoder layers: per-token activations, per-channel weights, smoothed inputs.

    from coach.int8 import calibrate, save_calibration, chosen_precision
    ranges = calibrate({"lower": lower_layers, "layers": top_layers}, run=lambda: model(texts))
    save_calibration(ranges, folder)                       # next to the model's weights
    int8, modules = chosen_precision(folder, None, {"lower": lower_layers, "layers": top_layers})

Every linear map ``y = x Wᵀ + b`` becomes an int8 × int8 → int32 matrix product
(``torch._int_mm``; oneDNN runs it with VNNI or AVX2 integer instructions, 2-8× the fp32 speed on
these CPUs) with fp32 rescaling around it. Attention, layer norms and GELU stay fp32.

- **Per token**: every row of ``x`` (one token) gets its own scale, taken when it runs. A reply's
  result therefore does not depend on the other replies in its batch, and one loud token does not
  cost the others their resolution.
- **Per output channel** for the weights: each row of ``W`` gets its own scale.
- **Smoothing** (SmoothQuant, Xiao et al. 2023): a few input channels of a transformer carry
  activations far larger than the rest, and one scale per token cannot serve both. Dividing input
  channel ``j`` by ``s_j`` and multiplying weight column ``j`` by ``s_j`` leaves ``y`` unchanged and
  moves that range into the weights, which have a scale per row. ``s_j = max|x_j|^α / max|W_j|^(1-α)``
  with ``max|x_j|`` measured once on calibration text (``calibrate``); ``α`` = ``SMOOTHING``.

Measured on the tone classifier (models/MODEL_CARD.md): 2.2-2.5× the fp32 throughput on an
AVX-512 VNNI CPU (1.5× limited to AVX2), for at most 0.009 dev macro-F1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from coach.errors import UserError

CALIBRATION_FILE = "int8_calibration.safetensors"
# On the tone classifier's dev splits (calibrated on 600 replies) 0.75 stayed within 0.003
# macro-F1 of fp32, 0.5 lost up to 0.008 on XED-fi and 0.3 up to 0.006 (models/MODEL_CARD.md).
SMOOTHING = 0.75
_TINY = 1e-8


class Int8Linear(nn.Module):
    """A frozen ``nn.Linear`` computed in int8; ``input_range`` is max |x_j| per input channel."""

    def __init__(self, linear: nn.Linear, input_range: torch.Tensor, smoothing: float = SMOOTHING):
        super().__init__()
        weight = linear.weight.detach().float()
        if input_range.shape != (weight.shape[1],):
            raise ValueError(f"input range has shape {tuple(input_range.shape)}, expected ({weight.shape[1]},)")
        smooth = input_range.float().clamp(min=1e-5) ** smoothing / weight.abs().amax(0).clamp(min=1e-5) ** (1 - smoothing)
        smoothed = weight * smooth
        weight_scale = smoothed.abs().amax(1).clamp(min=_TINY) / 127
        self.register_buffer("weight_t", torch.round(smoothed / weight_scale[:, None]).to(torch.int8).t().contiguous())
        self.register_buffer("weight_scale", weight_scale)
        self.register_buffer("inverse_smooth", 1 / smooth)
        self.register_buffer("bias", linear.bias.detach().float() if linear.bias is not None else torch.zeros(weight.shape[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In place wherever the tensor is our own: these element-wise passes cost as much as the
        # matrix product, and every fresh large tensor is fresh pages for the kernel to map.
        rows = x.reshape(-1, x.shape[-1]) * self.inverse_smooth
        # max |x| per row, without an |x| copy
        scale = torch.maximum(rows.amax(1, keepdim=True), rows.amin(1, keepdim=True).neg_()).clamp_(min=_TINY).div_(127)
        products = torch._int_mm(rows.div_(scale).round_().to(torch.int8), self.weight_t).float()
        return products.mul_(scale).mul_(self.weight_scale).add_(self.bias).reshape(*x.shape[:-1], -1)


def _linears(modules: dict[str, nn.Module]) -> dict[str, nn.Linear]:
    return {f"{prefix}.{name}": module for prefix, root in modules.items()
            for name, module in root.named_modules() if isinstance(module, nn.Linear)}  # fmt: skip


@torch.inference_mode()
def calibrate(modules: dict[str, nn.Module], run: Callable[[], object]) -> dict[str, torch.Tensor]:
    """max |x_j| per input channel of every linear map under ``modules`` while ``run()`` runs them.

    Keys are ``"<prefix>.<module path>"`` with the prefixes of ``modules``.
    """
    ranges: dict[str, torch.Tensor] = {}
    hooks = []
    for key, linear in _linears(modules).items():
        def record(_module, inputs, _output, key=key):
            seen = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).abs().amax(0).float()
            ranges[key] = torch.maximum(ranges[key], seen) if key in ranges else seen

        hooks.append(linear.register_forward_hook(record))
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    missing = sorted(set(_linears(modules)) - set(ranges))
    if missing:
        raise ValueError(f"calibration never ran {missing[0]} (and {len(missing) - 1} more linear maps)")
    return ranges


def quantised(module: nn.Module, ranges: dict[str, torch.Tensor], prefix: str) -> nn.Module:
    """A copy of ``module`` with every ``nn.Linear`` replaced by an ``Int8Linear`` (ranges under ``prefix``)."""
    module = copy.deepcopy(module)
    for name, linear in list(_linears({prefix: module}).items()):
        if name not in ranges:
            raise KeyError(f"the int8 calibration has no input range for {name}; recalibrate with: coach train int8")
        parent_path, _, attribute = name[len(prefix) + 1 :].rpartition(".")
        setattr(module.get_submodule(parent_path), attribute, Int8Linear(linear, ranges[name]))
    return module


def save_calibration(ranges: dict[str, torch.Tensor], folder: Path) -> Path:
    from safetensors.torch import save_file

    path = Path(folder) / CALIBRATION_FILE
    save_file({key: value.contiguous() for key, value in ranges.items()}, str(path))
    return path


def load_calibration(folder: Path) -> dict[str, torch.Tensor] | None:
    """The stored ranges, or None when the folder has no calibration."""
    from safetensors.torch import load_file

    path = Path(folder) / CALIBRATION_FILE
    return load_file(str(path)) if path.is_file() else None


def chosen_precision(folder: Path, int8: bool | None, modules: dict[str, nn.Module]) -> tuple[bool, dict[str, nn.Module]]:
    """Whether to run in int8, and ``modules`` as they should run: quantised copies under int8.

    ``int8=None`` means int8 when ``folder`` holds a calibration, fp32 otherwise.
    """
    ranges = load_calibration(folder)
    if not (ranges is not None if int8 is None else int8):
        return False, modules
    if ranges is None:
        raise UserError(f"{folder} has no {CALIBRATION_FILE}, which int8 inference needs. "
                        "Calibrate it with: coach train int8 (or run in fp32 with --fp32)")  # fmt: skip
    return True, {prefix: quantised(module, ranges, prefix) for prefix, module in modules.items()}
