"""`ltx-mlx stitch PROJECT --output OUT.mp4`: export a timeline project as one video with its sound.

H.264 + AAC by default; `--codec prores` writes ProRes 422 + ALAC into a .mov for further editing.
The clips' sound is mixed as the app mixes it (gain, mute, crossfades; see video/mix.py).
"""

from __future__ import annotations

import argparse
import sys

from ltx_mlx_core.validation import crf_argument, fps_argument
from ltx_mlx_core.video.io import X264_PRESETS, check_encoder_settings
from ltx_mlx_core.video.outputs import VIDEO_CODECS, check_codec, check_video_output
from ltx_mlx_core.video.project_file import read_project, segments_from_project
from ltx_mlx_core.video.stitch import stitch


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stitch", help="export a timeline project (.ltxproj) to one MP4 with its sound")
    parser.add_argument("project", help="project folder (Name.ltxproj) or its project.json")
    parser.add_argument("--output", "-o", required=True, help="the video to write (.mp4, .m4v, .mov or .mkv)")
    parser.add_argument("--crf", type=crf_argument, default=18, help="x264 quality: 0 lossless … 51 worst (default 18)")
    parser.add_argument("--preset", default="slow", choices=X264_PRESETS, help="x264 speed/size trade-off")
    parser.add_argument("--fps", type=fps_argument, help="override the project's frame rate")
    parser.add_argument(
        "--codec",
        default="h264",
        choices=list(VIDEO_CODECS),
        help="h264 (with AAC sound; default) or prores (ProRes 422 with ALAC sound, .mov only)",
    )
    parser.add_argument(
        "--no-audio",
        action="store_true",
        help="leave the sound out (by default a film has a sound track when any of its clips has sound)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_encoder_settings(args.crf, args.preset, args.fps)
    check_video_output(args.output)
    check_codec(args.output, args.codec)
    data, folder = read_project(args.project)
    fps = args.fps or float(data.get("fps", 30.0))

    def progress(done: int, total: int) -> bool:
        sys.stderr.write(f"\rstitching {done}/{total} frames")
        sys.stderr.flush()
        return True

    try:
        out = stitch(
            segments_from_project(data, folder),
            args.output,
            fps,
            crf=args.crf,
            preset=args.preset,
            progress=progress,
            audio=False if args.no_audio else None,
            codec=args.codec,
        )
    finally:
        sys.stderr.write("\n")  # an error message starts on a line of its own
    print(out)
    return 0
