"""The LTX-2 audio VAE: a stereo log-mel spectrogram <-> latents of 8 channels x 16 bins, 25 frames/s.

At its boundary tensors use the reference's layout (spectrogram [B, 2, time, 64],
latents [B, 8, frames, 16]); inside, channels-last [B, time, bins, C]. Encoding keeps
the mean half of the encoder's output and normalises it with the checkpoint's
per-channel statistics; decoding undoes that first, as ltx-core's encoder and decoder do.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.audio_vae_layers import (
    AttnBlock,
    CausalConv2d,
    Downsample,
    ResnetBlock,
    Upsample,
    make_norm,
    norm_silu,
)


class PerChannelStatistics(nn.Module):
    """Dataset statistics of the latents, one entry per flattened (channel, latent bin) feature."""

    def __init__(self, features: int):
        super().__init__()
        self.mean_of_means = mx.zeros((features,))
        self.std_of_means = mx.ones((features,))

    def _per_location(self, stat: mx.array, bins: int) -> mx.array:
        # Feature index is channel * bins + bin (the reference flattens "b c t f -> b t (c f)").
        return stat.reshape(-1, bins).T

    def normalize(self, x: mx.array) -> mx.array:
        bins = x.shape[2]
        return (x - self._per_location(self.mean_of_means, bins)) / self._per_location(self.std_of_means, bins)

    def denormalize(self, x: mx.array) -> mx.array:
        bins = x.shape[2]
        return x * self._per_location(self.std_of_means, bins) + self._per_location(self.mean_of_means, bins)


class MidBlock(nn.Module):
    def __init__(self, channels: int, config: AudioVAEConfig):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, config.norm_type, config.causality_axis)
        if config.mid_block_add_attention:
            self.attn_1 = AttnBlock(channels, config.norm_type)
        self.block_2 = ResnetBlock(channels, channels, config.norm_type, config.causality_axis)

    def __call__(self, x: mx.array) -> mx.array:
        x = self.block_1(x)
        if "attn_1" in self:
            x = self.attn_1(x)
        return self.block_2(x)


class Level(nn.Module):
    """Residual blocks of one resolution (each optionally followed by attention) and a resampler."""

    def __init__(self, channels_in: int, channels_out: int, blocks: int, attention: bool, config: AudioVAEConfig):
        super().__init__()
        self.block = [
            ResnetBlock(channels_in if i == 0 else channels_out, channels_out, config.norm_type, config.causality_axis)
            for i in range(blocks)
        ]
        self.attn = [AttnBlock(channels_out, config.norm_type) for _ in range(blocks)] if attention else []

    def run_blocks(self, x: mx.array) -> mx.array:
        for i, block in enumerate(self.block):
            x = block(x)
            if self.attn:
                x = self.attn[i](x)
        return x


class AudioEncoder(nn.Module):
    """Spectrogram [B, T, bins, in_channels] -> raw latent moments [B, T/4, bins/4, 2 * z_channels]."""

    def __init__(self, config: AudioVAEConfig):
        super().__init__()
        self.config = config
        ch, mults, axis = config.ch, config.ch_mult, config.causality_axis
        self.conv_in = CausalConv2d(config.in_channels, ch, 3, axis)
        resolution = config.resolution
        self.down = []
        for level, mult in enumerate(mults):
            channels_in = ch * (1 if level == 0 else mults[level - 1])
            stage = Level(channels_in, ch * mult, config.num_res_blocks, resolution in config.attn_resolutions, config)
            if level != len(mults) - 1:
                stage.downsample = Downsample(ch * mult, axis)
                resolution //= 2
            self.down.append(stage)
        top = ch * mults[-1]
        self.mid = MidBlock(top, config)
        self.norm_out = make_norm(config.norm_type, top)
        self.conv_out = CausalConv2d(top, 2 * config.z_channels if config.double_z else config.z_channels, 3, axis)

    def __call__(self, x: mx.array) -> mx.array:
        x = self.conv_in(x)
        for stage in self.down:
            x = stage.run_blocks(x)
            if "downsample" in stage:
                x = stage.downsample(x)
        x = self.mid(x)
        return self.conv_out(norm_silu(self.norm_out, x))


class AudioDecoder(nn.Module):
    """Raw latents [B, n, bins/4, z_channels] -> spectrogram [B, 4n - 3, bins, out_ch] (causal)."""

    def __init__(self, config: AudioVAEConfig):
        super().__init__()
        self.config = config
        ch, mults, axis = config.ch, config.ch_mult, config.causality_axis
        top = ch * mults[-1]
        self.conv_in = CausalConv2d(config.z_channels, top, 3, axis)
        self.mid = MidBlock(top, config)
        resolution = config.resolution // 2 ** (len(mults) - 1)
        stages: list[Level] = []
        channels = top
        for level in reversed(range(len(mults))):
            stage = Level(
                channels,
                ch * mults[level],
                config.num_res_blocks + 1,
                resolution in config.attn_resolutions,
                config,
            )
            channels = ch * mults[level]
            if level != 0:
                stage.upsample = Upsample(channels, axis)
                resolution *= 2
            stages.insert(0, stage)
        # Indexed by level (0 = finest), as the reference's `up` list is.
        self.up = stages
        self.norm_out = make_norm(config.norm_type, channels)
        self.conv_out = CausalConv2d(channels, config.out_ch, 3, axis)

    def __call__(self, z: mx.array) -> mx.array:
        frames = self.config.mel_frames(z.shape[1])
        x = self.mid(self.conv_in(z))
        for stage in reversed(self.up):
            x = stage.run_blocks(x)
            if "upsample" in stage:
                x = stage.upsample(x)
        x = self.conv_out(norm_silu(self.norm_out, x))
        return _fit(x, frames, self.config.mel_bins)


def _fit(x: mx.array, frames: int, bins: int) -> mx.array:
    """Crop or zero-pad time and bins to the target (the reference's `_adjust_output_shape`)."""
    x = x[:, :frames, :bins]
    short_t, short_f = frames - x.shape[1], bins - x.shape[2]
    if short_t > 0 or short_f > 0:
        x = mx.pad(x, [(0, 0), (0, max(short_t, 0)), (0, max(short_f, 0)), (0, 0)])
    return x


class AudioVAE(nn.Module):
    """Encoder and/or decoder with the shared latent statistics (`audio_vae.*` in a checkpoint)."""

    def __init__(self, config: AudioVAEConfig, *, encoder: bool = True, decoder: bool = True):
        super().__init__()
        self.config = config
        if encoder:
            self.encoder = AudioEncoder(config)
        if decoder:
            self.decoder = AudioDecoder(config)
        self.per_channel_statistics = PerChannelStatistics(config.latent_features)

    def encode(self, mel: mx.array) -> mx.array:
        """Log-mel spectrogram [B, in_channels, T, mel_bins] -> normalised latents [B, z, T', mel_bins/4]."""
        if "encoder" not in self:
            raise InvalidRequest("This audio VAE was loaded without its encoder; load it with encoder=True.")
        cfg = self.config
        if mel.ndim != 4 or mel.shape[1] != cfg.in_channels or mel.shape[3] != cfg.mel_bins:
            raise InvalidRequest(
                f"The audio encoder takes a spectrogram shaped [batch, {cfg.in_channels}, frames, {cfg.mel_bins}]; "
                f"got {tuple(mel.shape)}."
            )
        moments = self.encoder(mel.transpose(0, 2, 3, 1))
        means = moments[..., : cfg.z_channels]
        return self.per_channel_statistics.normalize(means).transpose(0, 3, 1, 2)

    def decode(self, latents: mx.array) -> mx.array:
        """Normalised latents [B, z, n, mel_bins/4] -> log-mel spectrogram [B, out_ch, 4n - 3, mel_bins]."""
        return self.decode_channels_last(latents.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    def decode_channels_last(self, latents: mx.array) -> mx.array:
        """[B, n, mel_bins/4, z] -> [B, 4n - 3, mel_bins, out_ch]."""
        if "decoder" not in self:
            raise InvalidRequest("This audio VAE was loaded without its decoder; load it with decoder=True.")
        cfg = self.config
        if latents.ndim != 4 or latents.shape[2] != cfg.latent_mel_bins or latents.shape[3] != cfg.z_channels:
            raise InvalidRequest(
                f"The audio decoder takes latents shaped [batch, {cfg.z_channels}, frames, {cfg.latent_mel_bins}]; "
                f"got {tuple(latents.transpose(0, 3, 1, 2).shape) if latents.ndim == 4 else tuple(latents.shape)}."
            )
        return self.decoder(self.per_channel_statistics.denormalize(latents))
