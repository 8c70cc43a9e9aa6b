"""The feed-forward run a chunk of tokens at a time computes what it computes whole, in less memory."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_map

from ltx_mlx_core.models.common.adaln import ada_rows, gated_residual, modulate
from ltx_mlx_core.models.common.rope import RotaryAngles
from ltx_mlx_core.models.common.token_chunks import MIN_CHUNK_TOKENS, chunk_bounds, in_token_chunks
from ltx_mlx_core.models.ltx2.layers import FeedForward
from ltx_mlx_core.models.ltxv.transformer_blocks import TransformerBlock
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig


def _random(*shape: int, seed: int = 0, dtype: mx.Dtype = mx.float32) -> mx.array:
    return mx.random.normal(shape, key=mx.random.key(seed)).astype(dtype)


def test_chunk_bounds_cover_the_tokens_in_order_and_keep_chunks_large_enough() -> None:
    assert chunk_bounds(1000, 3) == [(0, 333), (333, 666), (666, 1000)]
    assert chunk_bounds(1000, 1) == [(0, 1000)]
    assert len(chunk_bounds(3 * MIN_CHUNK_TOKENS - 1, 8)) == 2
    assert chunk_bounds(MIN_CHUNK_TOKENS // 2, 4) == [(0, MIN_CHUNK_TOKENS // 2)]


def _feed_forward_branch(dim: int, seed: int = 0):
    ff = FeedForward(dim)
    ff.update(tree_map(lambda p: _random(*p.shape, seed=seed) * 0.1, ff.parameters()))

    def branch(x, shift, scale, gate):
        return gated_residual(x, gate, ff(modulate(mx.fast.rms_norm(x, None, 1e-6), scale, shift)))

    return branch


@pytest.mark.parametrize("per_token", [True, False])
def test_a_chunked_branch_equals_the_whole_branch(per_token: bool) -> None:
    dim, tokens = 16, 3 * MIN_CHUNK_TOKENS + 5
    branch = _feed_forward_branch(dim)
    x = _random(2, tokens, dim, seed=1)
    modulation = _random(2, tokens if per_token else 1, 3 * dim, seed=2)
    shift, scale, gate = ada_rows(_random(3, dim, seed=3), modulation, slice(None))
    whole = branch(x, shift, scale, gate)
    chunked = in_token_chunks(branch, 3, x, shift, scale, gate)
    np.testing.assert_array_equal(np.array(chunked), np.array(whole))
    np.testing.assert_array_equal(np.array(x), np.array(_random(2, tokens, dim, seed=1)))  # x is not written


def test_a_chunked_feed_forward_holds_less_memory() -> None:
    dim, tokens = 64, 16 * MIN_CHUNK_TOKENS
    branch = _feed_forward_branch(dim)
    x = _random(1, tokens, dim, seed=1)
    shift, scale, gate = ada_rows(_random(3, dim, seed=3), _random(1, 1, 3 * dim, seed=2), slice(None))
    mx.eval(x, shift, scale, gate)

    def peak(chunks: int) -> int:
        mx.synchronize()
        before = mx.get_active_memory()
        mx.reset_peak_memory()
        mx.eval(in_token_chunks(branch, chunks, x, shift, scale, gate))
        return mx.get_peak_memory() - before

    # Over the limit MLX completes each operation before queueing the next (frees as it goes).
    previous = mx.set_memory_limit(1)
    try:
        whole, chunked = peak(1), peak(8)
    finally:
        mx.set_memory_limit(previous)
    hidden = tokens * 4 * dim * 4
    assert whole >= hidden  # the whole branch holds its [T, 4D] hidden layer
    assert chunked < whole - hidden / 2


def test_an_ltxv_block_with_a_chunked_feed_forward_computes_the_same() -> None:
    config = TransformerConfig(
        num_attention_heads=2, attention_head_dim=8, num_layers=1, cross_attention_dim=16, caption_channels=8
    )
    block = TransformerBlock(config)
    block.update(tree_map(lambda p: _random(*p.shape, seed=1) * 0.1, block.parameters()))
    tokens, dim = 2 * MIN_CHUNK_TOKENS + 3, config.inner_dim
    x = _random(1, tokens, dim, seed=2)
    timestep = _random(1, tokens, 6 * dim, seed=3) * 0.1
    context = _random(1, 4, dim, seed=4)
    angles = mx.random.uniform(shape=(1, tokens, dim // 2), key=mx.random.key(5))
    rotary = RotaryAngles(mx.stack([mx.cos(angles)] * 2, -1), mx.stack([-mx.sin(angles), mx.sin(angles)], -1))
    whole = block.forward(x, timestep, context, None, rotary, ff_chunks=1)
    chunked = block.forward(x, timestep, context, None, rotary, ff_chunks=2)
    compiled = block._compile_forward(False, False, None, 2)(x, timestep, context, rotary.cos, rotary.sin)
    np.testing.assert_array_equal(np.array(chunked), np.array(whole))
    np.testing.assert_allclose(np.array(compiled), np.array(whole), rtol=1e-5, atol=1e-5)
