"""`--lora PATH[:STRENGTH]` (repeatable) and `--control PATH[:STRENGTH]` for the LTX-2 family.

LoRA files are fused into the transformer; with `--control`, the given LoRAs are the IC-LoRA(s) the
control clip (depth, pose, edges, ...) was made for. Unreadable or foreign files are refused (exit 2)
naming the file and the first tensor that does not fit.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.request import GenerationRequest, LoraRef

_STRENGTH_TAIL = re.compile(r"^(?P<path>.+?):(?P<strength>-?(?:\d+\.?\d*|\.\d+))$")


def parse_strength_spec(spec: str, option: str) -> tuple[str, float]:
    """'PATH' or 'PATH:STRENGTH' -> (path, strength); a path that exists as written wins."""
    text = spec.strip()
    if not text:
        raise InvalidRequest(f"{option} needs a file path (PATH[:STRENGTH]).")
    if Path(text).exists():
        return text, 1.0
    match = _STRENGTH_TAIL.match(text)
    if match is None:
        return text, 1.0
    return match.group("path"), float(match.group("strength"))


def add_lora_arguments(parser: argparse.ArgumentParser, control: bool = False) -> None:
    parser.add_argument(
        "--lora",
        action="append",
        default=[],
        metavar="PATH[:STRENGTH]",
        help="a LoRA file (.safetensors, official or ComfyUI naming) fused at STRENGTH (default 1); repeatable. "
        "LTX-2 models only",
    )
    if control:
        parser.add_argument(
            "--keyframes",
            action="store_true",
            help="every --image guides as a keyframe, one at frame 0 too (keyframe interpolation); without it an "
            "image at frame 0 is the clip's first frame. LTX-2 models only",
        )
        parser.add_argument(
            "--control",
            default=None,
            metavar="PATH[:STRENGTH]",
            help="a control clip (depth, pose, edges, ...) the video follows, with the IC-LoRA made for it given "
            "by --lora; STRENGTH in 0..1 (default 1)",
        )


def apply_lora_arguments(request: GenerationRequest, args: argparse.Namespace) -> None:
    request.loras = [LoraRef(*parse_strength_spec(spec, "--lora")) for spec in getattr(args, "lora", [])]
    request.keyframes = bool(getattr(args, "keyframes", False))
    control = getattr(args, "control", None)
    if control:
        request.control_path, request.control_strength = parse_strength_spec(control, "--control")
