"""Building blocks of the LTX-2 audio VAE, channels-last: [B, time, mel bins, C].

The reference lays spectrograms out as [B, C, height, width] with height = time, so
its "height" causality axis is our axis 1 and "width" our axis 2. Module and parameter
names are the reference's (``conv1.conv.weight``, ``nin_shortcut.conv.weight``, ...).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu
from ltx_mlx_core.models.ltx2.audio_vae_config import GROUP_NORM_GROUPS
from ltx_mlx_core.models.ltxv.vae.fused_norm import pixel_norm_silu

PIXEL_NORM_EPS = 1e-6
GROUP_NORM_EPS = 1e-6

Padding = tuple[tuple[int, int], tuple[int, int]]  # ((time before, after), (bins before, after))


def causal_padding(kernel_size: int, causality_axis: str) -> Padding:
    """Zero padding of a stride-1 convolution: all of it in front along the causal axis."""
    total = kernel_size - 1
    centred = (total // 2, total - total // 2)
    if causality_axis == "height":
        return (total, 0), centred
    if causality_axis in ("width", "width-compatibility"):
        return centred, (total, 0)
    return centred, centred


def downsample_padding(causality_axis: str) -> Padding:
    """Padding of the stride-2 downsampling convolution (the reference's explicit F.pad)."""
    return {
        "none": ((0, 1), (0, 1)),
        "width": ((0, 1), (2, 0)),
        "height": ((2, 0), (0, 1)),
        "width-compatibility": ((0, 1), (1, 0)),
    }[causality_axis]


def conv2d_padded(
    conv: nn.Conv2d, x: mx.array, padding: Padding, stride: int = 1, *, with_bias: bool = True
) -> mx.array:
    """`conv` applied with asymmetric zero padding, without materialising the padded input.

    `with_bias=False` leaves the bias to a fused kernel after it (each operation is a GPU launch)."""
    (top, bottom), (left, right) = padding
    y = mx.conv_general(x, conv.weight, stride=stride, padding=([top, left], [bottom, right]))
    return y + conv.bias if with_bias and "bias" in conv else y


@fuse_elementwise_on_gpu
def _residual_with_bias(x: mx.array, y: mx.array, bias: mx.array) -> mx.array:
    return x + (y + bias)


class CausalConv2d(nn.Module):
    """Stride-1 convolution padded on one side of the causal axis, centred on the other."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, causality_axis: str):
        super().__init__()
        self.padding = causal_padding(kernel_size, causality_axis)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)

    def __call__(self, x: mx.array, *, with_bias: bool = True) -> mx.array:
        return conv2d_padded(self.conv, x, self.padding, with_bias=with_bias)


class PixelNorm(nn.Module):
    """x / sqrt(mean(x^2 over channels) + eps), per time-frequency location."""

    def __call__(self, x: mx.array) -> mx.array:
        return mx.fast.rms_norm(x, None, PIXEL_NORM_EPS)


def norm_silu(norm: nn.Module, x: mx.array) -> mx.array:
    """SiLU(norm(x)); a pixel norm and its SiLU are one kernel on a GPU (the video VAE's)."""
    return pixel_norm_silu(x, eps=PIXEL_NORM_EPS) if isinstance(norm, PixelNorm) else nn.silu(norm(x))


def make_norm(norm_type: str, channels: int) -> nn.Module:
    if norm_type == "group":
        return nn.GroupNorm(GROUP_NORM_GROUPS, channels, eps=GROUP_NORM_EPS, pytorch_compatible=True)
    return PixelNorm()


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, norm_type: str, causality_axis: str):
        super().__init__()
        self.norm1 = make_norm(norm_type, in_channels)
        self.conv1 = CausalConv2d(in_channels, out_channels, 3, causality_axis)
        self.norm2 = make_norm(norm_type, out_channels)
        self.conv2 = CausalConv2d(out_channels, out_channels, 3, causality_axis)
        if in_channels != out_channels:
            self.nin_shortcut = CausalConv2d(in_channels, out_channels, 1, causality_axis)

    def __call__(self, x: mx.array) -> mx.array:
        h = self.conv1(norm_silu(self.norm1, x))
        h = self.conv2(norm_silu(self.norm2, h), with_bias=False)
        if "nin_shortcut" in self:
            x = self.nin_shortcut(x)
        return _residual_with_bias(x, h, self.conv2.conv.bias)


class AttnBlock(nn.Module):
    """Single-head self-attention over every (time, bin) location, with 1x1-conv projections."""

    def __init__(self, channels: int, norm_type: str):
        super().__init__()
        self.norm = make_norm(norm_type, channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def __call__(self, x: mx.array) -> mx.array:
        b, t, f, c = x.shape
        h = self.norm(x)
        q, k, v = (proj(h).reshape(b, 1, t * f, c) for proj in (self.q, self.k, self.v))
        attended = mx.fast.scaled_dot_product_attention(q, k, v, scale=c**-0.5)
        return x + self.proj_out(attended.reshape(b, t, f, c))


class Downsample(nn.Module):
    """Stride-2 3x3 convolution; halves time and mel bins."""

    def __init__(self, channels: int, causality_axis: str):
        super().__init__()
        self.padding = downsample_padding(causality_axis)
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def __call__(self, x: mx.array) -> mx.array:
        return conv2d_padded(self.conv, x, self.padding, stride=2)


class Upsample(nn.Module):
    """Nearest x2 in time and bins, a causal 3x3 convolution, then the first causal step dropped.

    Dropping the first step undoes the encoder's front padding: n latent steps become
    2n - 1, so four times fewer latent frames decode to 4n - 3 spectrogram frames.
    """

    def __init__(self, channels: int, causality_axis: str):
        super().__init__()
        self.causality_axis = causality_axis
        self.conv = CausalConv2d(channels, channels, 3, causality_axis)

    def __call__(self, x: mx.array) -> mx.array:
        b, t, f, c = x.shape
        x = mx.broadcast_to(x[:, :, None, :, None, :], (b, t, 2, f, 2, c)).reshape(b, 2 * t, 2 * f, c)
        x = self.conv(x)
        if self.causality_axis == "height":
            return x[:, 1:]
        if self.causality_axis == "width":
            return x[:, :, 1:]
        return x
