"""The mx.compile-fused elementwise kernels (used on GPU) compute what their plain forms compute."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.models.common.activations import gelu_erf, gelu_tanh
from ltx_mlx_core.models.common.adaln import gated_residual, modulate
from ltx_mlx_core.models.common.attention import SkipLayerStrategy
from ltx_mlx_core.models.common.rope import RotaryAngles, _rotate_pairs
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
    cases = [
        (modulate, (x, scale, shift)),
        (modulate, (x, scale, None)),
        (gated_residual, (x, scale, shift)),
        (gelu_tanh, (x,)),
        (gelu_erf, (x,)),
        (_rotate_pairs, (pairs, pairs[..., ::-1], cos, sin)),
    ]
    for function, args in cases:
        plain = function.__wrapped__(*args)
        fused = function.compiled(*args)
        assert fused.dtype == plain.dtype == dtype
        tolerance = 1e-6 if dtype == mx.float32 else 1e-2
        np.testing.assert_allclose(
            np.array(fused.astype(mx.float32)), np.array(plain.astype(mx.float32)), rtol=tolerance, atol=tolerance
        )


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
        compiled = block._compile_forward(context_mask is not None, skip_mask is not None, strategy)
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
