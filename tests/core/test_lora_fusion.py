"""LoRA fusion on float models: exact restore, all-or-nothing application, checks before changes."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import InvalidRequest, LoraError
from ltx_mlx_core.models.common import lora as lora_module
from ltx_mlx_core.models.common.lora import Lora, LoraLayer, apply_loras, fused_loras
from tests.core.lora_helpers import linear_paths, parameters, random_lora, tiny_inputs, tiny_transformer


def _assert_same_parameters(model: nn.Module, expected: dict[str, np.ndarray], dtypes: dict[str, mx.Dtype]) -> None:
    now = parameters(model)
    assert now.keys() == expected.keys()
    changed = [name for name in expected if not np.array_equal(now[name], expected[name])]
    assert changed == []
    assert {name: value.dtype for name, value in _flat(model).items()} == dtypes


def _flat(model: nn.Module) -> dict[str, mx.array]:
    return dict(tree_flatten(model.parameters()))


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16], ids=["float32", "bfloat16"])
def test_fuse_then_unfuse_is_bit_identical(dtype: mx.Dtype) -> None:
    model = tiny_transformer(dtype)
    before, dtypes, arrays = parameters(model), {k: v.dtype for k, v in _flat(model).items()}, _flat(model)
    video, audio = tiny_inputs()
    plain = model(video, audio)
    paths = linear_paths(model)
    loras = [(random_lora(model, paths, 4, seed=1), 0.8), (random_lora(model, paths[::3], 2, seed=2), -0.5)]
    with fused_loras(model, loras) as applied:
        assert applied.layers == len(paths)
        adapted = model(video, audio)
        assert sum(not np.array_equal(v, before[k]) for k, v in parameters(model).items()) == len(paths)
    for stream_plain, stream_adapted in zip(plain, adapted):
        assert float(mx.abs(stream_adapted - stream_plain).max()) > 0.1 * float(mx.abs(stream_plain).max())
    _assert_same_parameters(model, before, dtypes)
    # The very arrays that were there: nothing recomputed, nothing subtracted.
    assert all(value is arrays[name] for name, value in _flat(model).items())


def test_fused_weight_adds_strength_times_scale_times_up_down() -> None:
    model = tiny_transformer()
    path = "transformer_blocks.1.audio_attn2.to_k"
    first = random_lora(model, [path, "transformer_blocks.0.ff.proj_in"], 4, seed=3)
    second = random_lora(model, [path], 6, seed=4)
    second = Lora(second.name, (LoraLayer(path, second.layers[0].down, second.layers[0].up, scale=0.25),))
    weight = np.array(model.transformer_blocks[1].audio_attn2.to_k.weight, dtype=np.float64)
    expected = weight.copy()
    for lora, strength in ((first, 0.8), (second, -1.5)):
        layer = lora.layers[0]
        expected += strength * layer.scale * np.array(layer.up, np.float64) @ np.array(layer.down, np.float64)
    with fused_loras(model, [(first, 0.8), (second, -1.5)]):
        fused = np.array(model.transformer_blocks[1].audio_attn2.to_k.weight, dtype=np.float64)
    assert np.max(np.abs(fused - expected)) <= 1e-6 * np.max(np.abs(expected))


def test_failure_after_half_the_layers_leaves_every_weight_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_transformer(mx.bfloat16)
    before, dtypes, arrays = parameters(model), {k: v.dtype for k, v in _flat(model).items()}, _flat(model)
    paths = linear_paths(model)
    real = lora_module.apply_to_layer
    calls = []

    def failing(target):
        calls.append(target.module)
        if len(calls) > len(paths) // 2:
            raise MemoryError("injected after half the layers")
        return real(target)

    monkeypatch.setattr(lora_module, "apply_to_layer", failing)
    with pytest.raises(MemoryError, match="injected"):
        apply_loras(model, [(random_lora(model, paths, 4, seed=5), 1.0)])
    assert len(calls) == len(paths) // 2 + 1
    _assert_same_parameters(model, before, dtypes)
    assert all(value is arrays[name] for name, value in _flat(model).items())


def test_a_misfit_in_the_last_layer_is_found_before_any_layer_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = tiny_transformer()
    before, dtypes = parameters(model), {k: v.dtype for k, v in _flat(model).items()}
    good = random_lora(model, linear_paths(model), 4, seed=6)
    last = good.layers[-1]
    bad_layer = LoraLayer(last.module, last.down[:, :-1], last.up, 1.0, "bad.lora_A.weight", "bad.lora_B.weight")
    bad = Lora("/loras/bad.safetensors", (*good.layers[:-1], bad_layer))
    calls = []
    monkeypatch.setattr(lora_module, "apply_to_layer", lambda target: calls.append(target))
    with pytest.raises(LoraError) as raised:
        apply_loras(model, [(good, 1.0), (bad, 0.5)])
    message = str(raised.value)
    assert "/loras/bad.safetensors" in message and "'bad.lora_A.weight'" in message and last.module in message
    assert isinstance(raised.value, InvalidRequest)
    assert calls == []
    _assert_same_parameters(model, before, dtypes)


@pytest.mark.parametrize(
    "module, problem",
    [
        ("transformer_blocks.7.attn1.to_q", "does not have"),
        ("transformer_blocks.0.attn1.q_norm", "not a linear layer"),
        ("transformer_blocks.0.scale_shift_table", "does not have"),
    ],
)
def test_layers_the_model_lacks_are_named(module: str, problem: str) -> None:
    model = tiny_transformer()
    layer = LoraLayer(module, mx.zeros((2, 64)), mx.zeros((64, 2)), 1.0, f"{module}.lora_A.weight")
    with pytest.raises(LoraError, match=problem) as raised:
        apply_loras(model, [(Lora("x.safetensors", (layer,)), 1.0)])
    assert f"'{module}.lora_A.weight'" in str(raised.value)


def test_a_lora_naming_one_layer_twice_is_refused() -> None:
    model = tiny_transformer()
    lora = random_lora(model, ["proj_out", "proj_out"], 2, seed=7)
    with pytest.raises(LoraError, match="second time"):
        apply_loras(model, [(lora, 1.0)])


def test_the_context_restores_when_the_body_raises() -> None:
    model = tiny_transformer()
    before, dtypes = parameters(model), {k: v.dtype for k, v in _flat(model).items()}
    with pytest.raises(KeyError):
        with fused_loras(model, [(random_lora(model, linear_paths(model), 3, seed=8), 1.0)]):
            raise KeyError("inside")
    _assert_same_parameters(model, before, dtypes)


def test_loras_applied_later_are_removed_first() -> None:
    model = tiny_transformer()
    before, dtypes = parameters(model), {k: v.dtype for k, v in _flat(model).items()}
    paths = linear_paths(model)
    outer = apply_loras(model, [(random_lora(model, paths, 3, seed=9), 1.0)])
    fused_once = parameters(model)
    inner = apply_loras(model, [(random_lora(model, paths[:5], 2, seed=10), 1.0)])
    with pytest.raises(RuntimeError, match="removed first"):
        outer.remove()
    inner.remove()
    assert all(np.array_equal(v, fused_once[k]) for k, v in parameters(model).items())
    outer.remove()
    outer.remove()  # a second removal has nothing left to do
    _assert_same_parameters(model, before, dtypes)
