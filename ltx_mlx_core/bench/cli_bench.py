"""`ltx-mlx bench`: time whole generations on this machine, stage by stage.

    ltx-mlx bench --model ltxv-2b-0.9.8-distilled                 # installed, or random weights of its shape
    ltx-mlx bench --model tiny --width 64 --height 64 --frames 9 --json report.json

A catalog model that is not installed is timed with random weights of its exact shapes
(the output is noise; the work is the same). Results: a table on stdout, JSON with --json.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ltx_mlx_core.errors import ModelNotInstalled
from ltx_mlx_core.pipeline.request import RESIDENCY_MODES, GenerationRequest
from ltx_mlx_core.pipeline.step_cache import normalise_step_cache
from ltx_mlx_core.validation import fps_argument, positive_int, whole_number_argument
from ltx_mlx_core.video.atomic import write_json
from ltx_mlx_core.video.outputs import check_output_path
from ltx_mlx_core.weights.registry import resolve_model

log = logging.getLogger(__name__)
PRECISIONS = ("bfloat16", "float16", "float32")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="time a generation stage by stage (text encode, passes, decode)")
    parser.add_argument("--model", default="ltxv-2b-0.9.8-distilled", help="model id or folder")
    parser.add_argument(
        "--random-weights", action="store_true", help="use random weights of the model's shapes even if it is installed"
    )
    parser.add_argument("--width", type=positive_int, default=768)
    parser.add_argument("--height", type=positive_int, default=512)
    parser.add_argument("--frames", type=positive_int, default=97)
    parser.add_argument("--fps", type=fps_argument, default=30.0)
    parser.add_argument("--precision", choices=PRECISIONS, help="compute dtype (default: the model's config)")
    parser.add_argument("--quantize", type=int, choices=(4, 8), help="quantise transformer and T5 linear layers")
    parser.add_argument("--residency", default="auto", choices=RESIDENCY_MODES)
    parser.add_argument("--steps-config", help="pipeline YAML to use instead of the model's")
    parser.add_argument(
        "--step-cache",
        default="off",
        metavar="{off,faster,fastest,THRESHOLD}",
        help="skip transformer work on steps that change little (as ltx-mlx generate)",
    )
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed runs (median reported)")
    parser.add_argument(
        "--warmup", type=whole_number_argument(0), default=1, help="untimed runs first (kernel compilation, caches)"
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.set_defaults(handler=run)


def _components(model: str, random_weights: bool):
    """(components, weights label): installed files, else random weights of a known model's shapes."""
    # Imported on use, here and in `run`: `ltx-mlx` imports every subcommand module to build its
    # parser, and the engine (MLX, the models, the pipeline) would add ~0.5 s to every command
    # (build_parser measured 0.43 s lazy, 0.97 s with these at the top).
    from ltx_mlx_core.bench.random_model import MODEL_SHAPES, RandomComponents
    from ltx_mlx_core.bench.random_model_ltx2 import LTX2_RANDOM_MODELS, RandomLTX2Components
    from ltx_mlx_core.weights.components import FileComponents

    def random_components():
        family = RandomLTX2Components if model in LTX2_RANDOM_MODELS else RandomComponents
        return family.for_model(model)

    if random_weights:
        return random_components(), "random weights (exact shapes)"
    try:
        return FileComponents(resolve_model(model)), "installed"
    except ModelNotInstalled:
        if model not in MODEL_SHAPES and model not in LTX2_RANDOM_MODELS:
            raise
        print(
            f"ltx-mlx bench: '{model}' is not installed; timing random weights of its exact shapes "
            "(the output is noise, the work is the same)",
            file=sys.stderr,
        )
        return random_components(), "random weights (exact shapes)"


def run(args: argparse.Namespace) -> int:
    from ltx_mlx_core.bench.generation import bench_generation, format_report  # on use: see _components

    if args.json:
        check_output_path(args.json)  # before the runs, not after them
    request = GenerationRequest(
        prompt="a red boat moves slowly on a calm blue sea at sunset, camera pans",
        model=args.model,
        width=args.width,
        height=args.height,
        num_frames=args.frames,
        fps=args.fps,
        pipeline_config=args.steps_config,
        residency=args.residency,
        quantize_bits=args.quantize,
        config_overrides={"precision": args.precision} if args.precision else {},
        step_cache=normalise_step_cache(args.step_cache),
    )
    request.validate()
    components, weights = _components(args.model, args.random_weights)
    print(f"ltx-mlx bench: {args.warmup} warm-up and {args.repeats} timed generation(s)…", file=sys.stderr)
    report = bench_generation(components, request, repeats=args.repeats, warmup=args.warmup, weights=weights)
    print(format_report(report))
    if args.json:
        write_json(args.json, report.to_dict())
    return 0
