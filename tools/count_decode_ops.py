"""How many operations (GPU kernel launches, on the CUDA backend) one LTX-2.3 video decode builds.

    python tools/count_decode_ops.py --base-channels 32       # 17x64x96 pixels, float32, a quick CPU run
    python tools/count_decode_ops.py --frames 25 --height 128 --width 192 --repeats 0 --json ops.json

The decode runs as the pipeline runs it (pipeline/decode_stream.py: latent preparation, then the
decoder evaluated block by block). Before each evaluation the unevaluated graph is written out with
`mx.export_to_dot` and its operations counted by primitive (bench/graph_ops.py), so the count is
exactly what MLX will run: every operation but a view is one kernel (or one cuDNN call) on the CUDA
backend. Random weights of the release's shapes (`--base-channels` shrinks them); the wall time is
the median of evaluated decodes.

On the CPU the graph is also counted as the GPU backend builds it (bench/graph_ops.py): fused
elementwise functions in their compiled form, the pixel-norm kernel as one stand-in node. Those
steps are still evaluated one by one, so each count starts where the last ended; their numbers are
meaningless, their shapes and graphs are the GPU's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_mlx_core.gpu_commands  # noqa: E402,F401  (before MLX starts: sets its ops per command buffer)

# isort: split
import mlx.core as mx  # noqa: E402

from ltx_mlx_core.bench.graph_ops import GraphOps, count_graph_ops, graphs_as_on_gpu, launches_kernel  # noqa: E402
from ltx_mlx_core.bench.workloads import randomize_parameters  # noqa: E402
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder  # noqa: E402
from ltx_mlx_core.models.ltx2.video_vae_config import LTX23_VIDEO_VAE_CONFIG, VideoVAEConfig  # noqa: E402
from ltx_mlx_core.pipeline.decode import decode_tile, prepare_latents_for_decode  # noqa: E402
from ltx_mlx_core.pipeline.latents import latent_grid  # noqa: E402


def build_vae(base_channels: int, dtype: mx.Dtype) -> VideoAutoencoder:
    config = dict(LTX23_VIDEO_VAE_CONFIG, decoder_base_channels=base_channels)
    vae = VideoAutoencoder(VideoVAEConfig.from_dict(config))
    randomize_parameters(vae, dtype)
    return vae


def decode_counting(vae: VideoAutoencoder, latents: mx.array) -> list[tuple[str, GraphOps]]:
    """One decode, evaluated step by step as the pipeline does; the operations of each step."""
    steps = []
    raw, timestep = prepare_latents_for_decode(vae, latents, None, None, None)
    steps.append(("prepare latents", count_graph_ops(raw)))
    mx.eval(raw)
    for index, activation in enumerate(vae.iter_decode(raw, timestep=timestep)):
        steps.append((f"decoder step {index} {tuple(activation.shape)}", count_graph_ops(activation)))
        mx.eval(activation)
    return steps


def decode_seconds(vae: VideoAutoencoder, latents: mx.array, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        start = time.perf_counter()
        raw, timestep = prepare_latents_for_decode(vae, latents, None, None, None)
        mx.eval(raw)
        mx.eval(decode_tile(vae, raw, timestep, None))  # the pipeline's block-by-block evaluation
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def _report(title: str, steps: list[tuple[str, GraphOps]], per_step: bool) -> dict:
    total = sum((ops for _, ops in steps), GraphOps())
    print(f"{title}: {total.total} operations, {total.kernels} of them kernels")
    if per_step:
        for name, ops in steps:
            print(f"  {name}: {ops.kernels} kernels  {dict(ops.by_primitive.most_common())}")
    for name, count in total.by_primitive.most_common():
        print(f"  {count:5d}  {name}{'' if launches_kernel(name) else '  (view)'}")
    return {
        "operations": total.total,
        "kernels": total.kernels,
        "by_primitive": dict(total.by_primitive.most_common()),
        "kernels_by_step": [[name, ops.kernels] for name, ops in steps],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=96)
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="float32")
    parser.add_argument("--base-channels", type=int, default=128, help="decoder_base_channels (128: the release)")
    parser.add_argument("--repeats", type=int, default=3, help="timed decodes on this device (0: count only)")
    parser.add_argument("--per-step", action="store_true", help="print every step's operations")
    parser.add_argument("--json", type=Path, help="write the counts and time here")
    args = parser.parse_args()

    dtype = getattr(mx, args.dtype)
    vae = build_vae(args.base_channels, dtype)
    grid = latent_grid(args.frames, args.height, args.width)
    latents = mx.random.normal((1, *grid, vae.config.latent_channels), key=mx.random.key(1)).astype(dtype)
    mx.eval(latents, vae.parameters())
    print(f"{args.width}x{args.height}x{args.frames} ({args.dtype}, latents {grid}, {mx.default_device()})")
    result: dict = {"shape": [args.frames, args.height, args.width], "dtype": args.dtype}
    on_gpu = mx.default_device().type == mx.gpu
    result["this_device"] = _report(f"graph on {mx.default_device()}", decode_counting(vae, latents), args.per_step)
    if args.repeats:
        result["seconds"] = decode_seconds(vae, latents, args.repeats)
        print(f"decode wall time: {result['seconds']:.4f} s (median of {args.repeats})")
    if not on_gpu:
        with graphs_as_on_gpu():
            steps = decode_counting(vae, latents)
        result["as_on_gpu"] = _report("graph as the GPU builds it", steps, args.per_step)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
