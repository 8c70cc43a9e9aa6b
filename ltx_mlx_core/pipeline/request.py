"""What a caller asks for: the one boundary where user input is validated.

The CLI, the desktop app and the tests all build a `GenerationRequest` and hand
it to `Pipeline.generate`. `validate()` is the `check_inputs` of the pipeline:
every user-facing constraint is checked here once, with a message that says
what to change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.request_ltx2 import validate_ltx2_extras
from ltx_mlx_core.pipeline.step_cache import normalise_step_cache
from ltx_mlx_core.validation import check_fps, check_seed, check_text
from ltx_mlx_core.video.audio import AUDIO_SUFFIXES, probe_audio
from ltx_mlx_core.video.probe import probe_image, probe_media
from ltx_mlx_core.weights.catalog import FAMILY_OF
from ltx_mlx_core.weights.model_files import LTX2

SPATIAL_MULTIPLE = 32
TEMPORAL_MULTIPLE = 8
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif"})
RESIDENCY_MODES = ("auto", "resident", "stream_components", "stream_blocks")
MIN_MEDIA_SIDE = 2  # conditioning is H.264-compressed at its own size first, which needs even sides >= 2

DEFAULT_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"
# Model ids of the LTX-2 family (LTX-2, 2.3, 2.5 and the tiny LTX-2 test model), which make video with
# sound; LTX-Video 0.9.x ids ("ltxv-…", "tiny") make silent video.
SOUND_MODEL_PREFIXES = ("ltx-2", "ltx2", "tiny-ltx2")


def media_kind(path: str | Path) -> str | None:
    """'image', 'video', 'audio' or None for a file suffix we cannot use as conditioning."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return None


def makes_sound(model: str) -> bool:
    """Whether the model is of the LTX-2 family, which makes sound: by the catalog for a known id,
    by its name for a folder or a test model."""
    name = Path(model or "").name
    if name in FAMILY_OF:
        return FAMILY_OF[name] == LTX2
    return name.lower().startswith(SOUND_MODEL_PREFIXES)


def nearest_valid_frames(frames: int) -> int:
    """Closest frame count of the form 8k+1 (at least 9)."""
    k = max(1, round((frames - 1) / TEMPORAL_MULTIPLE))
    return k * TEMPORAL_MULTIPLE + 1


def nearest_valid_size(pixels: int) -> int:
    """Closest multiple of 32 (at least 32)."""
    return max(SPATIAL_MULTIPLE, round(pixels / SPATIAL_MULTIPLE) * SPATIAL_MULTIPLE)


@dataclass
class ConditioningItem:
    """An image or clip that pins part of the generated video.

    `frame` is where the media's first frame lands in the generated clip.
    Either `path` (an image or video file) or `frames` (uint8 [F, H, W, 3],
    e.g. an image pasted from the clipboard) supplies the pixels. For videos,
    `source_start`/`source_count` select which source frames are used (an
    extension uses the last `overlap` frames of the previous clip).
    """

    path: str | None = None
    frame: int = 0
    strength: float = 1.0
    frames: np.ndarray | None = field(default=None, repr=False, compare=False)
    source_start: int = 0
    source_count: int | None = None

    @property
    def kind(self) -> str:
        if self.frames is not None:
            return "image" if self.frames.shape[0] == 1 else "video"
        kind = media_kind(self.path or "")
        if kind == "audio":
            raise InvalidRequest(f"'{Path(self.path).name}' is a sound: give it as the request's audio, not as frames.")
        if kind is None:
            raise InvalidRequest(
                f"'{self.path}' is not an image or video file we can read "
                f"(use one of {', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))})."
            )
        return kind

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("frames")
        if self.frames is not None:
            data["in_memory_frames"] = list(self.frames.shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConditioningItem:
        names = {f.name for f in dataclasses.fields(cls)} - {"frames"}
        return cls(**{k: v for k, v in data.items() if k in names})


def check_media_size(path: str | Path, width: int, height: int) -> None:
    """InvalidRequest naming the file when conditioning media is too small to use."""
    if min(width, height) < MIN_MEDIA_SIDE:
        raise InvalidRequest(
            f"'{Path(path).name}' is {width}x{height} pixels; conditioning media needs at least "
            f"{MIN_MEDIA_SIDE}x{MIN_MEDIA_SIDE}."
        )


@dataclass
class LoraRef:
    """A LoRA file and its strength (1: as trained)."""

    path: str
    strength: float = 1.0


@dataclass
class GenerationRequest:
    """Everything needed to reproduce one generation (saved as the JSON sidecar)."""

    prompt: str
    model: str = "ltxv-2b-0.9.8-distilled"
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    width: int = 768
    height: int = 512
    num_frames: int = 97
    fps: float = 30.0
    seeds: list[int] = field(default_factory=lambda: [0])
    conditioning: list[ConditioningItem] = field(default_factory=list)
    # A pipeline YAML (path or name under configs/); None means the model's default.
    pipeline_config: str | None = None
    # Per-request overrides of pipeline config keys (e.g. {"first_pass": {"guidance_scale": 3}}).
    config_overrides: dict[str, Any] = field(default_factory=dict)
    residency: str = "auto"
    quantize_bits: int | None = None
    # Where stage checkpoints go so a failed second stage can resume; None = no checkpoints.
    job_dir: str | None = None
    # Skip transformer work on steps that change little: "off", "faster", "fastest" or a threshold
    # such as "0.05" (pipeline/step_cache.py).
    step_cache: str = "off"
    # Sound (LTX-2 family): make it with the video, and/or follow a sound file from `audio_start` seconds.
    with_audio: bool = True
    audio_path: str | None = None
    audio_start: float = 0.0
    # LTX-2 family: every image guides as an appended keyframe, one at frame 0 too (keyframe interpolation,
    # as ltx-pipelines' KeyframeInterpolationPipeline); off: an image at frame 0 replaces the first latents.
    keyframes: bool = False
    # LTX-2 family: LoRA files fused into the transformer (with `control_path`, the IC-LoRA(s) the control
    # clip was trained for, applied to the first stage only).
    loras: list[LoraRef] = field(default_factory=list)
    control_path: str | None = None
    control_strength: float = 1.0
    # LTX-2 family: regenerate [retake_start, retake_end) seconds of the clip `retake_path`.
    retake_path: str | None = None
    retake_start: float = 0.0
    retake_end: float = 0.0

    @property
    def seed(self) -> int:
        return self.seeds[0]

    def validate(self) -> None:
        """Raise InvalidRequest with an actionable sentence for the first problem found.

        Cheap enough to call more than once: each media file is probed once per version of it.
        """
        check_text(self.prompt, "prompt")
        check_text(self.negative_prompt, "negative prompt")
        for name, value in (("width", self.width), ("height", self.height)):
            if not isinstance(value, int) or value < SPATIAL_MULTIPLE or value % SPATIAL_MULTIPLE:
                raise InvalidRequest(
                    f"{name} must be a positive multiple of {SPATIAL_MULTIPLE} pixels; "
                    f"got {value}. Try {nearest_valid_size(int(value or 0))}."
                )
        n = self.num_frames
        if not isinstance(n, int) or n < 1 or (n - 1) % TEMPORAL_MULTIPLE:
            raise InvalidRequest(
                f"frames must be 8k+1 (9, 17, 25, … 97, …); got {n}. Try {nearest_valid_frames(int(n or 0))}."
            )
        check_fps(self.fps)
        if not self.seeds:
            raise InvalidRequest("give at least one seed.")
        for seed in self.seeds:
            check_seed(seed)
        if self.residency not in RESIDENCY_MODES:
            raise InvalidRequest(f"residency must be one of {', '.join(RESIDENCY_MODES)}; got '{self.residency}'.")
        normalise_step_cache(self.step_cache)
        if self.quantize_bits not in (None, 4, 8):
            raise InvalidRequest(f"quantisation must be 4 or 8 bits (or off); got {self.quantize_bits}.")
        self._validate_audio()
        validate_ltx2_extras(self, makes_sound(self.model))
        for item in self.conditioning:
            _ = item.kind  # raises for unsupported files
            if item.path is not None and item.frames is None:
                if not Path(item.path).is_file():
                    raise InvalidRequest(f"conditioning file '{item.path}' does not exist.")
            if not 0 <= item.frame < n:
                raise InvalidRequest(
                    f"conditioning '{item.path or 'image'}' is placed at frame {item.frame}, "
                    f"outside the clip's frames 0…{n - 1}."
                )
            if not 0.0 <= item.strength <= 1.0:
                raise InvalidRequest(f"conditioning strength must be between 0 and 1; got {item.strength}.")

    def _validate_audio(self) -> None:
        if self.audio_path is None:
            return
        name = Path(self.audio_path).name
        if not makes_sound(self.model):
            raise InvalidRequest(
                f"'{self.model}' is an LTX-Video 0.9.x model, which makes silent video; the sound '{name}' "
                "can only guide an LTX-2 model. Choose an LTX-2 model, or remove the sound."
            )
        if Path(self.audio_path).suffix.lower() not in AUDIO_SUFFIXES:
            raise InvalidRequest(
                f"'{name}' is not a sound file we can read (use one of {', '.join(sorted(AUDIO_SUFFIXES))})."
            )
        if not Path(self.audio_path).is_file():
            raise InvalidRequest(f"audio file '{self.audio_path}' does not exist.")
        if not (
            isinstance(self.audio_start, (int, float)) and math.isfinite(self.audio_start) and self.audio_start >= 0
        ):
            raise InvalidRequest(f"the sound's start must be 0 seconds or later; got {self.audio_start}.")

    def check_media(self) -> None:
        """Probe every conditioning file (ffmpeg for clips, Pillow for images) before any model loads.

        Raises InvalidRequest with one sentence for a file that cannot be read, is too
        small, or holds fewer frames than the item asks for (or a sound file that cannot be
        read or ends before `audio_start`). Separate from `validate()`, which stays cheap
        enough for the GUI thread: this one reads the files.
        """
        if self.audio_path is not None:
            info = probe_audio(self.audio_path)
            if info.duration and self.audio_start >= info.duration:
                raise InvalidRequest(
                    f"'{Path(self.audio_path).name}' lasts {info.duration:.2f} s; its sound "
                    f"cannot start at {self.audio_start:g} s."
                )
        for item in self.conditioning:
            if item.path is None or item.frames is not None:
                continue
            if item.kind == "image":
                width, height = probe_image(item.path)
                frames = 1
            else:
                info = probe_media(item.path)
                width, height, frames = info.width, info.height, info.frames
            check_media_size(item.path, width, height)
            if item.kind == "video" and item.source_start >= frames:  # a negative start counts from the end
                raise InvalidRequest(
                    f"'{Path(item.path).name}' has {frames} frames; there is no frame {item.source_start} "
                    "to start from."
                )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["conditioning"] = [c.to_dict() for c in self.conditioning]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["conditioning"] = [ConditioningItem.from_dict(c) for c in data.get("conditioning", [])]
        kwargs["loras"] = [LoraRef(**lora) if isinstance(lora, dict) else lora for lora in data.get("loras", [])]
        return cls(**kwargs)
