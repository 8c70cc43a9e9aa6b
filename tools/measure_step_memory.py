"""Where a transformer step's memory goes: weights, the step with one block, the whole step's peak.

    python tools/measure_step_memory.py --model ltxv-2b --every 0,1,1:1,2 --json out.json
    python tools/measure_step_memory.py --model ltx-2.3-22b --every 0,1        # 768x512x121 with audio
    python tools/measure_step_memory.py --model ltxv-2b --layers 4 --width 256 --height 256 --frames 33
    python tools/measure_step_memory.py --model ltxv-2b --every 1 --ff-chunks 1,2,4   # feed-forward chunks

Random weights of the model's exact shapes (`--layers` keeps fewer blocks, e.g. on a CPU). For each
block-evaluation granularity (`--every`: K, K:F or K:F:P, every K blocks with F chunks in flight
and P evaluation points per block, pipeline/block_eval.py; 0 is one evaluation per step), the
step's median time and peak memory; "activations" is the peak minus what was allocated before the
step (the weights and the inputs). "one block" is the same for the step run with its first block
alone (bench/step_memory.py): what the step would hold if no block's intermediates outlived it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_mlx_core.gpu_commands  # noqa: E402  (before MLX starts: sets its ops per command buffer)

# isort: split
import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

from ltx_mlx_core.bench.step_memory import STEP_MODELS, one_block_step, peak_above_resident, random_step_model  # noqa: E402
from ltx_mlx_core.bench.timing import time_mlx  # noqa: E402
from ltx_mlx_core.bench.workloads import VideoShape, transformer_step_inputs  # noqa: E402
from ltx_mlx_core.bench.workloads_ltx2 import AVShape, ltx2_step_inputs  # noqa: E402
from ltx_mlx_core.models.common.token_chunks import DEFAULT_FEED_FORWARD_CHUNKS  # noqa: E402
from ltx_mlx_core.pipeline.block_eval import DEFAULT_IN_FLIGHT, DEFAULT_POINTS_PER_BLOCK, block_evaluator  # noqa: E402
from ltx_mlx_core.pipeline.ltx2.denoise import LTX2_IN_FLIGHT  # noqa: E402

GIB = 1 << 30


def measure(args) -> dict[str, Any]:
    dtype = mx.bfloat16 if mx.default_device().type == mx.gpu else mx.float32
    family, model = random_step_model(args.model, args.layers, dtype)
    weights = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
    if family == "ltxv":
        shape = VideoShape(args.width or 768, args.height or 512, args.frames or 97)
        inputs = transformer_step_inputs(model, shape)
        tokens = {"video": shape.tokens}

        def step(every: int, in_flight: int, points: int):
            after_block = block_evaluator(every, in_flight, points=points)
            return lambda: model(*inputs, after_block=after_block)
    else:
        shape = AVShape(args.width or 768, args.height or 512, args.frames or 121)
        inputs = ltx2_step_inputs(model, shape, per_token_timesteps=not args.uniform_timesteps)
        tokens = {"video": shape.video_tokens, "audio": shape.audio_tokens if model.config.has_audio else 0}

        def step(every: int, in_flight: int, points: int):
            after_block = block_evaluator(every, in_flight, points=points)
            return lambda: model(*inputs, None, after_block)

    report: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "mlx_device": str(mx.default_device()),
        "mlx_version": mx.__version__,
        "mlx_max_ops_per_buffer": os.environ.get(ltx_mlx_core.gpu_commands.OPS_PER_BUFFER_ENV),
        "model": args.model,
        "layers": len(model.transformer_blocks),
        "video": f"{shape.width}x{shape.height}x{shape.frames}",
        "tokens": tokens,
        "dtype": str(dtype),
        "weights_bytes": weights,
        "one_block_bytes": peak_above_resident(one_block_step(model, inputs)),
        "runs": [],
    }
    report["uniform_timesteps"] = bool(args.uniform_timesteps)
    for setting, ff_chunks in itertools.product(args.every, args.ff_chunks):
        every, in_flight, points = (setting.split(":") + ["", ""])[:3]
        every, in_flight = int(every), int(in_flight or (DEFAULT_IN_FLIGHT if family == "ltxv" else LTX2_IN_FLIGHT))
        points = int(points or DEFAULT_POINTS_PER_BLOCK)
        model.feed_forward_chunks = ff_chunks
        fn = step(every, in_flight, points)
        mx.synchronize()
        mx.clear_cache()
        resident = mx.get_active_memory()
        if args.activation_limit_mib is not None:
            mx.set_memory_limit(resident + args.activation_limit_mib * (1 << 20))
        timing = time_mlx(fn, args.repeats, args.warmup)
        row = {"eval_every_blocks": every, "in_flight": in_flight, "points_per_block": points, "ff_chunks": ff_chunks}
        row.update(timing.to_dict())
        row["activation_limit_mib"] = args.activation_limit_mib
        row["resident_bytes"] = int(resident)
        row["activation_bytes"] = int(timing.peak_memory_bytes - resident)
        report["runs"].append(row)
        print(
            f"{args.model} {report['video']} every={every} in_flight={in_flight} points={points} ff_chunks={ff_chunks}: "
            f"{timing.median:.4f} s median, peak {timing.peak_memory_bytes / GIB:.2f} GiB, "
            f"activations {row['activation_bytes'] / GIB:.3f} GiB "
            f"(weights {weights / GIB:.2f} GiB, one block {report['one_block_bytes'] / GIB:.3f} GiB)",
            flush=True,
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(STEP_MODELS), default="ltxv-2b")
    parser.add_argument("--layers", type=int, default=None, help="keep this many blocks (default: all)")
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument(
        "--every",
        type=lambda s: s.split(","),
        default=["0", "1"],
        help="K, K:F or K:F:P (every K blocks, F chunks in flight, P points per block), comma-separated",
    )
    parser.add_argument(
        "--uniform-timesteps", action="store_true", help="LTX-2: one noise level per entry, not per token"
    )
    parser.add_argument(
        "--ff-chunks",
        type=lambda s: [int(c) for c in s.split(",")],
        default=[DEFAULT_FEED_FORWARD_CHUNKS],
        help="feed-forward token chunks, comma-separated: each is run with each --every",
    )
    parser.add_argument(
        "--activation-limit-mib",
        type=int,
        default=None,
        help="set MLX's memory limit this far above the resident memory: over it, MLX waits for queued "
        "work after each operation instead of running further ahead (an experiment, off by default)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", type=Path, help="append the report to a JSON list here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = measure(args)
    if args.json:
        existing = json.loads(args.json.read_text()) if args.json.exists() else []
        existing.append(report)
        args.json.write_text(json.dumps(existing, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
