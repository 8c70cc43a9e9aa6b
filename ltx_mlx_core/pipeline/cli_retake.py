"""`ltx-mlx retake`: regenerate [START, END) seconds of a clip, picture and sound, with a new prompt.

The clip's frames up to the last whole 8k+1 are retaken at the clip's size (rounded down to multiples
of 32 pixels, or --width/--height); frames after them, which the model cannot take, follow unchanged
(with their sound) when the size is the clip's own. LTX-2 models only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline import check_outputs, write_result
from ltx_mlx_core.pipeline.cli_generate import _add_common_arguments, _base_request, _run_with_progress, _seeds
from ltx_mlx_core.pipeline.cli_lora import apply_lora_arguments
from ltx_mlx_core.pipeline.cli_sound import apply_sound_arguments
from ltx_mlx_core.pipeline.events import VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.video.audio import read_audio
from ltx_mlx_core.video.io import check_encoder_settings, probe_video, read_frames


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retake",
        help="regenerate a stretch of a clip (LTX-2 models)",
        description="Regenerate [--start, --end) seconds of a clip, picture and sound, with a new prompt; the "
        "rest of the clip is held as it was.",
    )
    _add_common_arguments(parser)
    parser.add_argument("--input", required=True, help="the clip to retake (.mp4, .mov, ...)")
    parser.add_argument("--start", type=float, required=True, help="seconds: where the retaken stretch starts")
    parser.add_argument("--end", type=float, required=True, help="seconds: where it ends")
    parser.set_defaults(handler=handle_retake)


def build_retake_request(args: argparse.Namespace, frames: int, fps: float, size: tuple[int, int]) -> GenerationRequest:
    usable = (frames - 1) // 8 * 8 + 1
    if usable < 9:
        raise InvalidRequest(f"'{Path(args.input).name}' has {frames} frames; a retake needs at least 9.")
    width = args.width or size[0] // 32 * 32
    height = args.height or size[1] // 32 * 32
    if width < 32 or height < 32:
        raise InvalidRequest(f"'{Path(args.input).name}' is {size[0]}x{size[1]}; a retake needs at least 32x32.")
    request = _base_request(args, width=width, height=height, num_frames=usable, fps=args.fps or fps)
    request.retake_path, request.retake_start, request.retake_end = str(args.input), args.start, args.end
    apply_sound_arguments(request, args)
    apply_lora_arguments(request, args)
    request.validate()
    return request


def add_unretaken_tail(result: VideoResult, input_path: Path, info_frames: int, size_kept: bool) -> None:
    """Append the input's frames (and sound) after the retaken ones, when the picture size is the input's."""
    used = result.videos[0].shape[0]
    if info_frames <= used or not size_kept:
        return
    tail = read_frames(input_path, used)
    result.videos = [np.concatenate([video, tail], axis=0) for video in result.videos]
    if result.audio:
        sound = read_audio(input_path, rate=result.audio_rate, channels=2)
        start = int(round(used / result.fps * result.audio_rate))
        wanted = int(round(info_frames / result.fps * result.audio_rate)) - start
        rest = np.zeros((max(wanted, 0), 2), np.float32)
        if sound is not None:
            piece = sound[start : start + len(rest)]
            rest[: len(piece)] = piece
        result.audio = [np.concatenate([audio, rest], axis=0) for audio in result.audio]


def handle_retake(args: argparse.Namespace) -> int:
    check_encoder_settings(args.crf, "medium", args.fps)
    check_outputs(Path(args.output), _seeds(args))
    input_path = Path(args.input)
    if not input_path.is_file():
        raise InvalidRequest(f"input video '{input_path}' does not exist.")
    info = probe_video(input_path)
    request = build_retake_request(args, info.frames, info.fps, (info.width, info.height))
    result = _run_with_progress(request, args.quiet)
    add_unretaken_tail(result, input_path, info.frames, (request.width, request.height) == (info.width, info.height))
    for path in write_result(result, Path(args.output), crf=args.crf):
        print(path)
    return 0
