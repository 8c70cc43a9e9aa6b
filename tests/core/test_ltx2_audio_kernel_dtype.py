"""The sound models hold a release's bf16 kernels as stored and still compute float32's numbers."""

from __future__ import annotations

import mlx.core as mx
import pytest
from mlx.utils import tree_flatten, tree_map

from ltx_mlx_core.models.ltx2.audio_decode import iter_decode_audio
from ltx_mlx_core.weights.audio_dtype import as_held, held_dtype, store_kernels_as
from tests.core.ltx2_audio_builders import random_audio_vae, random_vocoder
from tests.core.test_ltx2_audio_chunked_decode import BWE, TINY_VAE, _latents


def _rounded_to_bf16(model) -> None:
    """Every floating parameter made bf16-representable and held in float32 (a bf16 file loaded wide)."""
    model.update(tree_map(lambda v: v.astype(mx.bfloat16).astype(mx.float32), model.parameters()))


def _decode(vae, vocoder, latents: mx.array, chunk_frames: int) -> mx.array:
    return mx.concatenate(list(iter_decode_audio(vae, vocoder, latents, chunk_frames=chunk_frames)), axis=-1)


@pytest.mark.parametrize("chunk_frames", [200, 7])
def test_bf16_kernels_decode_exactly_as_float32_kernels(chunk_frames):
    vae, vocoder = random_audio_vae(TINY_VAE, seed=3), random_vocoder(BWE, seed=4)
    for model in (vae, vocoder):
        _rounded_to_bf16(model)
    latents = _latents(19, seed=5)
    wide = _decode(vae, vocoder, latents, chunk_frames)
    mx.eval(wide)
    for model in (vae, vocoder):
        store_kernels_as(model, mx.bfloat16, mx.float32, min_elements=0)  # the toy's kernels are all small
    held = {v.dtype for model in (vae, vocoder) for _, v in tree_flatten(model.parameters()) if v.ndim >= 2}
    assert held == {mx.bfloat16}
    narrow = _decode(vae, vocoder, latents, chunk_frames)
    assert narrow.dtype == mx.float32
    assert mx.abs(narrow - wide).max().item() <= 1e-5


def test_kernels_keep_a_no_wider_stored_dtype_and_vectors_take_the_compute_dtype():
    kernel, vector = mx.zeros((256, 3, 256), mx.bfloat16), mx.zeros((4,), mx.bfloat16)
    assert held_dtype(kernel, mx.float32) == mx.bfloat16
    assert held_dtype(vector, mx.float32) == mx.float32  # Snake parameters, biases, filters: wide
    assert as_held(kernel.astype(mx.float32), mx.float32).dtype == mx.float32  # a float32 file stays float32
    assert as_held(kernel.astype(mx.float32), mx.bfloat16).dtype == mx.bfloat16
    assert held_dtype(mx.zeros((2, 2), mx.int32), mx.float32) == mx.int32
    small = mx.zeros((4, 3, 4), mx.bfloat16)
    assert held_dtype(small, mx.float32, min_elements=small.size + 1) == mx.float32  # a cast kernel saved
