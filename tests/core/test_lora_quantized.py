"""LoRAs on quantised models: a low-rank side path beside the packed weights, removed exactly.

The quantised layers are never dequantised: the side path adds (x @ down'.T) @ up'.T to the
quantised layer's output. Its math is checked against the same quantised weights dequantised
and fused in float (only rounding apart), and the adapted quantised model is compared with the
fused float model it stands for. Error = max|quantised - float| / max|float|, per stream
(video, audio); tiny model, a rank-4 LoRA on every linear layer at strength 0.7.

Measured on the CPU backend (mlx 0.32.4), video / audio:
  side path vs the dequantised weights fused (float32): 6.5e-7 / 3.1e-7.
  adapted quantised model vs the fused float32 model, and in brackets the unadapted quantised
  model vs the unadapted float32 one (the quantisation error, which the side path does not grow):
    8-bit, float32 scales: 9.8e-3 / 7.2e-3 (1.5e-2 / 1.3e-2)
    4-bit, float32 scales: 1.2e-1 / 1.3e-1 (1.4e-1 / 1.1e-1)
    8-bit, bfloat16 model: 4.8e-2 / 2.5e-2 (4.7e-2 / 3.8e-2); for scale, the bfloat16 float
      model fused is 1.1e-2 / 1.2e-2 from the float32 one.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from ltx_mlx_core.models.common import lora as lora_module
from ltx_mlx_core.models.common.lora import LoraSidePath, apply_loras, fused_loras
from ltx_mlx_core.weights.quantize import quantize_linear_layers
from tests.core.lora_helpers import linear_paths, parameters, random_lora, tiny_inputs, tiny_transformer

STRENGTH = 0.7
# Bounds a little above the measured errors (module docstring).
BOUNDS = {(8, "float32"): 2e-2, (4, "float32"): 2e-1, (8, "bfloat16"): 8e-2}


def _relative(ours: mx.array, reference: mx.array) -> float:
    ours64, reference64 = np.array(ours.astype(mx.float32), np.float64), np.array(reference, np.float64)
    return float(np.max(np.abs(ours64 - reference64)) / np.max(np.abs(reference64)))


def _quantised(bits: int, dtype: mx.Dtype = mx.float32) -> nn.Module:
    model = tiny_transformer(dtype)
    quantize_linear_layers(model, bits)
    return model


def _dequantised_copy(model: nn.Module, dtype: mx.Dtype = mx.float32) -> nn.Module:
    """The float model the quantised one holds: every QuantizedLinear back to a Linear."""
    copy = tiny_transformer(dtype)
    weights = []
    for name, module in model.named_modules():
        if isinstance(module, nn.QuantizedLinear):
            weight = mx.dequantize(
                module.weight, module.scales, module.biases, group_size=module.group_size, bits=module.bits
            )
            weights.append((f"{name}.weight", weight.astype(dtype)))
    copy.load_weights(weights, strict=False)
    return copy


def test_quantised_layers_get_a_side_path_and_float_layers_are_fused() -> None:
    model = _quantised(8)
    modules, before = dict(model.named_modules()), parameters(model)
    quantised = {name for name, module in modules.items() if isinstance(module, nn.QuantizedLinear)}
    float_linears = {name for name, module in modules.items() if isinstance(module, nn.Linear)}
    assert quantised and float_linears  # patchify_proj (4 inputs) does not quantise in groups of 64
    lora = random_lora(model, linear_paths(model), 4, seed=1)
    with fused_loras(model, [(lora, STRENGTH)]) as applied:
        assert applied.layers == len(quantised) + len(float_linears)
        adapted = dict(model.named_modules())
        assert {name for name, module in adapted.items() if isinstance(module, LoraSidePath)} == quantised
        assert all(adapted[f"{name}.base"] is modules[name] for name in quantised)
        assert all(adapted[name] is modules[name] for name in float_linears)
    after = dict(model.named_modules())
    assert after.keys() == modules.keys() and all(after[name] is modules[name] for name in modules)
    assert all(np.array_equal(value, before[name]) for name, value in parameters(model).items())


def test_side_path_equals_the_dequantised_weights_fused() -> None:
    model = _quantised(8)
    float_model = _dequantised_copy(model)
    lora = random_lora(model, linear_paths(model), 4, seed=1)
    video, audio = tiny_inputs()
    with fused_loras(model, [(lora, STRENGTH)]):
        side = model(video, audio)
    with fused_loras(float_model, [(lora, STRENGTH)]):
        fused = float_model(video, audio)
    errors = [_relative(ours, reference) for ours, reference in zip(side, fused)]
    assert max(errors) <= 1e-5, errors


@pytest.mark.parametrize(
    "bits, dtype",
    [(8, mx.float32), (4, mx.float32), (8, mx.bfloat16)],
    ids=["8bit-float32", "4bit-float32", "8bit-bfloat16"],
)
def test_quantised_model_with_lora_tracks_the_fused_float_model(bits: int, dtype: mx.Dtype) -> None:
    float_model = tiny_transformer()
    model = _quantised(bits, dtype)
    lora = random_lora(float_model, linear_paths(float_model), 4, seed=1)
    video, audio = tiny_inputs()
    quantisation = [_relative(mine, theirs) for mine, theirs in zip(model(video, audio), float_model(video, audio))]
    with fused_loras(float_model, [(lora, STRENGTH)]):
        reference = float_model(video, audio)
    with fused_loras(model, [(lora, STRENGTH)]):
        ours = model(video, audio)
    errors = [_relative(mine, theirs) for mine, theirs in zip(ours, reference)]
    assert max(errors) <= BOUNDS[(bits, "float32" if dtype == mx.float32 else "bfloat16")], errors
    assert max(errors) <= 1.5 * max(quantisation), (errors, quantisation)


def test_a_failure_midway_on_a_quantised_model_restores_every_module(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _quantised(4)
    modules, before = dict(model.named_modules()), parameters(model)
    paths = linear_paths(model)
    real, calls = lora_module.apply_to_layer, []

    def failing(target):
        calls.append(target)
        if len(calls) > len(paths) // 2:
            raise RuntimeError("injected")
        return real(target)

    monkeypatch.setattr(lora_module, "apply_to_layer", failing)
    with pytest.raises(RuntimeError, match="injected"):
        apply_loras(model, [(random_lora(model, paths, 4, seed=2), 1.0)])
    after = dict(model.named_modules())
    assert after.keys() == modules.keys() and all(after[name] is modules[name] for name in modules)
    assert all(np.array_equal(value, before[name]) for name, value in parameters(model).items())
