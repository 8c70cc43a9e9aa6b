"""The mx.compile-fused elementwise kernels (used on GPU) compute what their plain forms compute."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.bench.graph_ops import count_graph_ops
from ltx_mlx_core.models.common.activations import gelu_erf, gelu_tanh
from ltx_mlx_core.models.common.adaln import (
    AdaValue,
    _gated_residual,
    _gated_residual_ada,
    _modulate,
    _modulate_ada,
    _modulate_ada_unshifted,
    ada_rows,
    gated_residual,
    modulate,
)
from ltx_mlx_core.models.common.attention import SkipLayerStrategy
from ltx_mlx_core.models.common.rope import RotaryAngles, _rotate_pairs
from ltx_mlx_core.models.ltx2.attention import _gate_heads
from ltx_mlx_core.models.ltx2.rope import _HALF_SIGNS, _rotate_halves_in_float32, _rotate_pairs_in_float32
from ltx_mlx_core.models.ltxv.transformer_blocks import TransformerBlock
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig


def _random(*shape: int, dtype: mx.Dtype = mx.float32, seed: int = 0) -> mx.array:
    return mx.random.normal(shape, key=mx.random.key(seed)).astype(dtype)


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_fused_kernels_match_plain_versions(dtype: mx.Dtype) -> None:
    x = _random(2, 5, 8, dtype=dtype)
    scale, shift = _random(2, 1, 8, dtype=dtype, seed=1), _random(2, 1, 8, dtype=dtype, seed=2)
    pairs = _random(2, 5, 4, 2, dtype=dtype, seed=3)
    cos, sin = _random(2, 5, 4, 2, dtype=dtype, seed=4), _random(2, 5, 4, 2, dtype=dtype, seed=5)
    rows = _random(8, dtype=dtype, seed=6), _random(8, dtype=dtype, seed=7)
    halves = _random(2, 5, 2, 2, 3, dtype=dtype, seed=8)
    half_cos, half_sin = _random(2, 5, 2, 1, 3, seed=9), _random(2, 5, 2, 1, 3, seed=10)
    heads, head_logits = _random(2, 5, 2, 4, dtype=dtype, seed=11), _random(2, 5, 2, 1, dtype=dtype, seed=12)
    cases = [
        (_modulate, (x, scale, shift)),
        (_modulate, (x, scale, None)),
        (_modulate_ada, (x, rows[0], scale, rows[1], shift)),
        (_modulate_ada_unshifted, (x, rows[0], scale)),
        (_gated_residual, (x, scale, shift)),
        (_gated_residual_ada, (x, rows[0], scale, shift)),
        (gelu_tanh, (x,)),
        (gelu_erf, (x,)),
        (_rotate_pairs, (pairs, pairs[..., ::-1], cos, sin)),
        (_rotate_pairs_in_float32, (pairs, pairs[..., ::-1], cos.astype(mx.float32), sin.astype(mx.float32))),
        (_rotate_halves_in_float32, (halves, halves[..., ::-1, :], half_cos, half_sin, mx.array(_HALF_SIGNS))),
        (_gate_heads, (heads, head_logits)),
    ]
    for function, args in cases:
        plain = function.__wrapped__(*args)
        fused = function.compiled(*args)
        assert fused.dtype == plain.dtype == dtype
        tolerance = 1e-6 if dtype == mx.float32 else 1e-2
        np.testing.assert_allclose(
            np.array(fused.astype(mx.float32)), np.array(plain.astype(mx.float32)), rtol=tolerance, atol=tolerance
        )


def test_modulation_kept_as_row_and_timestep_computes_the_summed_vectors() -> None:
    """AdaValues (row + timestep, added inside the kernels) give what the materialised sums give."""
    table = _random(3, 8, dtype=mx.bfloat16, seed=1)
    modulation = _random(2, 5, 3 * 8, dtype=mx.bfloat16, seed=2)
    x, update = _random(2, 5, 8, dtype=mx.bfloat16, seed=3), _random(2, 5, 8, dtype=mx.bfloat16, seed=4)
    summed = table + modulation.reshape(2, 5, 3, 8)
    shift, scale, gate = (summed[:, :, i] for i in range(3))
    shift_ada, scale_ada, gate_ada = ada_rows(table, modulation, slice(None))
    assert isinstance(scale_ada, AdaValue)
    pairs = [
        (modulate(x, scale_ada, shift_ada), x * (1 + scale) + shift),
        (modulate(x, scale_ada, None), x * (1 + scale)),
        (gated_residual(x, gate_ada, update), x + gate * update),
    ]
    for ours, expected in pairs:
        assert ours.dtype == mx.bfloat16
        np.testing.assert_array_equal(np.array(ours.astype(mx.float32)), np.array(expected.astype(mx.float32)))


def test_table_rows_are_views_and_the_head_gate_one_kernel() -> None:
    """Per block, 32 table rows were gathers and each of 6 head gates 3 kernels: launches on a GPU."""
    table = _random(9, 8, dtype=mx.bfloat16, seed=1)
    modulation = _random(2, 5, 9 * 8, dtype=mx.bfloat16, seed=2)
    mx.eval(table, modulation)
    rows = ada_rows(table, modulation, slice(None))
    assert count_graph_ops(*(row.row for row in rows)).kernels == 0
    np.testing.assert_array_equal(
        np.array(mx.stack([row.row for row in rows]).astype(mx.float32)), np.array(table.astype(mx.float32))
    )
    heads, logits = _random(2, 5, 2, 4, seed=3), _random(2, 5, 2, 1, seed=4)
    mx.eval(heads, logits)
    assert count_graph_ops(_gate_heads.compiled(heads, logits)).kernels == 1


def _tiny_block_inputs(config, tokens: int = 6, text: int = 4, seed: int = 0):
    keys = mx.random.split(mx.random.key(seed), 5)
    dim = config.inner_dim
    x = mx.random.normal((2, tokens, dim), key=keys[0])
    timestep = mx.random.normal((2, 1, 6 * dim), key=keys[1]) * 0.1
    context = mx.random.normal((2, text, config.cross_attention_dim), key=keys[2])
    mask = mx.array([[0.0, 0.0, -10000.0, -10000.0], [0.0, 0.0, 0.0, -10000.0]])[:, None, None, :]
    angles = mx.random.uniform(shape=(2, tokens, dim // 2), key=keys[3])
    rotary = RotaryAngles(mx.stack([mx.cos(angles)] * 2, -1), mx.stack([-mx.sin(angles), mx.sin(angles)], -1))
    skip = mx.array([1.0, 0.0]).reshape(2, 1, 1)
    return x, timestep, context, mask, rotary, skip


def test_a_compiled_block_computes_what_the_plain_block_computes_and_reads_fresh_weights() -> None:
    from mlx.utils import tree_map

    config = TransformerConfig(
        num_attention_heads=2, attention_head_dim=8, num_layers=1, cross_attention_dim=16, caption_channels=8
    )
    block = TransformerBlock(config)
    block.update(tree_map(lambda p: mx.random.normal(p.shape, key=mx.random.key(1)) * 0.1, block.parameters()))
    x, timestep, context, mask, rotary, skip = _tiny_block_inputs(config)
    for context_mask, skip_mask, strategy in ((None, None, None), (mask, skip, SkipLayerStrategy.AttentionValues)):
        compiled = block._compile_forward(context_mask is not None, skip_mask is not None, strategy, 1)
        optional = [a for a in (context_mask, skip_mask) if a is not None]
        plain = block.forward(x, timestep, context, context_mask, rotary, skip_mask, strategy)
        fused = compiled(x, timestep, context, rotary.cos, rotary.sin, *optional)
        np.testing.assert_allclose(np.array(fused), np.array(plain), rtol=1e-5, atol=1e-5)
    # Streamed blocks swap their weights in before each call: the compiled graph must see them.
    block.update(tree_map(lambda p: p * 2, block.parameters()))
    np.testing.assert_allclose(
        np.array(compiled(x, timestep, context, rotary.cos, rotary.sin, mask, skip)),
        np.array(block.forward(x, timestep, context, mask, rotary, skip, SkipLayerStrategy.AttentionValues)),
        rtol=1e-5,
        atol=1e-5,
    )
