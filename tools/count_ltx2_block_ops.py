"""How many kernels one LTX-2.3 22B transformer block launches on a GPU, by primitive.

    python tools/count_ltx2_block_ops.py                       # stage 1 of a 768x512x121 clip
    python tools/count_ltx2_block_ops.py --width 768 --height 512 --json ops.json

At the half-size first stage (1,536 video tokens) a step is launch-bound on the H200: its matrix
products take about a quarter of its time (docs/PERFORMANCE.md), so the kernel count is what its
time follows. The step is built twice, with one and with two blocks (random bf16 weights of the
release's widths, one noise level per token as the denoise loop passes), in the GPU backend's
form (fused elementwise functions compiled; bench/graph_ops.py), and a block is the difference.

On the CPU, MLX's fast operations are built from their fallbacks: each RMS norm is eight
operations (casts, square, sum, add, rsqrt, two products) or nine with a learned scale (the
attentions' query and key norms), and each attention four (scale, two matrix products, softmax).
The GPU runs each as one kernel, so the estimate for the GPU counts them once: a block has 20 RMS
norms (12 with a scale) and 6 attentions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mlx.core as mx  # noqa: E402

from ltx_mlx_core.bench.graph_ops import GraphOps, count_graph_ops  # noqa: E402
from ltx_mlx_core.bench.workloads_ltx2 import (  # noqa: E402
    AVShape,
    benchmark_config,
    ltx2_step_inputs,
    random_ltx2_transformer,
)
from ltx_mlx_core.models.common.fusion import fused_on_every_device  # noqa: E402

NORM_FALLBACK = {"Square": 1, "Sum": 1, "Add": 1, "Rsqrt": 1, "Multiply": 2, "AsType": 2}
ATTENTION_FALLBACK = {"Multiply": 1, "Matmul": 2, "Softmax": 1}
NORMS_PER_BLOCK, SCALED_NORMS_PER_BLOCK, ATTENTIONS_PER_BLOCK = 20, 12, 6


def step_ops(layers: int, shape: AVShape) -> GraphOps:
    model = random_ltx2_transformer(benchmark_config(layers), mx.bfloat16)
    mx.eval(model.parameters())
    video, audio = ltx2_step_inputs(model, shape, per_token_timesteps=True)
    with fused_on_every_device():
        outputs = model(video, audio, None, None)
        return count_graph_ops(*[output for output in outputs if output is not None])


def gpu_estimate(block: GraphOps) -> int:
    fallback = sum(count * NORMS_PER_BLOCK for count in NORM_FALLBACK.values()) + SCALED_NORMS_PER_BLOCK
    fallback += sum(count * ATTENTIONS_PER_BLOCK for count in ATTENTION_FALLBACK.values())
    return block.kernels - fallback + NORMS_PER_BLOCK + ATTENTIONS_PER_BLOCK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=384, help="pixels of the stage (default: stage 1 of 768)")
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    shape = AVShape(args.width, args.height, args.frames)
    one, two = step_ops(1, shape), step_ops(2, shape)
    block = GraphOps(two.by_primitive - one.by_primitive)
    report = {
        "shape": f"{args.width}x{args.height}x{args.frames}",
        "video_tokens": shape.video_tokens,
        "block_kernels_cpu_graph": block.kernels,
        "block_kernels_gpu_estimate": gpu_estimate(block),
        "block": block.to_dict(),
        "outside_blocks_kernels_cpu_graph": one.kernels - block.kernels,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "block"}, indent=2))
    print("per block:", dict(block.by_primitive.most_common()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
