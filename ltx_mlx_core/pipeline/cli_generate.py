"""`ltx-mlx generate` and `ltx-mlx extend`: the command-line contract scripts rely on.

Both build a `GenerationRequest`, drive the same event generator as the app,
draw a plain-text progress line on stderr and write MP4 + JSON sidecar.
Exit codes (set by ltx_mlx_core.cli): 0 success, 2 invalid input, 1 failure.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ltx_mlx_core.errors import InvalidRequest, LtxMlxError
from ltx_mlx_core.pipeline import check_outputs, generate, write_result
from ltx_mlx_core.pipeline.cli_driven import add_driven_arguments, driven_request, json_progress
from ltx_mlx_core.pipeline.cli_lora import add_lora_arguments, apply_lora_arguments
from ltx_mlx_core.pipeline.cli_sound import add_sound_arguments, apply_sound_arguments, extension_sound
from ltx_mlx_core.pipeline.events import Event, Finished
from ltx_mlx_core.pipeline.progress_output import ProgressLine
from ltx_mlx_core.pipeline.request import (
    DEFAULT_NEGATIVE_PROMPT,
    ConditioningItem,
    GenerationRequest,
    media_kind,
)
from ltx_mlx_core.pipeline.step_cache import normalise_step_cache
from ltx_mlx_core.validation import crf_argument, fps_argument, positive_int
from ltx_mlx_core.video.io import check_encoder_settings, probe_video, read_video

DEFAULT_EXTEND_OVERLAP = 9
DEFAULT_EXTEND_FRAMES = 97

# PATH, optionally followed by @FRAME and :STRENGTH (both optional, in that order).
# Matched from the right so paths may contain '@' or ':' themselves (C:\..., user@host).
_SPEC_TAIL = re.compile(r"^(?P<path>.+?)(?:@(?P<frame>-?\d+))?(?::(?P<strength>-?(?:\d+\.?\d*|\.\d+)))?$")
SPEC_SYNTAX = "PATH[@FRAME[:STRENGTH]]"


def _malformed_tail(text: str) -> tuple[str, str] | None:
    """(media path, rest) where a media file name is followed by '@' or ':' and a tail that is no spec."""
    for index, char in enumerate(text):
        if char in "@:" and index and media_kind(text[:index]) is not None:
            return text[:index], text[index:]
    return None


def parse_conditioning_spec(spec: str) -> ConditioningItem:
    """'PATH[@FRAME[:STRENGTH]]' (also 'PATH:STRENGTH') -> ConditioningItem.

    A path that exists as written wins over any reading of '@'/':' inside it.
    """
    text = spec.strip()
    if not text:
        raise InvalidRequest("a conditioning item needs a file path (PATH[@FRAME[:STRENGTH]]).")
    if Path(text).exists():
        return ConditioningItem(path=text)
    match = _SPEC_TAIL.match(text)
    parsed = match is not None and (match.group("frame") is not None or match.group("strength") is not None)
    if not parsed or media_kind(match.group("path")) is None:
        # No tail read as FRAME/STRENGTH leaves a media file name: the tail after it is a typo.
        malformed = _malformed_tail(text)
        if malformed is not None:
            raise InvalidRequest(
                f"'{text}' is not a conditioning spec {SPEC_SYNTAX}: after '{malformed[0]}', "
                f"'{malformed[1]}' should be @FRAME (a whole number) and/or :STRENGTH (a number from 0 to 1), "
                "e.g. first.png@0:0.8."
            )
    if not parsed:
        return ConditioningItem(path=text)
    frame = int(match.group("frame")) if match.group("frame") is not None else 0
    strength = float(match.group("strength")) if match.group("strength") is not None else 1.0
    return ConditioningItem(path=match.group("path"), frame=frame, strength=strength)


def _run_with_progress(
    request: GenerationRequest,
    quiet: bool,
    events_for: Callable[[GenerationRequest], Iterator[Event]] = generate,
    on_event: Callable[[Event], None] | None = None,
):
    progress = None if quiet else ProgressLine(sys.stderr)
    result = None
    events = events_for(request)
    try:
        for event in events:
            if progress is not None:
                progress.on_event(event)
            if on_event is not None:
                on_event(event)
            if isinstance(event, Finished):
                result = event.result
    finally:
        # Ctrl-C or an error: free the models now and leave the terminal on a fresh line.
        events.close()
        if progress is not None:
            progress.end_line()
    return result


def _seeds(args: argparse.Namespace) -> list[int]:
    if getattr(args, "request_json", None) is not None:
        return list(args.request_json.seeds)
    return list(args.seeds) if args.seeds else [args.seed]


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model id (e.g. ltxv-2b-0.9.8-distilled, tiny) or path")
    parser.add_argument("--prompt", required=True, help="what the video shows")
    parser.add_argument(
        "--negative-prompt",
        default=DEFAULT_NEGATIVE_PROMPT,
        help="what to avoid (used only when the config's guidance scale is > 1)",
    )
    parser.add_argument("--width", type=positive_int, default=None, help="pixels, multiple of 32")
    parser.add_argument("--height", type=positive_int, default=None, help="pixels, multiple of 32")
    parser.add_argument("--fps", type=fps_argument, default=None, help="frames per second")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="several seeds: one video per seed, written as OUT_seed{N}.mp4",
    )
    parser.add_argument(
        "--steps-config", default=None, help="pipeline YAML path or name under configs/ (default: the model's own)"
    )
    parser.add_argument(
        "--residency",
        default="auto",
        choices=("auto", "resident", "stream_components", "stream_blocks"),
        help="how weights stay in memory (auto picks from the memory estimate)",
    )
    parser.add_argument(
        "--quantize",
        type=int,
        choices=(4, 8),
        default=None,
        help="quantise the linear layers of the transformer and the T5 text encoder to 8 or 4 bits",
    )
    parser.add_argument("--job-dir", default=None, help="folder for stage checkpoints (resume a failed run)")
    parser.add_argument(
        "--step-cache",
        default="off",
        metavar="{off,faster,fastest,THRESHOLD}",
        help="reuse the transformer's work on denoising steps that change little: faster (no "
        "visible loss in published comparisons), fastest (some loss) or a threshold such as "
        "0.05 (TeaCache's for LTX-Video 0.9.x); default off",
    )
    add_sound_arguments(parser)
    add_lora_arguments(parser, control=parser.prog.endswith("generate"))
    parser.add_argument("--crf", type=crf_argument, default=18, help="x264 quality, lower is better (default 18)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument(
        "--output",
        required=True,
        help="the video to write: .mp4, .m4v, .mov or .mkv. Its settings go to a .json of the "
        "same name beside it, which is replaced only if ltx-mlx wrote it (another file of that "
        "name is refused before anything runs)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    generate_parser = subparsers.add_parser(
        "generate",
        help="generate a video from a prompt (and optional images/clips)",
        description="Generate a video from a text prompt, optionally pinned by images or clips.",
        epilog="Conditioning specs: PATH[@FRAME[:STRENGTH]], e.g. first.png@0 or clip.mp4@16:0.8 "
        "(FRAME = where the media's first frame lands, STRENGTH in 0..1, default 1). "
        "Memory: a request whose estimate does not fit the machine is refused before anything loads; "
        "set LTX_MLX_MEMORY_LIMIT_BYTES to plan within fewer bytes than the machine has.",
    )
    _add_common_arguments(generate_parser)
    generate_parser.add_argument("--frames", type=positive_int, default=None, help="frame count, 8k+1")
    generate_parser.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="PATH[@FRAME[:STRENGTH]]",
        help="an image that pins a frame (repeatable)",
    )
    generate_parser.add_argument(
        "--video",
        action="append",
        default=[],
        metavar="PATH[@FRAME[:STRENGTH]]",
        help="a clip that pins frames from FRAME on (repeatable)",
    )
    generate_parser.add_argument(
        "--parallel",
        default="auto",
        choices=("auto", "tensor", "sequence"),
        help="under mlx.launch: split the transformer's weights (tensor) or the video's tokens (sequence) "
        "over the machines; auto picks by memory and clip length. Ignored in a single process",
    )
    add_driven_arguments(generate_parser)
    generate_parser.set_defaults(handler=handle_generate)

    extend_parser = subparsers.add_parser(
        "extend",
        help="continue a video",
        description="Continue a video: the input's last OVERLAP frames condition the start of a new "
        "clip. By default OUT is the input followed by the continuation (overlapping frames "
        "written once); --continuation-only writes only the new frames.",
    )
    _add_common_arguments(extend_parser)
    extend_parser.add_argument("--input", required=True, help="the MP4 to continue")
    extend_parser.add_argument(
        "--frames",
        type=positive_int,
        default=DEFAULT_EXTEND_FRAMES,
        help=f"frames of the new clip including the overlap, 8k+1 (default {DEFAULT_EXTEND_FRAMES})",
    )
    extend_parser.add_argument(
        "--overlap",
        type=positive_int,
        default=DEFAULT_EXTEND_OVERLAP,
        help=f"input frames reused as conditioning, 8k+1 (default {DEFAULT_EXTEND_OVERLAP})",
    )
    extend_parser.add_argument("--strength", type=float, default=1.0, help="conditioning strength of the overlap")
    extend_parser.add_argument(
        "--continuation-only",
        action="store_true",
        help="write only the new frames (the overlap dropped), not input + continuation",
    )
    extend_parser.set_defaults(handler=handle_extend)


def _base_request(args: argparse.Namespace, **sizes) -> GenerationRequest:
    request = GenerationRequest(
        prompt=args.prompt,
        model=args.model,
        negative_prompt=args.negative_prompt,
        seeds=_seeds(args),
        pipeline_config=args.steps_config,
        residency=args.residency,
        quantize_bits=args.quantize,
        job_dir=args.job_dir,
        step_cache=normalise_step_cache(args.step_cache),
        **{k: v for k, v in sizes.items() if v is not None},
    )
    return request


def build_generate_request(args: argparse.Namespace) -> GenerationRequest:
    driven = driven_request(args)
    if driven is not None:
        return driven
    items = []
    for expected, specs in (("image", args.image), ("video", args.video)):
        for spec in specs:
            item = parse_conditioning_spec(spec)
            if item.kind != expected:
                raise InvalidRequest(
                    f"--{expected} '{item.path}' is not {'an' if expected == 'image' else 'a'} {expected} file (judged by its suffix)."
                )
            items.append(item)
    request = _base_request(args, width=args.width, height=args.height, num_frames=args.frames, fps=args.fps)
    request.conditioning = items
    apply_sound_arguments(request, args)
    apply_lora_arguments(request, args)
    request.validate()
    request.check_media()
    return request


def handle_generate(args: argparse.Namespace) -> int:
    return run_generate(args)


def run_generate(
    args: argparse.Namespace,
    events_for: Callable[[GenerationRequest], Iterator[Event]] = generate,
    writes: bool = True,
) -> int:
    """Generate from the arguments with `events_for`'s events; `writes` False (a helper process of a
    multi-machine run) draws no progress and writes nothing."""
    progress = json_progress(args) if writes else None
    try:
        check_encoder_settings(args.crf, "medium", args.fps)
        if writes:
            check_outputs(Path(args.output), _seeds(args))
        request = build_generate_request(args)
        quiet = args.quiet or not writes or progress is not None
        result = _run_with_progress(request, quiet, events_for, progress.on_event if progress else None)
        paths = write_result(result, Path(args.output), crf=args.crf) if writes else []
    except LtxMlxError as error:
        if progress is not None:
            progress.failed(error)
        raise
    for path in paths:
        print(path)
    if progress is not None:
        progress.finished(paths, result)
    return 0


def build_extend_request(
    args: argparse.Namespace, input_frames: int, input_fps: float, input_size: tuple[int, int]
) -> GenerationRequest:
    overlap = args.overlap
    if (overlap - 1) % 8:
        raise InvalidRequest(f"--overlap must be 8k+1 frames (9, 17, 25, …); got {overlap}.")
    if overlap > input_frames:
        raise InvalidRequest(f"--overlap {overlap} is longer than the input's {input_frames} frames.")
    if args.frames <= overlap:
        raise InvalidRequest(f"--frames ({args.frames}) must be larger than --overlap ({overlap}).")
    input_width, input_height = input_size
    width, height = args.width or input_width, args.height or input_height
    if not args.continuation_only and (width, height) != (input_width, input_height):
        raise InvalidRequest(
            f"the input is {input_width}x{input_height} but the continuation would be {width}x{height}; "
            "a stitched video needs one size: drop --width/--height or add --continuation-only."
        )
    if (width, height) == (input_width, input_height) and (width % 32 or height % 32):
        raise InvalidRequest(
            f"the input is {input_width}x{input_height}, not a multiple of 32 pixels per side, so it "
            "cannot be continued at its own size; pass --width/--height (multiples of 32) with "
            "--continuation-only."
        )
    request = _base_request(
        args,
        width=width,
        height=height,
        num_frames=args.frames,
        fps=args.fps or input_fps,
    )
    request.conditioning = [
        ConditioningItem(
            path=str(args.input),
            frame=0,
            strength=args.strength,
            source_start=input_frames - overlap,
            source_count=overlap,
        )
    ]
    apply_sound_arguments(request, args)
    apply_lora_arguments(request, args)
    request.validate()
    return request


def stitch_extension(input_frames, continuation, overlap: int):
    """Input followed by the continuation, the overlapping frames written once."""
    return np.concatenate([input_frames, continuation[overlap:]], axis=0)


def handle_extend(args: argparse.Namespace) -> int:
    check_encoder_settings(args.crf, "medium", args.fps)
    check_outputs(Path(args.output), _seeds(args))
    input_path = Path(args.input)
    if not input_path.is_file():
        raise InvalidRequest(f"input video '{input_path}' does not exist.")
    info = probe_video(input_path)
    request = build_extend_request(args, info.frames, info.fps, (info.width, info.height))
    result = _run_with_progress(request, args.quiet)
    extension_sound(input_path, info.frames, result, args.overlap, args.continuation_only)
    if not args.continuation_only:
        input_frames, _ = read_video(input_path)
        result.videos = [stitch_extension(input_frames, video, args.overlap) for video in result.videos]
    else:
        result.videos = [video[args.overlap :] for video in result.videos]
    for path in write_result(result, Path(args.output), crf=args.crf):
        print(path)
    return 0
