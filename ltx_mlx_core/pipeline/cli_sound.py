"""The command line's sound options: `--audio PATH[@SECONDS]`, `--no-audio`, and an extension's sound.

A sound file guides an LTX-2 model (audio to video; its sound is kept in the output). `--no-audio`
writes a silent MP4 from a model that makes sound. Either given for an LTX-Video 0.9.x model is
refused (exit 2): those models make no sound, so the option would do nothing.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.events import VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest, makes_sound
from ltx_mlx_core.video.audio import read_audio

_AUDIO_SPEC = re.compile(r"^(?P<path>.+?)@(?P<start>\d+(?:\.\d*)?|\.\d+)$")


def add_sound_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audio",
        default=None,
        metavar="PATH[@SECONDS]",
        help="a sound file (WAV, MP3, M4A, FLAC, ...) the video follows, read from SECONDS on (default 0); "
        "its sound is kept in the output. LTX-2 models only",
    )
    parser.add_argument(
        "--no-audio", action="store_true", help="write no sound track (LTX-2 models make sound by default)"
    )


def parse_audio_spec(spec: str) -> tuple[str, float]:
    """'PATH' or 'PATH@SECONDS' -> (path, start); a path that exists as written wins."""
    text = spec.strip()
    if not text:
        raise InvalidRequest("--audio needs a file path (PATH[@SECONDS]).")
    if Path(text).exists():
        return text, 0.0
    match = _AUDIO_SPEC.match(text)
    if match is None:
        return text, 0.0
    return match.group("path"), float(match.group("start"))


def apply_sound_arguments(request: GenerationRequest, args: argparse.Namespace) -> None:
    """Put `--audio` / `--no-audio` into the request, refusing them for a model that makes no sound."""
    audio, silent = getattr(args, "audio", None), getattr(args, "no_audio", False)
    if (audio or silent) and not makes_sound(request.model):
        option = "--audio" if audio else "--no-audio"
        raise InvalidRequest(
            f"'{request.model}' is an LTX-Video 0.9.x model, which makes silent video; {option} is for LTX-2 "
            "models. Choose an LTX-2 model (ltx-mlx models list) or leave the option out."
        )
    if audio and silent:
        raise InvalidRequest("--audio and --no-audio contradict each other; give one.")
    if audio:
        request.audio_path, request.audio_start = parse_audio_spec(audio)
    request.with_audio = not silent


def extension_sound(
    input_path: Path, input_frames: int, result: VideoResult, overlap: int, continuation_only: bool
) -> None:
    """The sound of an extension's output: the input's sound over its `input_frames`, then the
    continuation's from the end of the overlap (the continuation's alone with `continuation_only`).
    A silent input contributes silence."""
    if not result.audio:
        return
    rate, fps = result.audio_rate, result.fps
    skip = int(round(overlap / fps * rate))
    if continuation_only:
        result.audio = [sound[skip:] for sound in result.audio]
        return
    head = np.zeros((int(round(input_frames / fps * rate)), 2), np.float32)
    given = read_audio(input_path, rate=rate, channels=2)
    if given is not None:
        head[: min(len(head), len(given))] = given[: len(head)]
    result.audio = [np.concatenate([head, sound[skip:]], axis=0) for sound in result.audio]
