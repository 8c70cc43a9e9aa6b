"""Pixel norm, timestep modulation and SiLU in one GPU kernel: the VAE decoder's elementwise hot spot.

Each residual block normalises every position's channel vector to unit RMS, modulates it with the
decode timestep's scale and shift, and applies SiLU before its convolution. The kernel can also add
the preceding convolution's bias as it reads (rounded to the input's dtype, as a separate add
would be), which saves that add a pass over the whole activation. At the decoder's
largest level (128 channels at 97x128x192 for a 768x512x97 clip) MLX's `rms_norm` kernel alone
took longer than the convolution it feeds on the CUDA backend (docs/PERFORMANCE.md). This kernel
gives one channel vector to each 32-lane SIMD group: read once, reduce in registers, write once.

Custom kernels are backend code: a CUDA and a Metal source. Each is checked once per process and
dtype against the composed MLX ops on a small input; if it fails to build or disagrees, the
composed ops are used and a warning says so. The CPU backend always uses the composed ops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu, fusing_here

logger = logging.getLogger(__name__)

# Rows (channel vectors) per threadgroup: 8 SIMD groups of 32 lanes.
_THREADS = 256
_LANES = 32

_BODY = """
    const long rows = dims[0];
    const int channels = (int)dims[1];
    const long rows_per_batch = dims[2];
    const int modulated = (int)dims[3];
    const int biased = (int)dims[4];
    if (row >= rows) {{
        return;
    }}
    const long base = row * channels;
    float total = 0.0f;
    for (int c = lane; c < channels; c += 32) {{
        float v = static_cast<float>(x[base + c]);
        if (biased) {{
            v = static_cast<float>(static_cast<T>(v + static_cast<float>(bias[c])));
        }}
        total += v * v;
    }}
    {reduce}
    const float inverse_rms = {rsqrt}(total / channels + eps[0]);
    const long batch_base = (row / rows_per_batch) * channels;
    for (int c = lane; c < channels; c += 32) {{
        float v = static_cast<float>(x[base + c]);
        if (biased) {{
            v = static_cast<float>(static_cast<T>(v + static_cast<float>(bias[c])));
        }}
        v = v * inverse_rms;
        if (modulated) {{
            v = v * (1.0f + static_cast<float>(scale[batch_base + c])) + static_cast<float>(shift[batch_base + c]);
        }}
        out[base + c] = static_cast<T>(v / (1.0f + {exp}(-v)));
    }}
"""

_CUDA_SOURCE = """
    const int lane = threadIdx.x % 32;
    const long row = (long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
""" + _BODY.format(
    reduce="for (int offset = 16; offset > 0; offset /= 2) { total += __shfl_xor_sync(0xffffffff, total, offset); }",
    rsqrt="rsqrtf",
    exp="expf",
)

_METAL_SOURCE = """
    const uint lane = thread_index_in_simdgroup;
    const long row = (long)(thread_position_in_grid.x / 32);
""" + _BODY.format(reduce="total = simd_sum(total);", rsqrt="metal::rsqrt", exp="metal::exp")

_INPUTS = ["x", "bias", "scale", "shift", "eps", "dims"]


@fuse_elementwise_on_gpu
def modulated_silu(normed: mx.array, scale: mx.array, shift: mx.array) -> mx.array:
    """SiLU(normed * (1 + scale) + shift): the decoder's timestep conditioning and activation in one pass."""
    return nn.silu(normed * (1 + scale) + shift)


def activate(normed: mx.array, scale: mx.array | None, shift: mx.array | None) -> mx.array:
    """SiLU of normalised values, timestep-modulated first when `scale`/`shift` are given."""
    return nn.silu(normed) if scale is None else modulated_silu(normed, scale, shift)


def composed_norm_silu(
    x: mx.array, scale: mx.array | None, shift: mx.array | None, eps: float, bias: mx.array | None = None
) -> mx.array:
    """The same computation from MLX ops (the CPU path, and the check for the kernels)."""
    if bias is not None:
        x = x + bias
    return activate(mx.fast.rms_norm(x, None, eps), scale, shift)


def _build_kernel() -> Callable | None:
    if mx.cuda.is_available():
        return mx.fast.cuda_kernel("ltx_pixel_norm_silu", _INPUTS, ["out"], _CUDA_SOURCE)
    if mx.metal.is_available():
        return mx.fast.metal_kernel("ltx_pixel_norm_silu", _INPUTS, ["out"], _METAL_SOURCE)
    return None


def _run_kernel(
    kernel: Callable,
    x: mx.array,
    scale: mx.array | None,
    shift: mx.array | None,
    eps: float,
    bias: mx.array | None = None,
) -> mx.array:
    batch, channels = x.shape[0], x.shape[-1]
    rows = x.size // channels
    modulated = scale is not None
    # The kernel reads no input its flags leave off; one element from the host stands in (no launch).
    unused = mx.array([0], dtype=x.dtype)
    if modulated:
        scale = mx.broadcast_to(scale.reshape(-1, channels), (batch, channels)).astype(x.dtype)
        shift = mx.broadcast_to(shift.reshape(-1, channels), (batch, channels)).astype(x.dtype)
    else:
        scale = shift = unused
    dims = mx.array([rows, channels, rows // batch, int(modulated), int(bias is not None)], dtype=mx.int64)
    threads = -(-rows * _LANES // _THREADS) * _THREADS
    (out,) = kernel(
        inputs=[x, unused if bias is None else bias, scale, shift, mx.array([eps], dtype=mx.float32), dims],
        template=[("T", x.dtype)],
        grid=(threads, 1, 1),
        threadgroup=(_THREADS, 1, 1),
        output_shapes=[x.shape],
        output_dtypes=[x.dtype],
    )
    return out


class _FusedNorm:
    """The kernel for this process's GPU, checked once per dtype before it is trusted."""

    def __init__(self) -> None:
        self.kernel: Callable | None = None
        self.built = False
        self.trusted: dict[mx.Dtype, bool] = {}

    def usable(self, dtype: mx.Dtype) -> bool:
        # The kernel is a GPU kernel: counting a GPU's graph on the CPU (fused forms forced) leaves it out.
        if not fusing_here() or mx.default_device().type != mx.gpu:
            return False
        if not self.built:
            self.built = True
            try:
                self.kernel = _build_kernel()
            except (RuntimeError, ValueError, AttributeError) as error:
                logger.warning("Fused VAE norm kernel unavailable (%s); using composed MLX ops.", error)
        if self.kernel is None:
            return False
        if dtype not in self.trusted:
            self.trusted[dtype] = self._check(dtype)
        return self.trusted[dtype]

    def _check(self, dtype: mx.Dtype) -> bool:
        keys = mx.random.split(mx.random.key(0), 4)
        x = (mx.random.normal((2, 3, 5, 7, 96), key=keys[0]) * 3).astype(dtype)
        scale = (mx.random.normal((2, 1, 1, 1, 96), key=keys[1]) * 0.5).astype(dtype)
        shift = (mx.random.normal((2, 1, 1, 1, 96), key=keys[2]) * 0.5).astype(dtype)
        bias = mx.random.normal((96,), key=keys[3]).astype(dtype)
        tolerance = 1e-4 if dtype == mx.float32 else 5e-2
        try:
            for s, b, c in ((scale, shift, None), (None, None, None), (None, None, bias), (scale, shift, bias)):
                got = _run_kernel(self.kernel, x, s, b, 1e-8, c).astype(mx.float32)
                # The composed ops in float32 after the dtype's rounding of the biased input.
                biased = x if c is None else x + c
                want = composed_norm_silu(biased.astype(mx.float32), s, b, 1e-8)
                error = mx.max(mx.abs(got - want)).item()
                if not error <= tolerance:
                    logger.warning(
                        "Fused VAE norm kernel disagrees with MLX ops (%.3g > %.3g) in %s; using composed ops.",
                        error,
                        tolerance,
                        dtype,
                    )
                    return False
        except (RuntimeError, ValueError) as error:
            logger.warning("Fused VAE norm kernel failed to run in %s (%s); using composed MLX ops.", dtype, error)
            return False
        logger.info("Fused VAE norm kernel in use for %s.", dtype)
        return True

    def run(
        self, x: mx.array, scale: mx.array | None, shift: mx.array | None, eps: float, bias: mx.array | None
    ) -> mx.array:
        return _run_kernel(self.kernel, x, scale, shift, eps, bias)


_FUSED = _FusedNorm()


def pixel_norm_silu(
    x: mx.array,
    scale: mx.array | None = None,
    shift: mx.array | None = None,
    eps: float = 1e-8,
    bias: mx.array | None = None,
) -> mx.array:
    """SiLU(pixel_norm(x + bias) * (1 + scale) + shift) over [B, F, H, W, C].

    scale/shift [B, 1, 1, 1, C] or None; bias [C] (a convolution's, not yet added) or None.
    """
    if bias is not None and bias.dtype != x.dtype:
        x, bias = x + bias, None  # the sum takes the wider dtype, which the kernel's template must too
    if _FUSED.usable(x.dtype):
        return _FUSED.run(x, scale, shift, eps, bias)
    return composed_norm_silu(x, scale, shift, eps, bias)
