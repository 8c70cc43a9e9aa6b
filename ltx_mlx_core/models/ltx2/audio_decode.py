"""Decoding a long clip's audio in chunks: latents -> audio VAE decoder -> vocoder, bounded memory.

The decoder is causal in time: a spectrogram frame depends only on latent frames at or
before its own, up to `decoder_context_frames` back. The vocoders are not causal but
local: a sample depends on mel frames within `vocoder_context_frames` on either side.
Each chunk therefore decodes its latents with that much history, vocodes its mel frames
with that much margin, and keeps only the samples of the frames it owns, which are then
the very samples a one-shot decode makes. The generator yields unevaluated pieces: the
caller evaluates each (one ``mx.eval`` per chunk) before asking for the next.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.audio_vae_config import LATENT_DOWNSAMPLE_FACTOR, AudioVAEConfig
from ltx_mlx_core.models.ltx2.vocoder import AfterBlock, Vocoder
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_LATENT_FRAMES = 200  # 8 s at 25 latent frames per second
# Reach of an anti-aliased activation (x2 up, 12 taps, x2 down), in samples at its own rate, rounded up.
_ANTIALIAS_REACH = 8


@dataclass(frozen=True)
class AudioChunk:
    """Global indices: latents decoded, mel frames vocoded, mel frames whose samples are kept."""

    latent_start: int
    latent_stop: int
    mel_start: int
    mel_stop: int
    keep_start: int
    keep_stop: int


def decoder_context_frames(config: AudioVAEConfig) -> int:
    """Latent frames of history a decoded spectrogram frame can depend on (an upper bound)."""
    levels = len(config.ch_mult)
    convs_per_block = 2
    # conv_in and the middle block's two residual blocks run at the latent rate.
    reach = 2.0 * (1 + 2 * convs_per_block)
    for level in reversed(range(levels)):
        rate = 2 ** (levels - 1 - level)
        reach += 2.0 * (config.num_res_blocks + 1) * convs_per_block / rate
        if level != 0:
            # Nearest repeat (one step) and the upsampling conv (two steps) at the doubled rate.
            reach += 1.0 / rate + 2.0 / (2 * rate)
    reach += 2.0 / 2 ** (levels - 1)  # conv_out
    return math.ceil(reach) + 1


def _generator_reach(config: VocoderConfig) -> float:
    """Input frames on either side one output sample of a generator can depend on (an upper bound)."""
    reach = 3.0  # conv_pre, kernel 7
    rate = 1
    for stride, kernel in zip(config.upsample_rates, config.upsample_kernel_sizes):
        reach += (kernel / stride + 1) / rate
        rate *= stride
        block = 0.0
        for size, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes):
            per_pair = [(size - 1) // 2 * (d + 1) + (2 * _ANTIALIAS_REACH if config.is_amp else 0) for d in dilations]
            block = max(block, float(sum(per_pair)))
        reach += block / rate
    reach += (3.0 + (_ANTIALIAS_REACH if config.is_amp else 0)) / rate  # act_post, conv_post
    return reach


def vocoder_context_frames(config: VocoderConfig | BWEConfig) -> int:
    """Mel frames on either side one output sample can depend on (an upper bound)."""
    if isinstance(config, VocoderConfig):
        return math.ceil(_generator_reach(config)) + 1
    first = _generator_reach(config.vocoder)
    # The extension: its causal STFT window, its generator (frames of hop_length samples), the sinc skip.
    samples_per_frame = config.vocoder.hop
    stft = (config.win_length + config.hop_length) / samples_per_frame
    generator = _generator_reach(config.generator) * config.hop_length / samples_per_frame
    skip = 16 / samples_per_frame
    return math.ceil(first + stft + generator + skip) + 1


def _latent_of_mel_frame(frame: int) -> int:
    """The latent frame whose decoding makes spectrogram frame `frame` (causal: 1 frame, then 4 each)."""
    return 0 if frame == 0 else (frame + LATENT_DOWNSAMPLE_FACTOR - 1) // LATENT_DOWNSAMPLE_FACTOR


def plan_audio_chunks(
    latent_frames: int, chunk_frames: int, decoder_context: int, vocoder_context: int
) -> list[AudioChunk]:
    """Chunks of `chunk_frames` latent frames covering a causal decode of `latent_frames` frames."""
    if chunk_frames < 1:
        raise InvalidRequest(f"Audio chunks need at least one latent frame; got {chunk_frames}.")
    factor = LATENT_DOWNSAMPLE_FACTOR
    total_mel = latent_frames * factor - (factor - 1)
    chunks = []
    for start in range(0, latent_frames, chunk_frames):
        stop = min(latent_frames, start + chunk_frames)
        keep_start = 0 if start == 0 else start * factor - (factor - 1)
        keep_stop = total_mel if stop == latent_frames else stop * factor - (factor - 1)
        mel_start = max(0, keep_start - vocoder_context)
        mel_stop = min(total_mel, keep_stop + vocoder_context)
        chunks.append(
            AudioChunk(
                # At least one frame back: a decode starting at latent k makes only the last of k's 4 frames.
                latent_start=max(0, _latent_of_mel_frame(mel_start) - max(decoder_context, 1)),
                latent_stop=min(latent_frames, _latent_of_mel_frame(mel_stop - 1) + 1),
                mel_start=mel_start,
                mel_stop=mel_stop,
                keep_start=keep_start,
                keep_stop=keep_stop,
            )
        )
    return chunks


def decoded_samples(config: AudioVAEConfig, vocoder: Vocoder | VocoderWithBWE, latent_frames: int) -> int:
    """Samples per channel that `latent_frames` latent frames decode to."""
    return config.mel_frames(latent_frames) * vocoder.config.hop


def iter_decode_audio(
    vae: AudioVAE,
    vocoder: Vocoder | VocoderWithBWE,
    latents: mx.array,
    chunk_frames: int = DEFAULT_CHUNK_LATENT_FRAMES,
    num_samples: int | None = None,
    after_block: AfterBlock | None = None,
) -> Iterator[mx.array]:
    """Normalised audio latents [B, z, frames, bins] -> waveform pieces [B, 2, samples], in order.

    Concatenated, the pieces are the one-shot ``vocoder(vae.decode(latents))``, cut after
    `num_samples` samples when given (a clip's exact length at the vocoder's rate).
    `after_block` goes to the vocoder (Vocoder.forward_channels_last): where a caller evaluates.
    """
    available = decoded_samples(vae.config, vocoder, latents.shape[2])
    if num_samples is not None and num_samples > available:
        raise InvalidRequest(
            f"{latents.shape[2]} audio latent frames decode to {available} samples, fewer than the {num_samples} "
            "asked for: encode the sound padded to whole latent frames."
        )
    remaining = available if num_samples is None else num_samples
    for piece in _decode_pieces(vae, vocoder, latents, chunk_frames, after_block):
        if remaining <= 0:
            return
        yield piece[..., :remaining] if piece.shape[-1] > remaining else piece
        remaining -= piece.shape[-1]


def _decode_pieces(
    vae: AudioVAE,
    vocoder: Vocoder | VocoderWithBWE,
    latents: mx.array,
    chunk_frames: int,
    after_block: AfterBlock | None,
) -> Iterator[mx.array]:
    config = vae.config
    if config.decoder_has_attention or config.causality_axis != "height":
        logger.info("Audio decoder with attention or not causal in time: decoding in one piece.")
        yield vocoder(vae.decode(latents), after_block)
        return
    hop = vocoder.config.hop
    plan = plan_audio_chunks(
        latents.shape[2], chunk_frames, decoder_context_frames(config), vocoder_context_frames(vocoder.config)
    )
    latents = latents.transpose(0, 2, 3, 1)
    for chunk in plan:
        mel = vae.decode_channels_last(latents[:, chunk.latent_start : chunk.latent_stop])
        # Local spectrogram frame i of a decode starting at latent s is global frame i + 4 s.
        offset = chunk.latent_start * LATENT_DOWNSAMPLE_FACTOR
        mel = mel[:, chunk.mel_start - offset : chunk.mel_stop - offset]
        b, frames, bins, channels = mel.shape
        wave = vocoder.forward_channels_last(mel.transpose(0, 1, 3, 2).reshape(b, frames, channels * bins), after_block)
        first = (chunk.keep_start - chunk.mel_start) * hop
        yield wave[:, first : first + (chunk.keep_stop - chunk.keep_start) * hop].transpose(0, 2, 1)
