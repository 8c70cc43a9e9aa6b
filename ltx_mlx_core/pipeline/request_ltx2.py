"""The checks of a request's LTX-2-only parts: LoRAs, IC-LoRA control, retake (called by `validate()`).

Each refusal names the file or setting and what to change. These parts exist only for the LTX-2
family: asking a 0.9.x model for them is refused rather than ignored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ltx_mlx_core.errors import InvalidRequest

LORA_SUFFIX = ".safetensors"
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
MAX_LORA_STRENGTH = 4.0


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check_video_file(path: str, what: str) -> None:
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        raise InvalidRequest(
            f"the {what} '{Path(path).name}' is not a video file ({', '.join(sorted(VIDEO_SUFFIXES))})."
        )
    if not Path(path).is_file():
        raise InvalidRequest(f"the {what} '{path}' does not exist.")


def validate_ltx2_extras(request: Any, sound_model: bool) -> None:
    """InvalidRequest for the first problem in `loras`, `control_path` or `retake_path`."""
    used = [
        name
        for name, present in (
            ("LoRAs", request.loras),
            ("control", request.control_path),
            ("retake", request.retake_path),
            ("keyframes", request.keyframes),
        )
        if present
    ]
    if used and not sound_model:
        raise InvalidRequest(
            f"'{request.model}' is an LTX-Video 0.9.x model; {', '.join(used)} work with LTX-2 models only."
        )
    for lora in request.loras:
        path = Path(lora.path)
        if path.suffix.lower() != LORA_SUFFIX:
            raise InvalidRequest(f"the LoRA '{path.name}' is not a .safetensors file.")
        if not path.is_file():
            raise InvalidRequest(f"the LoRA file '{lora.path}' does not exist.")
        if not _finite(lora.strength) or abs(lora.strength) > MAX_LORA_STRENGTH:
            raise InvalidRequest(
                f"the LoRA '{path.name}' has strength {lora.strength}; use a number between "
                f"-{MAX_LORA_STRENGTH:g} and {MAX_LORA_STRENGTH:g} (1 is as trained)."
            )
    if request.control_path is not None:
        _check_video_file(request.control_path, "control clip")
        if not request.loras:
            raise InvalidRequest("a control clip needs the IC-LoRA it was made for: add it with --lora.")
        if not _finite(request.control_strength) or not 0.0 <= request.control_strength <= 1.0:
            raise InvalidRequest(f"the control strength must be between 0 and 1; got {request.control_strength}.")
    if request.retake_path is not None:
        _check_video_file(request.retake_path, "clip to retake")
        start, end = request.retake_start, request.retake_end
        if not (_finite(start) and _finite(end)) or start < 0 or end <= start:
            raise InvalidRequest(f"a retake needs 0 <= start < end seconds; got {start} to {end}.")
        if request.conditioning or request.audio_path or request.control_path:
            raise InvalidRequest(
                "a retake takes its picture and sound from the clip itself; leave out images, clips, sound files "
                "and control clips."
            )
