"""The mx.compile-fused elementwise kernels (used on GPU) compute what their plain forms compute."""
from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.models.rope import _rotate_pairs
from ltx_mlx_core.models.transformer_blocks import gated_residual, gelu_erf, gelu_tanh, modulate


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
