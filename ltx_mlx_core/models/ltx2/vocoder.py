"""LTX-2's vocoder: HiFi-GAN (LTX-2, 24 kHz) or BigVGAN with anti-aliased Snake (LTX-2.3's first stage).

Input is the audio VAE's stereo log-mel spectrogram [B, 2, frames, mel bins]; the two
channels' bins are stacked channel-major ("b s c t -> b (s c) t") into one feature
axis. Inside, signals are channels-last [B, samples, C]. Names follow ltx-core
(``conv_pre``, ``ups``, ``resblocks``, ``act_post``, ``conv_post``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu
from ltx_mlx_core.models.ltx2.antialias import Activation1d, Snake
from ltx_mlx_core.models.ltx2.vocoder_config import VocoderConfig

# Called with a running index and the signal after every residual pair and upsampling: where the
# pipeline evaluates (pipeline/block_eval.py), since the model never does.
AfterBlock = Callable[..., None]
AfterPair = Callable[[mx.array], None]
# A block's last residual add: (x, y, bias) -> its output (a stage's running sum of block outputs).
LastAdd = Callable[[mx.array, mx.array, mx.array], mx.array]

# nn.LeakyReLU()'s default: the reference's HiFi-GAN ends with it, not with its 0.1 slope.
FINAL_LEAKY_SLOPE = 0.01


def _conv(channels: int, kernel_size: int, dilation: int) -> nn.Conv1d:
    return nn.Conv1d(channels, channels, kernel_size, padding=dilation * (kernel_size - 1) // 2, dilation=dilation)


# Each operation is a kernel launch on a GPU at few operations per command buffer (gpu_commands.py), so a
# convolution's bias is added inside the elementwise kernel that follows it rather than on its own.


def conv_without_bias(conv: nn.Conv1d, x: mx.array) -> mx.array:
    return mx.conv1d(x, conv.weight, conv.stride, conv.padding, conv.dilation, conv.groups)


@fuse_elementwise_on_gpu
def _add_biased(x: mx.array, y: mx.array, bias: mx.array) -> mx.array:
    return x + (y + bias)


@fuse_elementwise_on_gpu
def _biased_leaky_relu(y: mx.array, bias: mx.array, slope: float) -> mx.array:
    return nn.leaky_relu(y + bias, slope)


@fuse_elementwise_on_gpu
def _add_biased_into_mean(
    total: mx.array | None, count: int | None, slope: float | None, x: mx.array, y: mx.array, bias: mx.array
) -> mx.array:
    """A block's last residual add, x + (y + bias), added to the sum of the stage's earlier blocks
    (`total`); in the stage's last block also divided by the block `count` (then leaky ReLU at `slope`)."""
    out = x + (y + bias)
    if total is not None:
        out = total + out
    if count is None:
        return out
    mean = out / count
    return mean if slope is None else nn.leaky_relu(mean, slope)


@fuse_elementwise_on_gpu
def _output(x: mx.array, bias: mx.array | None, activation: str | None) -> mx.array:
    if bias is not None:
        x = x + bias
    if activation == "tanh":
        return mx.tanh(x)
    if activation == "clamp":
        return mx.clip(x, -1.0, 1.0)
    return x


class _ResidualPairs(nn.Module):
    """Residual pairs x + conv2(act2(conv1(act1(x)))); subclasses say what runs around each convolution."""

    def _first(self, k: int, x: mx.array) -> mx.array:
        """Pair k's first convolution of x, before its bias."""
        raise NotImplementedError

    def _second(self, k: int, h: mx.array) -> mx.array:
        """Pair k's second convolution of `_first`'s output, before its bias."""
        raise NotImplementedError

    def __call__(
        self,
        x: mx.array,
        after_pair: AfterPair | None = None,
        last_add: LastAdd = _add_biased,
        within_pair: AfterPair | None = None,
    ) -> mx.array:
        """x through the residual pairs; `last_add(x, y, bias)` makes the last pair's output (a stage's sum).

        `after_pair` sees each pair's output, `within_pair` the first convolution's (before its bias)."""
        pairs = len(self.convs1)
        for k in range(pairs):
            h = self._first(k, x)
            if within_pair is not None:
                within_pair(h)
            add = last_add if k == pairs - 1 else _add_biased
            x = add(x, self._second(k, h), self.convs2[k].bias)
            if after_pair is not None:
                after_pair(x)
        return x


class ResBlock1(_ResidualPairs):
    """HiFi-GAN: three (leaky ReLU, dilated conv, leaky ReLU, conv) residual pairs."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], slope: float):
        super().__init__()
        self.slope = slope
        self.convs1 = [_conv(channels, kernel_size, d) for d in dilations]
        self.convs2 = [_conv(channels, kernel_size, 1) for _ in dilations]

    def _first(self, k: int, x: mx.array) -> mx.array:
        return conv_without_bias(self.convs1[k], nn.leaky_relu(x, self.slope))

    def _second(self, k: int, h: mx.array) -> mx.array:
        return conv_without_bias(self.convs2[k], _biased_leaky_relu(h, self.convs1[k].bias, self.slope))


class AMPBlock1(_ResidualPairs):
    """BigVGAN: the same residual pairs with anti-aliased Snake(Beta) activations."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], config: VocoderConfig):
        super().__init__()
        use_beta = config.activation == "snakebeta"
        self.convs1 = [_conv(channels, kernel_size, d) for d in dilations]
        self.convs2 = [_conv(channels, kernel_size, 1) for _ in dilations]
        self.acts1 = [_act(channels, use_beta, config) for _ in dilations]
        self.acts2 = [_act(channels, use_beta, config) for _ in dilations]

    def _first(self, k: int, x: mx.array) -> mx.array:
        return conv_without_bias(self.convs1[k], self.acts1[k](x))

    def _second(self, k: int, h: mx.array) -> mx.array:
        return conv_without_bias(self.convs2[k], self.acts2[k](h, self.convs1[k].bias))


def _act(channels: int, use_beta: bool, config: VocoderConfig) -> Activation1d:
    return Activation1d(Snake(channels, use_beta), config.antialias_ratio, config.antialias_kernel_size)


class Vocoder(nn.Module):
    def __init__(self, config: VocoderConfig):
        super().__init__()
        self.config = config
        width = config.upsample_initial_channel
        self.conv_pre = nn.Conv1d(config.in_channels, width, 7, padding=3)
        self.ups = []
        self.resblocks = []
        for i, (rate, kernel) in enumerate(zip(config.upsample_rates, config.upsample_kernel_sizes)):
            channels = width // 2 ** (i + 1)
            self.ups.append(
                nn.ConvTranspose1d(2 * channels, channels, kernel, stride=rate, padding=(kernel - rate) // 2)
            )
            for size, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes):
                if config.is_amp:
                    self.resblocks.append(AMPBlock1(channels, size, dilations, config))
                else:
                    self.resblocks.append(ResBlock1(channels, size, dilations, config.leaky_relu_slope))
        final = width // 2 ** len(config.upsample_rates)
        if config.is_amp:
            # Always SnakeBeta, whatever the residual blocks use (as the reference builds it).
            self.act_post = _act(final, True, config)
        self.conv_post = nn.Conv1d(final, config.out_channels, 7, padding=3, bias=config.use_bias_at_final)

    @property
    def output_sampling_rate(self) -> int:
        return self.config.output_sampling_rate

    def __call__(self, mel: mx.array, after_block: AfterBlock | None = None) -> mx.array:
        """Log-mel [B, 2, frames, bins] -> waveform [B, 2, frames * hop]; `after_block` as forward_channels_last's."""
        if mel.ndim != 4 or mel.shape[1] * mel.shape[3] != self.config.in_channels:
            raise InvalidRequest(
                f"The vocoder takes a stereo spectrogram [batch, 2, frames, {self.config.in_channels // 2}]; "
                f"got {tuple(mel.shape)}."
            )
        return self.forward_channels_last(stack_stereo_mel(mel), after_block).transpose(0, 2, 1)

    def forward_channels_last(self, x: mx.array, after_block: AfterBlock | None = None) -> mx.array:
        """[B, frames, 2 * bins] -> [B, frames * hop, out_channels].

        `after_block(index, signal)` (optional) sees the signal after each upsampling and each residual
        pair: evaluated there, a long clip's decode holds a few pairs' intermediates instead of all."""
        cfg = self.config
        marks = _Marks(after_block)
        x = conv_without_bias(self.conv_pre, x)
        # HiFi-GAN's leaky ReLUs before each upsampling and the last convolution: in the kernel before them.
        if cfg.is_amp:
            x = x + self.conv_pre.bias
        else:
            x = _biased_leaky_relu(x, self.conv_pre.bias, cfg.leaky_relu_slope)
        per_stage = len(cfg.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = marks(up(x))
            last = i == len(self.ups) - 1
            slope = None if cfg.is_amp else FINAL_LEAKY_SLOPE if last else cfg.leaky_relu_slope
            x = _stage_mean(self.resblocks[i * per_stage : (i + 1) * per_stage], x, marks, slope)
        if cfg.is_amp:
            x = self.act_post(x)
        bias = self.conv_post.bias if "bias" in self.conv_post else None
        x = conv_without_bias(self.conv_post, x)
        if bias is None and cfg.final_activation is None:
            return x
        return _output(x, bias, cfg.final_activation)


def _stage_mean(blocks: list, x: mx.array, marks: _Marks, slope: float | None) -> mx.array:
    """The mean of the blocks' outputs for x (then leaky ReLU at `slope`), summed in each block's last
    residual add: one running sum is alive instead of every block's output, and the mean is no kernel
    of its own. The same additions in the same order as summing the outputs afterwards."""
    total = None
    for k, block in enumerate(blocks):
        count, block_slope = (len(blocks), slope) if k == len(blocks) - 1 else (None, None)
        last_add = functools.partial(_add_biased_into_mean, total, count, block_slope)
        total = block(x, marks.hook, last_add, marks.within)
    return total


class _Marks:
    """Numbers the points where `after_block` is called; a no-op without one.

    When `after_block` has a `within_block(index, x)` (pipeline/block_eval.py's, with two points per
    block), it is also called inside each residual pair, after the first convolution, with the
    number of the pair's own point: a pair's kernels then run as two evaluations. A backend allocates
    a kernel's output when it queues it, so with one evaluation in flight (LTX_MLX_EVAL_IN_FLIGHT=1)
    about half a pair's intermediates are allocated at once; no kernel is added."""

    def __init__(self, after_block: AfterBlock | None):
        self.after_block = after_block
        self.count = 0
        self.hook = self if after_block is not None else None
        self.within_block = getattr(after_block, "within_block", None)
        self.within = self._within if self.within_block is not None else None

    def _within(self, x: mx.array) -> None:
        self.within_block(self.count, x)

    def __call__(self, x: mx.array) -> mx.array:
        if self.after_block is not None:
            self.after_block(self.count, x)
            self.count += 1
        return x


def stack_stereo_mel(mel: mx.array) -> mx.array:
    """[B, channels, frames, bins] -> [B, frames, channels * bins], channel-major."""
    b, c, t, f = mel.shape
    return mel.transpose(0, 2, 1, 3).reshape(b, t, c * f)
