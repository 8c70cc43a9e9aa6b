"""BigVGAN's anti-aliased activations and the sinc resampler of LTX-2.3's bandwidth extension.

Signals are channels-last [B, samples, C]. Every filter is the same for all channels,
so the reference's grouped (transposed) convolutions become depthwise convolutions here;
upsampling runs as one convolution per output phase (polyphase) instead of a transposed
convolution over a zero-stuffed signal. Filters are built in float64 and cast.
"""

from __future__ import annotations

import math

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


def replicate_pad(x: mx.array, before: int, after: int) -> mx.array:
    """Repeat the first and last samples (axis 1) `before` and `after` times."""
    parts = []
    if before:
        parts.append(mx.repeat(x[:, :1], before, axis=1))
    parts.append(x)
    if after:
        parts.append(mx.repeat(x[:, -1:], after, axis=1))
    return mx.concatenate(parts, axis=1) if len(parts) > 1 else x


def depthwise_fir(x: mx.array, taps: mx.array, stride: int = 1) -> mx.array:
    """Correlate every channel of x [B, L, C] with the same taps [K] (no padding).

    A sum of shifted (strided) views, one fused kernel on a GPU: as a grouped convolution it was
    8x slower on the CUDA backend and 2x on the CPU (tools/profile_audio_decode.py)."""
    return _shifted_sum(x, taps.astype(x.dtype), stride)


@fuse_elementwise_on_gpu
def _shifted_sum(x: mx.array, taps: mx.array, stride: int) -> mx.array:
    count = taps.shape[0]
    span = stride * ((x.shape[1] - count) // stride)  # the last output's offset from the first
    total = taps[0] * x[:, 0 : span + 1 : stride]
    for k in range(1, count):
        total = total + taps[k] * x[:, k : k + span + 1 : stride]
    return total


class UpSample1d(nn.Module):
    """x ratio with replicate edges: the reference's padded, cropped grouped transposed convolution."""

    def __init__(self, ratio: int = 2, kernel_size: int | None = None, window: str = "kaiser", persistent: bool = True):
        super().__init__()
        self.ratio = ratio
        if window == "hann":
            taps, width = hann_sinc_filter(ratio)
            self.kernel_size = taps.shape[0]
            self.pad = width
            self.pad_left = 2 * width * ratio
            self.pad_right = self.kernel_size - ratio
        else:
            self.kernel_size = int(6 * ratio // 2) * 2 if kernel_size is None else kernel_size
            taps = kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, self.kernel_size)
            self.pad = self.kernel_size // ratio - 1
            self.pad_left = self.pad * ratio + (self.kernel_size - ratio) // 2
            self.pad_right = self.pad * ratio + (self.kernel_size - ratio + 1) // 2
        # Checkpoints store BigVGAN's filters (`upsample.filter`); the resampler's is not stored.
        if persistent:
            self.filter = mx.array(taps, dtype=mx.float32)
        else:
            self._filter = mx.array(taps, dtype=mx.float32)

    @property
    def taps(self) -> mx.array:
        return self.filter if "filter" in self else self._filter

    def __call__(self, x: mx.array) -> mx.array:
        r, k = self.ratio, self.kernel_size
        length = x.shape[1]
        xp = replicate_pad(x, self.pad, self.pad)
        padded = xp.shape[1]
        # Output sample r*q + p of the transposed convolution is ratio * sum_j f[r*j + s] * xp[q + a - j]
        # with n = p + pad_left = r*a + s; each output phase p is one correlation of xp.
        phases = []
        for p in range(r):
            a, s = divmod(p + self.pad_left, r)
            count = (k - s + r - 1) // r
            phases.append((a - count + 1, count, self.taps[s::r][::-1]))
        front = max(0, -min(start for start, _, _ in phases))
        back = max(0, max(start + count - 1 for start, count, _ in phases) + length - padded)
        if front or back:
            xp = mx.pad(xp, [(0, 0), (front, back), (0, 0)])
        outs = [
            depthwise_fir(xp[:, start + front : start + front + length + count - 1], taps)
            for start, count, taps in phases
        ]
        y = mx.stack(outs, axis=2).reshape(x.shape[0], length * r, x.shape[2])
        return r * y


class LowPassFilter1d(nn.Module):
    def __init__(self, cutoff: float, half_width: float, stride: int, kernel_size: int):
        super().__init__()
        self.stride = stride
        self.pad_left = kernel_size // 2 - int(kernel_size % 2 == 0)
        self.pad_right = kernel_size // 2
        self.filter = mx.array(kaiser_sinc_filter(cutoff, half_width, kernel_size), dtype=mx.float32)

    def __call__(self, x: mx.array) -> mx.array:
        return depthwise_fir(replicate_pad(x, self.pad_left, self.pad_right), self.filter, stride=self.stride)


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

    def __call__(self, x: mx.array) -> mx.array:
        alpha = mx.exp(self.alpha)
        amplitude = mx.exp(self.beta) if "beta" in self else alpha
        return x + (1.0 / (amplitude + SNAKE_EPS)) * mx.square(mx.sin(x * alpha))


class Activation1d(nn.Module):
    """Anti-aliased activation: upsample x2, activate, low-pass and decimate x2."""

    def __init__(self, activation: nn.Module, ratio: int = 2, kernel_size: int = 12):
        super().__init__()
        self.upsample = UpSample1d(ratio, kernel_size)
        self.act = activation
        self.downsample = DownSample1d(ratio, kernel_size)

    def __call__(self, x: mx.array) -> mx.array:
        return self.downsample(self.act(self.upsample(x)))
