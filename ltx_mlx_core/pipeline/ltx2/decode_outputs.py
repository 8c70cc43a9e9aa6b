"""An LTX-2 clip's latents -> uint8 frames and float PCM, with progress: the decode stages' events.

The video is decoded tile by tile (one evaluation and one StepDone per tile; the first finished
frames as a decoded Preview), the sound chunk by chunk through the audio VAE and the vocoder. The
sound is cut or padded with silence to the clip's exact length at the vocoder's rate, so picture and
sound end together; for audio to video the given sound replaces the decoded one where it lasts (as
the reference returns the input audio).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator

import mlx.core as mx
import numpy as np

from ltx_mlx_core.models.ltx2.audio_decode import DEFAULT_CHUNK_LATENT_FRAMES, decoded_samples, iter_decode_audio
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.pipeline.block_eval import block_evaluator
from ltx_mlx_core.pipeline.decode_stream import iter_decode_frames
from ltx_mlx_core.pipeline.events import Event, Preview, StepDone
from ltx_mlx_core.pipeline.memory_estimate import available_memory
from ltx_mlx_core.pipeline.preview import decoded_preview, to_uint8_frames
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.tiling import TilingConfig, tiling_within
from ltx_mlx_core.video.audio import read_audio

log = logging.getLogger(__name__)


def _tiling(latents: mx.array) -> TilingConfig:
    budget = max(0, available_memory() - mx.get_active_memory())
    return tiling_within(tuple(latents.shape[1:4]), budget, latents.dtype.size)


def _step(stage: str, index: int, count: int, started: float) -> StepDone:
    elapsed = time.monotonic() - started
    return StepDone(stage, index, count, elapsed, elapsed / index * (count - index))


def iter_decode_video(vae: VideoAutoencoder, latents: mx.array, settings, seed: int) -> Iterator[Event]:
    """Decode [1, F', h, w, C] latents; returns uint8 [F, H, W, 3]."""
    started = time.monotonic()
    tiling = settings.tiling or _tiling(latents)
    pieces: list[np.ndarray] = []
    for step in iter_decode_frames(vae, latents, tiling=tiling):
        mx.eval(*step.pending)
        yield _step("decode", step.index, step.count, started)
        if step.frames is not None:
            pieces.append(to_uint8_frames(step.frames[0]))
            if len(pieces) == 1:
                frames = decoded_preview(pieces[0], settings.decoded_preview_frames, settings.preview_max_side)
                yield Preview(frames, kind="decoded")
        step = None  # the piece is in `pieces`: let its float32 frames go before the next tile decodes
    return np.concatenate(pieces, axis=0)


def clip_samples(request: GenerationRequest, rate: int) -> int:
    """Samples of sound that last as long as the clip's frames (to the nearest sample)."""
    return int(round(request.num_frames / request.fps * rate))


def evaluated_sound_pieces(
    vae, vocoder, latents: mx.array, num_samples: int, every: int | None = None
) -> Iterator[mx.array]:
    """iter_decode_audio's pieces, each evaluated, with the vocoders evaluated after every `every`
    residual pairs (block_eval.py's setting; 0: one graph per chunk, which holds more at once)."""
    evaluator = block_evaluator(every)
    for piece in iter_decode_audio(vae, vocoder, latents, num_samples=num_samples, after_block=evaluator):
        mx.eval(piece)
        if evaluator is not None:
            evaluator.finish()
        yield piece


def iter_decode_sound(models, latents: mx.array | None, request: GenerationRequest) -> Iterator[Event]:
    """Decode audio latents [1, C, T, F]; returns (float32 PCM [samples, 2], rate)."""
    vocoder = models.vocoder()
    rate = vocoder.config.output_sampling_rate
    wanted = clip_samples(request, rate)
    pcm = np.zeros((wanted, 2), np.float32)
    if latents is None:
        log.info("the model made no sound: the clip gets a silent track")
        return pcm, rate
    vae = models.audio_vae()
    available = decoded_samples(vae.config, vocoder, latents.shape[2])
    count = max(1, math.ceil(latents.shape[2] / DEFAULT_CHUNK_LATENT_FRAMES))
    started, written = time.monotonic(), 0
    pieces = evaluated_sound_pieces(vae, vocoder, latents.astype(mx.float32), min(wanted, available))
    for index, piece in enumerate(pieces, start=1):
        samples = np.array(piece[0].astype(mx.float32)).T
        pcm[written : written + len(samples)] = samples[: wanted - written]
        written += len(samples)
        yield _step("decode_sound", min(index, count), count, started)
    if request.audio_path is not None:
        given = read_audio(request.audio_path, rate=rate, channels=2)
        if given is not None:
            first = int(round(request.audio_start * rate))
            kept = given[first : first + wanted]
            pcm[: len(kept)] = kept
    return pcm, rate
