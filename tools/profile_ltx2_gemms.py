"""How much of an LTX-2.3 22B step is matrix multiplication, on our side and the reference's.

    python tools/profile_ltx2_gemms.py --json out.json                 # GPU: 768x512x121 with audio
    python tools/profile_ltx2_gemms.py --layers 1 --frames 9 --tiny-check   # CPU smoke (no torch)

The step's time has a floor: the linear layers' matrix products, which both sides hand to the
vendor's GEMM kernels. This records every linear layer's (tokens, in, out) during one of our
forwards, then times exactly those products alone, in MLX and in PyTorch (F.linear, bf16), and
profiles one reference step with torch.profiler, grouping CUDA kernel time into GEMM, attention and
the rest. If the GEMMs alone take most of the reference's step, a step much faster than the
reference's is out of reach without faster GEMM kernels.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_mlx_core.gpu_commands  # noqa: E402,F401  (before MLX starts: sets its ops per command buffer)

# isort: split
import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402

from ltx_mlx_core.bench.timing import time_mlx  # noqa: E402
from ltx_mlx_core.bench.workloads_ltx2 import (  # noqa: E402
    AVShape,
    benchmark_config,
    ltx2_step_inputs,
    ltx2_step_workload,
    random_ltx2_transformer,
)

GEMM_MARKERS = ("gemm", "cutlass", "xmma", "nvjet", "cublas")
ATTENTION_MARKERS = ("flash", "fmha", "attention", "sdpa")


def record_linear_shapes(step) -> Counter:
    """(tokens, in, out) -> count for every linear layer one forward calls (shapes only: nothing runs)."""
    shapes: Counter = Counter()
    original = nn.Linear.__call__

    def recording(self, x):
        tokens = 1
        for size in x.shape[:-1]:
            tokens *= size
        out_features, in_features = self.weight.shape
        shapes[(tokens, in_features, out_features)] += 1
        return original(self, x)

    nn.Linear.__call__ = recording
    try:
        step()
    finally:
        nn.Linear.__call__ = original
    return shapes


def mlx_gemms(shapes: Counter, dtype: mx.Dtype):
    operands = []
    for (tokens, inner, outer), count in shapes.items():
        x = mx.random.normal((tokens, inner)).astype(dtype)
        w = mx.random.normal((outer, inner)).astype(dtype)
        operands.append((x, w, count))
    mx.eval([(x, w) for x, w, _ in operands])

    def run():
        results = []
        for x, w, count in operands:
            for _ in range(count):
                results.append(mx.sum(x @ w.T, axis=0))  # a small result: memory stays flat
        return results

    return run


def torch_side(shapes: Counter, config, shape: AVShape, repeats: int) -> dict:
    import torch  # noqa: PLC0415  (the reference side alone)
    import torch.nn.functional as F  # noqa: PLC0415

    from tests.perf import ltx2_reference_workloads as ref  # noqa: PLC0415

    device = ref.torch_device()
    dtype = torch.bfloat16
    operands = [
        (torch.randn(t, i, device=device, dtype=dtype), torch.randn(o, i, device=device, dtype=dtype), n)
        for (t, i, o), n in shapes.items()
    ]

    def gemms():
        for x, w, count in operands:
            for _ in range(count):
                F.linear(x, w).sum(0)

    report = {"reference_gemms": ref.time_torch(gemms, device, repeats, 1)}
    operands.clear()
    model = ref.reference_transformer(config, device, dtype)
    ours_model = random_ltx2_transformer(dataclasses.replace(config, num_layers=1), mx.bfloat16)
    video, audio = ltx2_step_inputs(ours_model, shape, per_token_timesteps=False)
    step = ref.reference_step(model, video, audio, dtype)
    report["reference_step"] = ref.time_torch(step, device, repeats, 1)
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    groups: Counter = Counter()
    for event in prof.key_averages():
        name = event.key.lower()
        micros = getattr(event, "device_time_total", None) or getattr(event, "cuda_time_total", 0)
        kind = (
            "gemm"
            if any(m in name for m in GEMM_MARKERS)
            else "attention"
            if any(m in name for m in ATTENTION_MARKERS)
            else "other"
        )
        groups[kind] += micros / 1e6
    report["reference_kernel_seconds"] = dict(groups)
    top = sorted(prof.key_averages(), key=lambda e: -(getattr(e, "device_time_total", 0) or 0))[:15]
    report["reference_top_kernels"] = [
        {"name": e.key[:120], "seconds": (getattr(e, "device_time_total", 0) or 0) / 1e6, "calls": e.count} for e in top
    ]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--tiny-check", action="store_true", help="CPU smoke: our side only, float32")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    config = benchmark_config(args.layers, toy_widths=args.tiny_check)
    shape = AVShape(768, 512, args.frames)
    dtype = mx.float32 if args.tiny_check else mx.bfloat16
    model = random_ltx2_transformer(config, dtype)
    step = ltx2_step_workload(model, shape)
    shapes = record_linear_shapes(step)
    flops = sum(2 * t * i * o * n for (t, i, o), n in shapes.items())
    report = {
        "device": str(mx.default_device()),
        "layers": config.num_layers,
        "linear_layers": sum(shapes.values()),
        "linear_flops": flops,
        "ours_step": time_mlx(step, args.repeats, 1).to_dict(),
    }
    del model, step
    mx.clear_cache()
    report["ours_gemms"] = time_mlx(mlx_gemms(shapes, dtype), args.repeats, 1).to_dict()
    if not args.tiny_check:
        report.update(torch_side(shapes, config, shape, args.repeats))
    for key, value in report.items():
        print(f"{key}: {value}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
