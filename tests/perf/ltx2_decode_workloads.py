"""Our LTX-2.3 decoders on random weights of the release's shapes (the LTX-2 benchmark's decode stages).

The video decode runs as the pipeline's (pipeline/ltx2/decode_outputs.py): iter_decode_frames with
the tiling picked for the device's free memory (or a given one), one evaluation per yielded step. The
audio decode runs the audio VAE's decoder and the BWE vocoder in float32 through the pipeline's
evaluated_sound_pieces, for the clip's length of sound.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import mlx.core as mx

from ltx_mlx_core.bench.workloads import randomize_parameters
from ltx_mlx_core.bench.workloads_ltx2 import AVShape
from ltx_mlx_core.models.ltx2.audio_decode import decoded_samples
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import LTX23_VIDEO_VAE_CONFIG, VideoVAEConfig
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.pipeline.decode_stream import iter_decode_frames
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.ltx2.decode_outputs import evaluated_sound_pieces
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout
from ltx_mlx_core.pipeline.memory_estimate import available_memory
from ltx_mlx_core.pipeline.tiling import TilingConfig, tiling_within
from ltx_mlx_core.weights.ltx2_full_size import FullSize, full_size


def video_vae_config() -> dict:
    """LTX-2.3's video VAE section (official layout: ltx-core's configurator reads it too)."""
    return copy.deepcopy(LTX23_VIDEO_VAE_CONFIG)


def video_latents(shape: AVShape, dtype: mx.Dtype, channels: int = 128) -> mx.array:
    """Random video latents [1, frames, height, width, channels] for the clip (the same for every side)."""
    grid = latent_grid(shape.frames, shape.height, shape.width)
    return mx.random.normal((1, *grid, channels), key=mx.random.key(5)).astype(dtype)


def ours_video_decode(shape: AVShape, dtype: mx.Dtype, tiling: TilingConfig | None = None) -> Callable[[], mx.array]:
    """Decode of the clip's latents; returns its last frames. `tiling` None: as the pipeline picks it."""
    vae = VideoAutoencoder(VideoVAEConfig.from_dict(video_vae_config()))
    randomize_parameters(vae, dtype)
    channels = vae.config.latent_channels
    vae.std_of_means = mx.ones((channels,), dtype=dtype)
    vae.mean_of_means = mx.zeros((channels,), dtype=dtype)
    latents = video_latents(shape, dtype, channels)
    grid = latent_grid(shape.frames, shape.height, shape.width)
    mx.eval(latents, vae.parameters())
    if tiling is None:
        budget = max(0, available_memory() - mx.get_active_memory())
        tiling = tiling_within(grid, budget, latents.dtype.size)

    def decode() -> mx.array:
        last = None
        for step in iter_decode_frames(vae, latents, tiling=tiling):
            mx.eval(*step.pending)
            # Each piece let go before the next tile decodes, as the pipeline does (it keeps them as
            # uint8 on the host); the last is returned.
            last = step.frames if step.index == step.count else None
            step = None
        return last

    return decode


def audio_latents(shape: AVShape) -> mx.array:
    """Random audio latents [1, channels, frames, mel bins] for the clip (the same for both sides)."""
    layout = AudioLatentLayout()
    return mx.random.normal((1, layout.channels, shape.audio_tokens, layout.mel_bins), key=mx.random.key(7))


def ours_audio_decode(
    shape: AVShape, sizes: FullSize | None = None, every: int | None = None
) -> tuple[Callable[[], mx.array], int]:
    """(decode, samples): the clip's sound decoded piece by piece, each piece evaluated; LTX-2.3's
    audio VAE and vocoder unless `sizes` says otherwise; the vocoders evaluated every `every` residual
    pairs (None: the pipeline's setting; 0: one graph per piece)."""
    sizes = sizes or full_size("2.3")
    vae = AudioVAE(sizes.audio_vae, encoder=False)
    vocoder = VocoderWithBWE(sizes.vocoder)
    randomize_parameters(vae, mx.float32)
    randomize_parameters(vocoder, mx.float32)
    latents = audio_latents(shape)
    mx.eval(latents, vae.parameters(), vocoder.parameters())
    rate = vocoder.config.output_sampling_rate
    samples = min(int(round(shape.frames / shape.fps * rate)), decoded_samples(vae.config, vocoder, latents.shape[2]))

    def decode() -> mx.array:
        last = None
        for piece in evaluated_sound_pieces(vae, vocoder, latents, samples, every):
            last = piece
        return last

    return decode, samples
