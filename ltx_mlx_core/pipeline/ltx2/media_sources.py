"""A request's conditioning media as the LTX-2 core takes it: pixel sources and held audio latents.

Pixels are prepared as ltx-pipelines prepares them (`load_image_conditioning`,
`load_video_conditioning`): an image goes once through an intra-only libx264 encode at CRF 33
at its own size; each stage then gets it bilinearly scaled to cover the stage's size and
centre-cropped (`resize_and_center_crop`). Clips are not compressed. Sound comes from the
request's audio file (audio to video) or from the sound track of a conditioning clip (an
extension continues the clip's sound): both are encoded by the audio VAE and held over the
frames they cover.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.mel import waveform_to_mel
from ltx_mlx_core.pipeline.ltx2.job import AudioCondition, MediaSource, Placement, VisualCondition
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout
from ltx_mlx_core.pipeline.media import crf_compress, load_item_frames, resize_frames
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.video.audio import read_audio
from ltx_mlx_core.video.io import read_frames
from ltx_mlx_core.video.probe import probe_media

log = logging.getLogger(__name__)

IMAGE_CRF = 33  # ltx-pipelines' DEFAULT_IMAGE_CRF


def resize_and_center_crop(frames: np.ndarray, height: int, width: int) -> mx.array:
    """uint8 [F, h, w, 3] -> float32 [1, F, height, width, 3] in [-1, 1]: scaled (bilinear) to cover, then
    centre-cropped; the reference's arithmetic (ceil of the scaled size, crop offsets floored)."""
    source_h, source_w = frames.shape[1:3]
    scale = max(height / source_h, width / source_w)
    new_h, new_w = math.ceil(source_h * scale), math.ceil(source_w * scale)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    out = []
    for frame in frames:
        scaled = resize_frames(mx.array(frame.astype(np.float32))[None], new_h, new_w)[0]
        out.append(scaled[top : top + height, left : left + width] / 127.5 - 1.0)
    return mx.stack(out)[None]


def pixel_source(frames: np.ndarray) -> MediaSource:
    """A source giving `frames` at any stage size (each size prepared once)."""
    cache: dict[tuple[int, int], mx.array] = {}

    def at(height: int, width: int) -> mx.array:
        if (height, width) not in cache:
            cache[(height, width)] = resize_and_center_crop(frames, height, width)
        return cache[(height, width)]

    return at


def visual_conditions(request: GenerationRequest) -> tuple[VisualCondition, ...]:
    conditions = []
    for item in request.conditioning:
        frames = load_item_frames(item, request.num_frames, (request.height, request.width))
        if frames.shape[0] == 1:
            frames = crf_compress(frames, IMAGE_CRF)
        placement = Placement.KEYFRAME if request.keyframes and frames.shape[0] == 1 else Placement.AUTO
        conditions.append(VisualCondition(pixel_source(frames), item.frame, item.strength, placement))
    return tuple(conditions)


@dataclass(frozen=True)
class SoundSpan:
    """Sound to hold: float32 [samples, 2] at `rate`, starting at the clip's time `start` seconds."""

    samples: np.ndarray
    rate: int
    start: float
    strength: float = 1.0


def request_sound(request: GenerationRequest, rate: int) -> SoundSpan | None:
    """The request's sound file from `audio_start`, cut to the clip's length (audio to video)."""
    if request.audio_path is None:
        return None
    samples = read_audio(request.audio_path, rate=rate, channels=2)
    if samples is None:
        return None
    first = int(round(request.audio_start * rate))
    last = first + int(math.ceil(request.num_frames / request.fps * rate))
    return SoundSpan(samples[first:last], rate, 0.0)


def clip_sounds(request: GenerationRequest, rate: int) -> list[SoundSpan]:
    """The sound of each conditioning clip over the frames it pins (an extension continues it)."""
    spans = []
    for item in request.conditioning:
        if item.path is None or item.frames is not None or item.kind != "video":
            continue
        samples = read_audio(item.path, rate=rate, channels=2)
        if samples is None:
            continue
        info = probe_media(item.path)
        source_fps = info.fps or request.fps
        start_frame = item.source_start % info.frames if info.frames else item.source_start
        used = len(load_item_frames(item, request.num_frames))
        first = int(round(start_frame / source_fps * rate))
        last = int(round((start_frame + used) / source_fps * rate))
        if last > first:
            spans.append(SoundSpan(samples[first:last], rate, item.frame / request.fps, item.strength))
    return spans


def audio_condition(span: SoundSpan, vae: AudioVAE, layout: AudioLatentLayout) -> AudioCondition:
    """The span encoded by the audio VAE, held from the latent frame where it starts.

    Only latent frames the sound covers in full are held (the encoder keeps whole latent
    frames), so a held frame never mixes given sound with silence.
    """
    mel = waveform_to_mel(span.samples.T, span.rate, vae.config)
    latents = vae.encode(mel.astype(mx.float32))
    frame = int(math.ceil(span.start * layout.latents_per_second - 1e-9))
    return AudioCondition(latents, frame, span.strength)


def sound_conditions(
    request: GenerationRequest, vae: Callable[[], AudioVAE], layout: AudioLatentLayout
) -> tuple[AudioCondition, ...]:
    """Audio conditions of the request: its sound file (audio to video) and its clips' sound."""
    given = request_sound(request, layout.sample_rate)
    spans = ([given] if given is not None else []) + clip_sounds(request, layout.sample_rate)
    if not spans:
        return ()
    encoder = vae()
    return tuple(audio_condition(span, encoder, layout) for span in spans)


def clip_frames(path: str, count: int) -> np.ndarray:
    """The first `count` frames of a clip (uint8), or InvalidRequest when it has fewer."""
    frames = read_frames(path, 0, count)
    if frames.shape[0] < count:
        raise InvalidRequest(f"'{Path(path).name}' has {frames.shape[0]} frames; {count} are needed.")
    return frames


def control_source(request: GenerationRequest) -> MediaSource:
    """The control clip's frames (the longest 8k+1 run that fits the clip), scaled and cropped per stage,
    uncompressed (ltx-pipelines' `load_video_conditioning`)."""
    available = probe_media(request.control_path).frames
    count = min(available, request.num_frames)
    count = (count - 1) // 8 * 8 + 1
    if count < 1:
        raise InvalidRequest(f"The control clip '{Path(request.control_path).name}' has no frames.")
    return pixel_source(clip_frames(request.control_path, count))


def retake_source(request: GenerationRequest) -> MediaSource:
    """The clip to retake, its first `num_frames` frames scaled and cropped to the request's size."""
    return pixel_source(clip_frames(request.retake_path, request.num_frames))


def retake_sound(request: GenerationRequest, vae: Callable[[], AudioVAE], layout: AudioLatentLayout) -> mx.array | None:
    """The retaken clip's sound over its frames, encoded by the audio VAE (None: a silent clip)."""
    samples = read_audio(request.retake_path, rate=layout.sample_rate, channels=2)
    if samples is None:
        return None
    samples = samples[: int(math.ceil(request.num_frames / request.fps * layout.sample_rate))]
    encoder = vae()
    return encoder.encode(waveform_to_mel(samples.T, layout.sample_rate, encoder.config).astype(mx.float32))
