"""LTX-2.3's vocoder with bandwidth extension (16 kHz -> 48 kHz).

The first generator turns the mel spectrogram into 16 kHz audio; a causal log-mel of
that audio (its STFT basis and mel filters are checkpoint tensors, so the numbers match
training) feeds a second generator that predicts a residual, added to a sinc-upsampled
copy of the 16 kHz audio and clipped to [-1, 1]. Names follow ltx-core (``vocoder``,
``bwe_generator``, ``mel_stft.stft_fn.forward_basis``, ``mel_stft.mel_basis``).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu
from ltx_mlx_core.models.ltx2.antialias import UpSample1d
from ltx_mlx_core.models.ltx2.vocoder import AfterBlock, Vocoder, stack_stereo_mel
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig

LOG_MEL_FLOOR = 1e-5


@fuse_elementwise_on_gpu
def _magnitude(real: mx.array, imag: mx.array) -> mx.array:
    return mx.sqrt(mx.square(real) + mx.square(imag))


@fuse_elementwise_on_gpu
def _log_floored(mel: mx.array) -> mx.array:
    return mx.log(mx.maximum(mel, LOG_MEL_FLOOR))


@fuse_elementwise_on_gpu
def _clipped_sum(residual: mx.array, skip: mx.array) -> mx.array:
    return mx.clip(residual + skip, -1.0, 1.0)


class CausalSTFT(nn.Module):
    """Magnitude STFT as a strided convolution with the checkpoint's windowed DFT basis; left padding only."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int):
        super().__init__()
        self.hop_length = hop_length
        self.left_pad = max(0, win_length - hop_length)
        self.n_freqs = n_fft // 2 + 1
        # Rows: real parts of every frequency, then imaginary parts (the reference's layout), as a conv kernel.
        self.forward_basis = mx.zeros((2 * self.n_freqs, n_fft, 1))

    def __call__(self, y: mx.array) -> mx.array:
        """Waveforms [N, samples] -> magnitudes [N, frames, n_freqs]."""
        y = mx.pad(y, [(0, 0), (self.left_pad, 0)])
        n_fft = self.forward_basis.shape[1]
        count = (y.shape[1] - n_fft) // self.hop_length + 1
        # Overlapping frames as a strided view, then one matrix product: a one-channel convolution with a
        # 512-tap kernel and stride 80 took most of the vocoder's time on the CUDA backend.
        frames = mx.as_strided(y, (y.shape[0], count, n_fft), (y.shape[1], self.hop_length, 1))
        spec = frames @ self.forward_basis[:, :, 0].astype(y.dtype).T
        return _magnitude(spec[..., : self.n_freqs], spec[..., self.n_freqs :])


class MelSTFT(nn.Module):
    def __init__(self, n_fft: int, hop_length: int, win_length: int, num_mels: int):
        super().__init__()
        self.stft_fn = CausalSTFT(n_fft, hop_length, win_length)
        self.mel_basis = mx.zeros((num_mels, n_fft // 2 + 1))

    def __call__(self, y: mx.array) -> mx.array:
        """Waveforms [N, samples] -> log-mel [N, frames, num_mels]."""
        magnitude = self.stft_fn(y)
        mel = magnitude @ self.mel_basis.astype(magnitude.dtype).T
        return _log_floored(mel)


class VocoderWithBWE(nn.Module):
    def __init__(self, config: BWEConfig):
        super().__init__()
        self.config = config
        self.vocoder = Vocoder(config.vocoder)
        self.bwe_generator = Vocoder(config.generator)
        self.mel_stft = MelSTFT(config.n_fft, config.hop_length, config.win_length, config.num_mels)
        # Not a checkpoint tensor: built from its formula, as the reference does.
        self._resampler = UpSample1d(config.ratio, window="hann", persistent=False)

    @property
    def output_sampling_rate(self) -> int:
        return self.config.output_sampling_rate

    def __call__(self, mel: mx.array, after_block: AfterBlock | None = None) -> mx.array:
        """Log-mel [B, 2, frames, bins] -> waveform [B, 2, frames * hop] at the output rate."""
        return self.forward_channels_last(stack_stereo_mel(mel), after_block).transpose(0, 2, 1)

    def forward_channels_last(self, x: mx.array, after_block: AfterBlock | None = None) -> mx.array:
        """[B, frames, 2 * bins] -> [B, frames * hop, 2]; `after_block` as Vocoder's, in both generators."""
        cfg = self.config
        low = self.vocoder.forward_channels_last(x, after_block)
        b, length, channels = low.shape
        out_length = length * cfg.output_sampling_rate // cfg.input_sampling_rate
        remainder = length % cfg.hop_length
        if remainder:
            low = mx.pad(low, [(0, 0), (0, cfg.hop_length - remainder), (0, 0)])
        # One log-mel per channel, then the channels' bins stacked channel-major, as for the first stage.
        flat = low.transpose(0, 2, 1).reshape(b * channels, low.shape[1])
        mel = self.mel_stft(flat)
        mel = mel.reshape(b, channels, mel.shape[1], mel.shape[2]).transpose(0, 2, 1, 3)
        residual = self.bwe_generator.forward_channels_last(mel.reshape(b, mel.shape[1], -1), after_block)
        skip = self._resampler(low)
        return _clipped_sum(residual, skip)[:, :out_length]
