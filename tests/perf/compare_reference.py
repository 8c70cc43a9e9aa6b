"""Side-by-side benchmark: our MLX engine against the official PyTorch reference, one run, one device.

    python tests/perf/compare_reference.py --shape 13b --width 768 --height 512 --frames 97
    python tests/perf/compare_reference.py --shape tiny --repeats 3      # CPU smoke (CI)

Stages: the transformer denoising step (one forward: the distilled config's guidance of 1),
the VAE decode (0.9.8 decode timestep and noise), and the whole multi-scale distilled
generation (text to video: T5, first pass, upsample, second pass, decode, final resize;
ours through `Pipeline.generate`, the reference through `LTXMultiScalePipeline` as its CLI
calls it). Both sides use random weights of the same shapes in bf16 (CPU: float32 for the
reference, which lacks fast bf16 kernels there). Each stage: warm-up, then >= 5 timed
repeats; medians, ours/reference ratio, peak memory. The reference runs first and is freed
before ours loads, so the peaks do not overlap. Whole generations: the reference holds every
model on the device between calls, ours loads each component when its stage needs it
(streamed residency), so ours is reported with and without its load time.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ltx_mlx_core.gpu_commands  # noqa: E402  (before MLX starts: sets its ops per command buffer)

# isort: split
import mlx.core as mx  # noqa: E402
import reference_workloads as ref  # noqa: E402
import torch  # noqa: E402

from ltx_mlx_core.bench.flops import TransformerShape, peak_flops_for, transformer_step_flops  # noqa: E402
from ltx_mlx_core.bench.generation import bench_generation  # noqa: E402
from ltx_mlx_core.bench.random_model import RandomComponents, RandomModelSpec  # noqa: E402
from ltx_mlx_core.bench.timing import time_mlx  # noqa: E402
from ltx_mlx_core.bench.workloads import (  # noqa: E402
    TEXT_TOKENS,
    VideoShape,
    random_transformer,
    random_vae,
    simple_indices_grid,
    transformer_step_workload,
    vae_decode_workload,
)
from ltx_mlx_core.models.ltxv.transformer_config import PRESETS, TransformerConfig  # noqa: E402
from ltx_mlx_core.models.ltxv.vae.config import LTXV_098_VAE_CONFIG, VAEConfig  # noqa: E402
from ltx_mlx_core.paths import configs_dir  # noqa: E402
from ltx_mlx_core.pipeline.request import GenerationRequest  # noqa: E402
from ltx_mlx_core.pipeline.tiling import TilingConfig  # noqa: E402
from ltx_mlx_core.weights.tiny import ModelShapes  # noqa: E402
from ltx_mlx_core.weights.tiny_tokenizer import write_tiny_t5_tokenizer  # noqa: E402

TINY_TRANSFORMER = TransformerConfig(
    num_attention_heads=4, attention_head_dim=32, num_layers=4, cross_attention_dim=128, caption_channels=64
)
TINY_VAE = dict(LTXV_098_VAE_CONFIG, encoder_base_channels=16, decoder_base_channels=16)
SHAPES = {"2b": PRESETS["ltxv-2b-0.9.8"], "13b": PRESETS["ltxv-13b-0.9.8"], "tiny": TINY_TRANSFORMER}


def _tiny_generation_model():
    return RandomComponents("tiny-random", RandomModelSpec(ModelShapes(), "tiny.yaml"))


def _catalog_generation_model(model_id: str):
    return lambda: RandomComponents.for_model(model_id)


# The whole-generation workload per shape: random weights of these models' exact shapes.
GENERATION_MODELS = {
    "2b": _catalog_generation_model("ltxv-2b-0.9.8-distilled"),
    "13b": _catalog_generation_model("ltxv-13b-0.9.8-distilled"),
    "tiny": _tiny_generation_model,
}


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()})"


def compare_transformer(config: TransformerConfig, shape: VideoShape, args, torch_dtype, mlx_dtype) -> dict[str, Any]:
    device = ref.torch_device()
    model = ref.reference_transformer(config.to_dict(), device, torch_dtype)
    grid = torch.from_numpy(__import__("numpy").array(simple_indices_grid(shape)))
    reference = ref.time_torch(
        ref.transformer_step(model, shape.tokens, grid, TEXT_TOKENS, device, torch_dtype),
        device,
        args.repeats,
        args.warmup,
    )
    del model
    _free_torch()
    ours_model = random_transformer(config, mlx_dtype)
    ours = time_mlx(transformer_step_workload(ours_model, shape), args.repeats, args.warmup).to_dict()
    del ours_model
    _free_mlx()
    flops = transformer_step_flops(
        TransformerShape(config.num_layers, config.inner_dim, config.text_channels, config.in_channels),
        shape.tokens,
        TEXT_TOKENS,
    )
    result = _pair("transformer_step", ours, reference)
    result["flops"] = flops
    peak = peak_flops_for(device_name())
    if peak:
        result["ours_mfu"] = flops / ours["median_s"] / peak
        result["reference_mfu"] = flops / reference["median_s"] / peak
    return result


def compare_vae_decode(vae_config: dict, shape: VideoShape, args, torch_dtype, mlx_dtype) -> dict[str, Any]:
    device = ref.torch_device()
    vae = ref.reference_vae(vae_config, device, torch_dtype)
    reference = ref.time_torch(
        ref.vae_decode_step(vae, shape.latent_grid, device, torch_dtype), device, args.repeats, args.warmup
    )
    del vae
    _free_torch()
    ours_vae = random_vae(mlx_dtype, VAEConfig.from_dict(vae_config))
    tiling = TilingConfig() if args.tiled else TilingConfig.untiled()
    ours = time_mlx(vae_decode_workload(ours_vae, shape, tiling, dtype=mlx_dtype), args.repeats, args.warmup).to_dict()
    del ours_vae
    _free_mlx()
    result = _pair("vae_decode", ours, reference)
    result["tiled"] = bool(args.tiled)
    return result


def compare_generation(shape_name: str, shape: VideoShape, args, torch_dtype, mlx_dtype) -> dict[str, Any]:
    import tempfile

    import reference_pipeline
    import yaml

    components = GENERATION_MODELS[shape_name]()
    config_name = components.config
    config = yaml.safe_load((configs_dir() / config_name).read_text())
    if mlx_dtype == mx.float32:
        config["precision"] = "float32"
    device = ref.torch_device()
    shapes = components.model_shapes
    with tempfile.TemporaryDirectory() as tokenizer_dir:
        write_tiny_t5_tokenizer(tokenizer_dir)
        pipeline = reference_pipeline.build_pipeline(
            shapes.transformer.to_dict(),
            dict(shapes.vae),
            shapes.upsampler.to_dict(),
            dataclasses.asdict(shapes.t5),
            tokenizer_dir,
            device,
            torch_dtype,
        )
        generate = reference_pipeline.generation(
            pipeline, config, shape.width, shape.height, shape.frames, 30.0, device
        )
        reference = ref.time_torch(generate, device, args.repeats, args.warmup)
    del pipeline, generate
    _free_torch()
    request = GenerationRequest(
        prompt=reference_pipeline.PROMPT,
        model=components.model_id,
        negative_prompt="",
        width=shape.width,
        height=shape.height,
        num_frames=shape.frames,
        fps=30.0,
        config_overrides={"precision": config["precision"]},
    )
    report = bench_generation(
        components, request, repeats=args.repeats, warmup=args.warmup, weights="random weights (exact shapes)"
    )
    _free_mlx()
    ours = {
        "median_s": report.total_without_load_s,
        "with_load_median_s": report.total_s,
        "repeats": report.repeats,
        "peak_memory_bytes": report.peak_memory_bytes,
        "stages": {stage.stage: stage.median_s for stage in report.stages},
        "residency": report.residency,
    }
    return _pair("generation", ours, reference)


def _pair(stage: str, ours: dict, reference: dict) -> dict[str, Any]:
    return {
        "stage": stage,
        "ours": ours,
        "reference": reference,
        "ratio_ours_over_reference": ours["median_s"] / reference["median_s"],
    }


def _free_torch() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _free_mlx() -> None:
    gc.collect()
    mx.clear_cache()


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['device']}  shape={report['shape']}  {report['video']}  dtype={report['dtype']}")
    print(f"{'stage':<18}{'ours s':>10}{'ref s':>10}{'ratio':>8}{'ours GiB':>10}{'ref GiB':>10}{'MFU ours/ref':>15}")
    for row in report["stages"]:
        mfu = ""
        if "ours_mfu" in row:
            mfu = f"{row['ours_mfu']:.0%}/{row['reference_mfu']:.0%}"
        print(
            f"{row['stage']:<18}{row['ours']['median_s']:>10.4f}{row['reference']['median_s']:>10.4f}"
            f"{row['ratio_ours_over_reference']:>8.2f}{row['ours']['peak_memory_bytes'] / 2**30:>10.2f}"
            f"{row['reference']['peak_memory_bytes'] / 2**30:>10.2f}{mfu:>15}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--stages", default="transformer,vae,generation")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--tiled", action="store_true", help="decode with our default tiling (bounded memory)")
    parser.add_argument("--json", type=Path, help="append this run's report to a JSON list here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ltx_mlx_core.models.ltxv.vae.fused_norm").setLevel(logging.INFO)

    tiny = args.shape == "tiny"
    shape = VideoShape(
        args.width or (128 if tiny else 768), args.height or (96 if tiny else 512), args.frames or (17 if tiny else 97)
    )
    gpu = torch.cuda.is_available()
    torch_dtype = torch.bfloat16 if gpu else torch.float32
    mlx_dtype = mx.bfloat16 if gpu else mx.float32
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    report: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "device": device_name(),
        "mlx_device": str(mx.default_device()),
        "mlx_version": mx.__version__,
        "mlx_max_ops_per_buffer": os.environ.get(ltx_mlx_core.gpu_commands.OPS_PER_BUFFER_ENV),
        "mlx_cuda_conv_cache_size": os.environ.get(ltx_mlx_core.gpu_commands.CONV_CACHE_ENV),
        "torch_version": torch.__version__,
        "shape": args.shape,
        "video": f"{shape.width}x{shape.height}x{shape.frames}",
        "tokens": shape.tokens,
        "dtype": "bfloat16" if gpu else "float32",
        "stages": [],
    }
    if "transformer" in stages:
        report["stages"].append(compare_transformer(SHAPES[args.shape], shape, args, torch_dtype, mlx_dtype))
    if "vae" in stages:
        vae_config = TINY_VAE if tiny else LTXV_098_VAE_CONFIG
        report["stages"].append(compare_vae_decode(vae_config, shape, args, torch_dtype, mlx_dtype))
    if "generation" in stages:
        report["stages"].append(compare_generation(args.shape, shape, args, torch_dtype, mlx_dtype))
    print_table(report)
    if args.json:
        existing = json.loads(args.json.read_text()) if args.json.exists() else []
        existing.append(report)
        args.json.write_text(json.dumps(existing, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
