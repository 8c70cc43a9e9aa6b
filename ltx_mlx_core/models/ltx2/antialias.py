"""BigVGAN's anti-aliased activations and the sinc resampler of LTX-2.3's bandwidth extension.

Signals are channels-last [B, samples, C]. Every filter is the same for all channels, so
the reference's grouped (transposed) convolutions become sums of shifted views times taps:
upsampling computes every output phase at once (polyphase) instead of a transposed convolution
over a zero-stuffed signal. Filters are built in float64 and cast.

On a GPU each operation is a kernel launch, and with few operations per command buffer
(gpu_commands.py) a launch-bound decode's time follows their count: edges are replicated by one
gather, and each elementwise chain (the sums, the Snake, a convolution's bias) is one fused kernel.
An anti-aliased activation is four kernels (tools/profile_audio_decode.py counts them).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu

HANN_ROLLOFF = 0.99
HANN_LOWPASS_WIDTH = 6
SNAKE_EPS = 1e-9


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> np.ndarray:
    """BigVGAN's Kaiser-windowed sinc low-pass filter (cutoff relative to the sample rate), unit DC gain."""
    even = kernel_size % 2 == 0
    half_size = kernel_size // 2
    amplitude = 2.285 * (half_size - 1) * math.pi * 4 * half_width + 7.95
    if amplitude > 50.0:
        beta = 0.1102 * (amplitude - 8.7)
    elif amplitude >= 21.0:
        beta = 0.5842 * (amplitude - 21) ** 0.4 + 0.07886 * (amplitude - 21.0)
    else:
        beta = 0.0
    window = np.kaiser(kernel_size, beta)
    time = np.arange(-half_size, half_size) + 0.5 if even else np.arange(kernel_size) - half_size
    if cutoff == 0:
        return np.zeros(kernel_size)
    taps = 2 * cutoff * window * np.sinc(2 * cutoff * time)
    return taps / taps.sum()


def hann_sinc_filter(ratio: int) -> tuple[np.ndarray, int]:
    """Hann-windowed sinc for upsampling by `ratio` (torchaudio's resampling kernel), and its half-width."""
    width = math.ceil(HANN_LOWPASS_WIDTH / HANN_ROLLOFF)
    time = (np.arange(2 * width * ratio + 1) / ratio - width) * HANN_ROLLOFF
    clamped = np.clip(time, -HANN_LOWPASS_WIDTH, HANN_LOWPASS_WIDTH)
    window = np.cos(clamped * math.pi / HANN_LOWPASS_WIDTH / 2) ** 2
    return np.sinc(time) * window * HANN_ROLLOFF / ratio, width


# A few clip lengths' indices (each a few MB for a long clip) stay on the device between decodes.
@functools.lru_cache(maxsize=32)
def gather_index(
    length: int, before: int, after: int, start: int, count: int, shifts: tuple[int, ...]
) -> tuple[mx.array, bool]:
    """Indices [count, len(shifts)] into a signal of `length` samples with its first and last samples
    repeated `before` and `after` times.

    Entry (i, c) reads padded position start + i + shifts[c]; positions beyond the padding read index
    `length` (a zero appended by the caller), and the flag says whether any does. Cached: a signal's
    length repeats across a stage's blocks and across calls, and building and uploading an index the
    size of the signal each time cost more host time than the kernels it feeds."""
    padded = start + np.arange(count)[:, None] + np.array(shifts)
    outside = (padded < 0) | (padded >= before + length + after)
    index = np.where(outside, length, np.clip(padded - before, 0, length - 1))
    return mx.array(index, dtype=mx.int32), bool(outside.any())


def edge_pad(x: mx.array, before: int, after: int) -> mx.array:
    """Repeat the first and last samples (axis 1) `before` and `after` times, as one gather.

    Every launch counts on a GPU at few operations per command buffer (gpu_commands.py):
    repeat + concatenate is five kernels, mx.pad's "edge" mode a fill and three slice updates."""
    if not (before or after):
        return x
    index, _ = gather_index(x.shape[1], before, after, 0, before + x.shape[1] + after, (0,))
    return mx.take(x, index[:, 0], axis=1)


def balanced_sum(terms: list[mx.array]) -> mx.array:
    """Sum as a binary tree: mx.compile stops fusing at depth 11, and a tree's depth is log2 of the count."""
    while len(terms) > 1:
        terms = [sum(terms[i : i + 2][1:], terms[i]) for i in range(0, len(terms), 2)]
    return terms[0]


def depthwise_fir(x: mx.array, taps: mx.array, stride: int = 1) -> mx.array:
    """Correlate every channel of x [B, L, C] with the same taps [K] (no padding).

    A sum of shifted (strided) views, fused on a GPU: as a grouped convolution it was
    8x slower on the CUDA backend and 2x on the CPU (tools/profile_audio_decode.py)."""
    return _shifted_sum(x, taps.astype(x.dtype), stride)


@fuse_elementwise_on_gpu
def _shifted_sum(x: mx.array, taps: mx.array, stride: int) -> mx.array:
    count = taps.shape[0]
    span = stride * ((x.shape[1] - count) // stride)  # the last output's offset from the first
    # taps[k : k + 1], a view: taps[k] would be a gather, one more kernel per tap.
    return balanced_sum([taps[k : k + 1] * x[:, k : k + span + 1 : stride] for k in range(count)])


@dataclass(frozen=True)
class PolyphasePlan:
    """How UpSample1d computes every output phase at once, as sums of shifted views times taps.

    Output sample r*q + p of the reference's transposed convolution over xp (the input with `pad`
    replicated samples each side, cropped by pad_left) is r * sum_o f[p + pad_left - r*o] * xp[q + o]
    over the taps that exist. Phase p's offsets are written o = first + j + shift * p, so that for
    one j every phase reads the same view of a gathered [B, L + width - 1, phases, C] signal whose
    phase column p starts `shift * p` samples later, and its taps are f[c_j + step * p], a strided
    slice of f (step = 1 - r * shift). Where only some phases have a tap, each is its own term,
    placed by a one-hot column. A term is (j, first tap, first phase, phase count).
    """

    shift: int
    first: int
    width: int
    step: int
    terms: tuple[tuple[int, int, int, int], ...]

    @classmethod
    def build(cls, ratio: int, kernel_size: int, pad_left: int, shift: int) -> PolyphasePlan:
        step = 1 - ratio * shift
        # Offsets o with a tap for phase p: 0 <= p + pad_left - r*o < K.
        lows = [-((kernel_size - 1 - p - pad_left) // ratio) - shift * p for p in range(ratio)]
        highs = [(p + pad_left) // ratio - shift * p for p in range(ratio)]
        first, width = min(lows), max(highs) - min(lows) + 1
        terms = []
        for j in range(width):
            tap = pad_left - ratio * (first + j)
            phases = [p for p in range(ratio) if 0 <= tap + step * p < kernel_size]
            if len(phases) == ratio:
                terms.append((j, tap, 0, ratio))
            else:
                terms.extend((j, tap + step * p, p, 1) for p in phases)
        return cls(shift, first, width, step, tuple(terms))

    @property
    def inputs(self) -> int:
        """Arrays a fused kernel reads: a view and a slice of taps per term, and each one-hot column."""
        return 2 * len(self.terms) + len({phase for _, _, phase, count in self.terms if count == 1})


def _polyphase_sum(
    xg: mx.array, taps: mx.array, step: int, terms: tuple, ratio: int, length: int, bias: mx.array | None = None
) -> mx.array:
    """Gathered [B, L + width - 1, phases, C] (+ bias [C]) -> [B, length, ratio, C], samples interleaved.

    `step` and `terms` are a PolyphasePlan's (mx.compile takes plain constants). The bias is added to every view: replicating the edges of x + bias is replicating x's, plus bias."""
    taps = taps.astype(xg.dtype)
    products = []
    for j, tap, phase, count in terms:
        view = xg[:, j : j + length]
        if bias is not None:
            view = view + bias
        if count == ratio:  # views (no kernel): slices, not gathers; expand_dims, not a reshape (a copy at step -1)
            weight = mx.expand_dims(taps[tap::step][:ratio], 1)
        else:  # one phase: its tap placed by a one-hot column (a constant of the fused kernel)
            weight = taps[tap : tap + 1] * mx.array(np.eye(ratio, dtype=np.float32)[:, phase : phase + 1], xg.dtype)
        products.append(weight * view)
    return ratio * balanced_sum(products)


@fuse_elementwise_on_gpu
def _upsample(xg: mx.array, taps: mx.array, step: int, terms: tuple, ratio: int, length: int) -> mx.array:
    return _polyphase_sum(xg, taps, step, terms, ratio, length)


def snake(x: mx.array, alpha_log: mx.array, amplitude_log: mx.array) -> mx.array:
    """x + sin(alpha x)^2 / (amplitude + eps) with alpha, amplitude = exp(logs) (the per-channel logs).

    x comes first: mx.compile measures its fusion depth (at most 11) along the first path it walks."""
    alpha = mx.exp(alpha_log)
    return x + (1.0 / (mx.exp(amplitude_log) + SNAKE_EPS)) * mx.square(mx.sin(x * alpha))


@fuse_elementwise_on_gpu
def _upsample_snake(
    xg: mx.array,
    taps: mx.array,
    step: int,
    terms: tuple,
    ratio: int,
    length: int,
    alpha_log: mx.array,
    amplitude_log: mx.array,
    bias: mx.array | None = None,
) -> mx.array:
    return snake(_polyphase_sum(xg, taps, step, terms, ratio, length, bias), alpha_log, amplitude_log)


class UpSample1d(nn.Module):
    """x ratio with replicate edges: the reference's padded, cropped grouped transposed convolution.

    Computed in its polyphase form (PolyphasePlan), every phase at once: one gather of the input
    (edges replicated), then one fused kernel on a GPU."""

    def __init__(self, ratio: int = 2, kernel_size: int | None = None, window: str = "kaiser", persistent: bool = True):
        super().__init__()
        self.ratio = ratio
        if window == "hann":
            taps, width = hann_sinc_filter(ratio)
            self.kernel_size = taps.shape[0]
            self.pad = width
            pad_left = 2 * width * ratio
        else:
            self.kernel_size = int(6 * ratio // 2) * 2 if kernel_size is None else kernel_size
            taps = kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, self.kernel_size)
            self.pad = self.kernel_size // ratio - 1
            pad_left = self.pad * ratio + (self.kernel_size - ratio) // 2
        # BigVGAN's x2 reads one full pair of taps per view with shift 1; the resampler's x3 fewer with 0.
        plans = [PolyphasePlan.build(ratio, self.kernel_size, pad_left, shift) for shift in (0, 1)]
        self.plan = min(plans, key=lambda plan: (plan.inputs, plan.shift))
        # Checkpoints store BigVGAN's filters (`upsample.filter`); the resampler's is not stored.
        if persistent:
            self.filter = mx.array(taps, dtype=mx.float32)
        else:
            self._filter = mx.array(taps, dtype=mx.float32)

    @property
    def taps(self) -> mx.array:
        return self.filter if "filter" in self else self._filter

    def gathered(self, x: mx.array) -> mx.array:
        """[B, L, C] -> [B, L + width - 1, phases, C]: the shifted copies of the padded input the plan reads.

        Offsets past the replicated edges read zeros (the transposed convolution has no input there)."""
        plan, (b, length, channels) = self.plan, x.shape
        shifts = tuple(plan.shift * p for p in range(self.ratio if plan.shift else 1))
        index, reads_zeros = gather_index(length, self.pad, self.pad, plan.first, length + plan.width - 1, shifts)
        if reads_zeros:
            x = mx.concatenate([x, mx.zeros((b, 1, channels), x.dtype)], axis=1)
        return mx.take(x, index, axis=1)

    def __call__(self, x: mx.array) -> mx.array:
        b, length, channels = x.shape
        y = _upsample(self.gathered(x), self.taps, self.plan.step, self.plan.terms, self.ratio, length)
        return y.reshape(b, length * self.ratio, channels)


class LowPassFilter1d(nn.Module):
    def __init__(self, cutoff: float, half_width: float, stride: int, kernel_size: int):
        super().__init__()
        self.stride = stride
        self.pad_left = kernel_size // 2 - int(kernel_size % 2 == 0)
        self.pad_right = kernel_size // 2
        self.filter = mx.array(kaiser_sinc_filter(cutoff, half_width, kernel_size), dtype=mx.float32)

    def __call__(self, x: mx.array) -> mx.array:
        return depthwise_fir(edge_pad(x, self.pad_left, self.pad_right), self.filter, stride=self.stride)


class DownSample1d(nn.Module):
    def __init__(self, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        kernel_size = int(6 * ratio // 2) * 2 if kernel_size is None else kernel_size
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, ratio, kernel_size)

    def __call__(self, x: mx.array) -> mx.array:
        return self.lowpass(x)


class Snake(nn.Module):
    """x + sin(alpha x)^2 / alpha (Snake), or / beta (SnakeBeta); parameters stored as logs."""

    def __init__(self, channels: int, use_beta: bool):
        super().__init__()
        self.alpha = mx.zeros((channels,))
        if use_beta:
            self.beta = mx.zeros((channels,))

    @property
    def amplitude_log(self) -> mx.array:
        return self.beta if "beta" in self else self.alpha

    def __call__(self, x: mx.array) -> mx.array:
        return _snake(x, self.alpha, self.amplitude_log)


_snake = fuse_elementwise_on_gpu(snake)


class Activation1d(nn.Module):
    """Anti-aliased activation: upsample x2, activate, low-pass and decimate x2.

    On a GPU: a gather (replicated edges), one fused kernel for the upsampling and the Snake,
    a gather, and the low-pass's fused sums."""

    def __init__(self, activation: Snake, ratio: int = 2, kernel_size: int = 12):
        super().__init__()
        self.upsample = UpSample1d(ratio, kernel_size)
        self.act = activation
        self.downsample = DownSample1d(ratio, kernel_size)

    def __call__(self, x: mx.array, bias: mx.array | None = None) -> mx.array:
        """The activation of x (+ bias [C]: a convolution's, added inside the fused kernel)."""
        up, b, length, channels = self.upsample, *x.shape
        xg, snake = up.gathered(x), self.act
        activated = _upsample_snake(
            xg, up.taps, up.plan.step, up.plan.terms, up.ratio, length, snake.alpha, snake.amplitude_log, bias
        )
        return self.downsample(activated.reshape(b, length * up.ratio, channels))
