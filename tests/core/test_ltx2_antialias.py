"""BigVGAN's anti-aliased activation and the sinc resampler: their polyphase, fused forms against plain definitions."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.bench.graph_ops import count_graph_ops
from ltx_mlx_core.models.common.fusion import fused_on_every_device
from ltx_mlx_core.models.ltx2.antialias import (
    Activation1d,
    DownSample1d,
    Snake,
    UpSample1d,
    _shifted_sum,
    _snake,
    _upsample,
    _upsample_snake,
    depthwise_fir,
    edge_pad,
    hann_sinc_filter,
    kaiser_sinc_filter,
)


def _signal(length: int = 23, channels: int = 3, seed: int = 0) -> mx.array:
    return mx.random.normal((2, length, channels), key=mx.random.key(seed))


def _transposed_conv_upsample(x: np.ndarray, taps: np.ndarray, ratio: int, pad: int, crop: tuple[int, int]):
    """The reference's definition in float64: replicate pad, zero-stuffed transposed conv, crop, times ratio."""
    xp = np.pad(x, [(0, 0), (pad, pad), (0, 0)], mode="edge")
    out = np.zeros((x.shape[0], (xp.shape[1] - 1) * ratio + taps.shape[0], x.shape[2]))
    for i in range(xp.shape[1]):
        out[:, ratio * i : ratio * i + taps.shape[0]] += xp[:, i, None, :] * taps[None, :, None]
    return ratio * out[:, crop[0] : out.shape[1] - crop[1]]


def _kaiser_crop(ratio: int, kernel_size: int) -> tuple[int, int]:
    pad = kernel_size // ratio - 1
    return pad * ratio + (kernel_size - ratio) // 2, pad * ratio + (kernel_size - ratio + 1) // 2


@pytest.mark.parametrize(("ratio", "kernel_size"), [(2, 12), (3, 12), (2, 8), (4, 6)])
def test_polyphase_upsample_is_the_transposed_convolution(ratio: int, kernel_size: int) -> None:
    x = _signal()
    up = UpSample1d(ratio, kernel_size)
    expected = _transposed_conv_upsample(
        np.array(x, np.float64), np.array(up.filter, np.float64), ratio, up.pad, _kaiser_crop(ratio, kernel_size)
    )
    np.testing.assert_allclose(np.array(up(x)), expected, rtol=1e-5, atol=1e-5)


def test_sinc_resampler_is_the_transposed_convolution() -> None:
    x = _signal(length=40)
    up = UpSample1d(3, window="hann", persistent=False)
    taps, width = hann_sinc_filter(3)
    expected = _transposed_conv_upsample(np.array(x, np.float64), taps, 3, width, (2 * width * 3, taps.shape[0] - 3))
    np.testing.assert_allclose(np.array(up(x)), expected, rtol=1e-5, atol=1e-5)


def test_edge_pad_repeats_the_end_samples() -> None:
    x = _signal(length=5)
    np.testing.assert_array_equal(np.array(edge_pad(x, 3, 4)), np.pad(np.array(x), [(0, 0), (3, 4), (0, 0)], "edge"))
    assert edge_pad(x, 0, 0) is x


def test_strided_fir_is_a_correlation() -> None:
    x, taps = _signal(length=30), kaiser_sinc_filter(0.25, 0.3, 12)
    ours = depthwise_fir(x, mx.array(taps, mx.float32), stride=2)
    xs = np.array(x, np.float64)
    expected = np.stack([(xs[:, n : n + 12] * taps[None, :, None]).sum(1) for n in range(0, 30 - 11, 2)], axis=1)
    np.testing.assert_allclose(np.array(ours), expected, rtol=1e-5, atol=1e-6)


def _snake_with_random_logs(channels: int, use_beta: bool) -> Snake:
    snake = Snake(channels, use_beta)
    keys = mx.random.split(mx.random.key(5), 2)
    snake.alpha = mx.random.normal((channels,), key=keys[0]) * 0.3
    if use_beta:
        snake.beta = mx.random.normal((channels,), key=keys[1]) * 0.3
    return snake


@pytest.mark.parametrize("use_beta", [True, False], ids=["snakebeta", "snake"])
def test_activation_is_upsample_snake_downsample(use_beta: bool) -> None:
    x, snake = _signal(), _snake_with_random_logs(3, use_beta)
    act = Activation1d(snake, 2, 12)
    alpha = mx.exp(snake.alpha)
    amplitude = mx.exp(snake.beta) if use_beta else alpha
    upsampled = act.upsample(x)
    activated = upsampled + (1.0 / (amplitude + 1e-9)) * mx.square(mx.sin(upsampled * alpha))
    np.testing.assert_allclose(np.array(act(x)), np.array(act.downsample(activated)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.array(snake(upsampled)), np.array(activated), rtol=1e-6, atol=1e-6)


def _assert_fused_equals_plain(function, *args) -> None:
    plain = function.__wrapped__(*args)
    fused = function.compiled(*args)
    assert fused.shape == plain.shape and fused.dtype == plain.dtype
    np.testing.assert_allclose(np.array(fused), np.array(plain), rtol=1e-6, atol=1e-6)


def test_fused_kernels_compute_what_their_plain_forms_compute() -> None:
    x, snake = _signal(), _snake_with_random_logs(3, True)
    taps = mx.array(kaiser_sinc_filter(0.25, 0.3, 12), mx.float32)
    for up in (UpSample1d(2, 12), UpSample1d(3, window="hann", persistent=False), UpSample1d(4, 6)):
        args = (up.gathered(x), up.taps, up.plan.step, up.plan.terms, up.ratio, x.shape[1])
        _assert_fused_equals_plain(_upsample, *args)
        _assert_fused_equals_plain(_upsample_snake, *args, snake.alpha, snake.beta)
    _assert_fused_equals_plain(_snake, x, snake.alpha, snake.beta)
    _assert_fused_equals_plain(_shifted_sum, x, taps, 2)


@pytest.mark.parametrize("with_bias", [False, True], ids=["plain", "conv_bias"])
def test_activation_on_the_gpu_path_is_four_kernels_with_the_same_numbers(with_bias: bool) -> None:
    """A gather, the upsampling + Snake (+ the previous convolution's bias), a gather, and the low-pass."""
    x, act = _signal(), Activation1d(_snake_with_random_logs(3, True), 2, 12)
    bias = mx.random.normal((3,), key=mx.random.key(8)) if with_bias else None
    mx.eval(x, bias, act.parameters())
    plain = act(x + bias) if with_bias else act(x)
    with fused_on_every_device():
        fused = act(x, bias)
        ops = count_graph_ops(fused)
    assert ops.kernels == 4, ops.by_primitive
    np.testing.assert_allclose(np.array(fused), np.array(plain), rtol=1e-6, atol=1e-6)


def test_downsample_keeps_one_sample_in_ratio() -> None:
    assert DownSample1d(2, 12)(_signal(length=22)).shape == (2, 11, 3)
