"""Where the time goes: per-block and per-op timings of the VAE decoder and the transformer block,
ours (MLX) beside the reference (PyTorch), on one device.

    python tools/profile_stages.py --sections vae-blocks,vae-ops,transformer-parts
    python tools/profile_stages.py --small          # CPU check of the script itself

This is the profile behind docs/PERFORMANCE.md: it explains a ratio, it does not replace
compare_reference.py's medians. Block timings evaluate after every block (ours) or
synchronise around it (reference), which removes overlap between blocks, so their sum is a
little above the whole decode.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "perf"))  # reference_workloads, the torch side

import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402
import reference_workloads as ref  # noqa: E402
import torch  # noqa: E402

from ltx_mlx_core.bench.timing import time_mlx  # noqa: E402
from ltx_mlx_core.bench.workloads import VideoShape, randomize_parameters  # noqa: E402
from ltx_mlx_core.models.ltxv.transformer_blocks import TransformerBlock  # noqa: E402
from ltx_mlx_core.models.ltxv.transformer_config import PRESETS  # noqa: E402
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder  # noqa: E402
from ltx_mlx_core.models.ltxv.vae.config import LTXV_098_VAE_CONFIG, VAEConfig  # noqa: E402

GIB = 2**30


def _median_torch(fn: Callable[[], Any], device: torch.device, repeats: int = 5, warmup: int = 2) -> float:
    return ref.time_torch(fn, device, repeats, warmup)["median_s"]


def _median_mlx(fn: Callable[[], Any], repeats: int = 5, warmup: int = 2) -> tuple[float, int]:
    timing = time_mlx(fn, repeats, warmup)
    return timing.median, timing.peak_memory_bytes


# VAE: per block ------------------------------------------------------------------------------


class _BlockClock:
    """Wall time and peak memory growth of each decoder block."""

    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {}
        self.peaks: dict[str, int] = {}

    def wrap_torch(self, module: torch.nn.Module, name: str, device: torch.device) -> None:
        starts: list[float] = []
        before: list[int] = []

        def pre(_module, _inputs):  # noqa: ANN001
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                before.append(torch.cuda.memory_allocated())
            starts.append(time.perf_counter())

        def post(_module, _inputs, _output):  # noqa: ANN001
            if device.type == "cuda":
                torch.cuda.synchronize()
                growth = int(torch.cuda.max_memory_allocated()) - before.pop()
                self.peaks[name] = max(self.peaks.get(name, 0), growth)
            self.rows.setdefault(name, []).append(time.perf_counter() - starts.pop())

        module.register_forward_pre_hook(pre)
        module.register_forward_hook(post)

    def medians(self) -> dict[str, float]:
        return {
            name: statistics.median(samples[1:] if len(samples) > 2 else samples) for name, samples in self.rows.items()
        }


def _block_names(decoder_blocks: list) -> list[str]:
    names = ["conv_in"]
    for index, (name, _params) in enumerate(reversed(decoder_blocks)):
        names.append(f"up{index}:{name}")
    return names + ["conv_out"]


def vae_blocks(vae_config: dict, shape: VideoShape, dtype_name: str, repeats: int) -> dict[str, Any]:
    device = ref.torch_device()
    torch_dtype = ref.TORCH_DTYPES[dtype_name]
    mlx_dtype = getattr(mx, dtype_name)
    names = _block_names(vae_config["decoder_blocks"])

    reference = ref.reference_vae(vae_config, device, torch_dtype)
    ref_clock = _BlockClock()
    modules = [reference.decoder.conv_in, *reference.decoder.up_blocks, reference.decoder.conv_out]
    for name, module in zip(names, modules):
        ref_clock.wrap_torch(module, name, device)
    decode = ref.vae_decode_step(reference, shape.latent_grid, device, torch_dtype)
    with torch.inference_mode():
        for _ in range(repeats + 1):
            decode()
    del reference, decode
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()

    ours = CausalVideoAutoencoder(VAEConfig.from_dict(vae_config))
    randomize_parameters(ours, mlx_dtype)
    our_clock = _BlockClock()
    f, h, w = shape.latent_grid
    latents = mx.random.normal((1, f, h, w, vae_config["latent_channels"]), key=mx.random.key(2)).astype(mlx_dtype)
    yielded = [names[0]]  # what each activation of iter_decode ends: conv_in, every residual block, ...
    for name, block in zip(names[1:-1], ours.decoder.up_blocks):
        yielded += [name] * len(getattr(block, "res_blocks", [None]))
    yielded.append(names[-1])
    for _ in range(repeats + 1):
        mx.eval(latents)
        mx.synchronize()
        per_block: dict[str, float] = {}
        for name, activation in zip(yielded, ours.iter_decode(latents, timestep=0.05)):
            mx.reset_peak_memory()
            before = mx.get_active_memory()
            start = time.perf_counter()
            mx.eval(activation)
            mx.synchronize()
            per_block[name] = per_block.get(name, 0.0) + time.perf_counter() - start
            our_clock.peaks[name] = max(our_clock.peaks.get(name, 0), int(mx.get_peak_memory()) - before)
        for name, seconds in per_block.items():
            our_clock.rows.setdefault(name, []).append(seconds)
    del ours
    gc.collect()
    mx.clear_cache()

    ours_t, ref_t = our_clock.medians(), ref_clock.medians()
    rows = [
        {
            "block": n,
            "ours_s": ours_t[n],
            "reference_s": ref_t[n],
            "ratio": ours_t[n] / ref_t[n],
            "ours_peak_gib": our_clock.peaks[n] / GIB,
            "reference_peak_gib": ref_clock.peaks.get(n, 0) / GIB,
        }
        for n in names
    ]
    print(f"\nVAE decoder blocks, {shape.width}x{shape.height}x{shape.frames}, {dtype_name} (untiled)")
    print(f"{'block':<22}{'ours s':>10}{'ref s':>10}{'ratio':>8}{'ours +GiB':>10}{'ref +GiB':>10}")
    for row in rows:
        print(
            f"{row['block']:<22}{row['ours_s']:>10.4f}{row['reference_s']:>10.4f}{row['ratio']:>8.2f}"
            f"{row['ours_peak_gib']:>10.2f}{row['reference_peak_gib']:>10.2f}"
        )
    return {"section": "vae-blocks", "rows": rows}


# VAE: single ops at each decoder level ------------------------------------------------------


def _conv_flops(voxels: int, c_in: int, c_out: int) -> float:
    return 2.0 * 27 * c_in * c_out * voxels


def vae_ops(levels: list[tuple[int, tuple[int, int, int]]], dtype_name: str) -> dict[str, Any]:
    """Per decoder level (channels, (F, H, W)): conv3d in each layout, and the elementwise chain."""
    device = ref.torch_device()
    torch_dtype = ref.TORCH_DTYPES[dtype_name]
    mlx_dtype = getattr(mx, dtype_name)
    rows = []
    print(f"\nVAE ops per decoder level ({dtype_name}); conv TFLOP/s in brackets")
    for channels, (f, h, w) in levels:
        voxels = f * h * w
        flops = _conv_flops(voxels, channels, channels)
        row: dict[str, Any] = {"channels": channels, "grid": [f, h, w]}

        x_t = torch.randn(1, channels, f + 2, h, w, device=device, dtype=torch_dtype)
        conv_t = torch.nn.Conv3d(channels, channels, 3, padding=(0, 1, 1)).to(device, torch_dtype)
        with torch.inference_mode():
            row["torch_conv_ncdhw_s"] = _median_torch(lambda: conv_t(x_t), device)
            x_cl = x_t.contiguous(memory_format=torch.channels_last_3d)
            conv_cl = conv_t.to(memory_format=torch.channels_last_3d)
            row["torch_conv_ndhwc_s"] = _median_torch(lambda: conv_cl(x_cl), device)
        del x_t, x_cl, conv_t, conv_cl

        x = mx.random.normal((1, f + 2, h, w, channels)).astype(mlx_dtype)
        conv = nn.Conv3d(channels, channels, 3, padding=(0, 1, 1))
        randomize_parameters(conv, mlx_dtype)
        mx.eval(x)
        row["mlx_conv_s"], row["mlx_conv_peak_gib"] = _median_mlx(lambda: conv(x))
        row["mlx_conv_peak_gib"] /= GIB
        inner = x[:, 1:-1]
        scale = (mx.random.normal((1, 1, 1, 1, channels)) * 0.1).astype(mlx_dtype)
        shift = (mx.random.normal((1, 1, 1, 1, channels)) * 0.1).astype(mlx_dtype)
        mx.eval(inner, scale, shift)

        def plain_chain():
            normed = inner * mx.rsqrt(mx.mean(inner * inner, axis=-1, keepdims=True) + 1e-8)
            return nn.silu(normed * (1 + scale) + shift)

        modulate_silu = mx.compile(lambda normed, s, b: nn.silu(normed * (1 + s) + b))
        row["mlx_norm_plain_s"] = _median_mlx(
            lambda: inner * mx.rsqrt(mx.mean(inner * inner, axis=-1, keepdims=True) + 1e-8)
        )[0]
        row["mlx_norm_fast_s"] = _median_mlx(lambda: mx.fast.rms_norm(inner, None, 1e-8))[0]
        row["mlx_chain_plain_s"] = _median_mlx(plain_chain)[0]
        row["mlx_chain_fused_s"] = _median_mlx(
            lambda: modulate_silu(mx.fast.rms_norm(inner, None, 1e-8), scale, shift)
        )[0]
        from ltx_mlx_core.models.ltxv.vae.fused_norm import pixel_norm_silu

        row["mlx_chain_kernel_s"] = _median_mlx(lambda: pixel_norm_silu(inner, scale, shift))[0]
        row["mlx_time_pad_s"] = _median_mlx(lambda: mx.concatenate([inner[:, :1], inner, inner[:, -1:]], axis=1))[0]
        row["mlx_copy_s"] = _median_mlx(lambda: inner + 1)[0]
        del x, inner, conv
        gc.collect()
        mx.clear_cache()

        print(
            f"C={channels:<5} {f}x{h}x{w}: conv mlx {row['mlx_conv_s']:.4f} [{flops / row['mlx_conv_s'] / 1e12:.0f}]"
            f"  torch ncdhw {row['torch_conv_ncdhw_s']:.4f} [{flops / row['torch_conv_ncdhw_s'] / 1e12:.0f}]"
            f"  torch ndhwc {row['torch_conv_ndhwc_s']:.4f} [{flops / row['torch_conv_ndhwc_s'] / 1e12:.0f}]"
            f"  mlx conv peak {row['mlx_conv_peak_gib']:.2f} GiB"
        )
        print(
            f"           norm plain {row['mlx_norm_plain_s']:.4f} fast {row['mlx_norm_fast_s']:.4f}"
            f"  norm+mod+silu plain {row['mlx_chain_plain_s']:.4f} fused {row['mlx_chain_fused_s']:.4f}"
            f" kernel {row['mlx_chain_kernel_s']:.4f}"
            f"  time pad {row['mlx_time_pad_s']:.4f}  one pass (x+1) {row['mlx_copy_s']:.4f}"
        )
        rows.append(row)
    return {"section": "vae-ops", "rows": rows}


def _random_vae(vae_config: dict, dtype: mx.Dtype) -> CausalVideoAutoencoder:
    from ltx_mlx_core.bench.workloads import random_vae

    return random_vae(dtype, VAEConfig.from_dict(vae_config))


# VAE: how the decode is evaluated -------------------------------------------------------------


def vae_evaluation(vae_config: dict, shape: VideoShape, dtype_name: str, repeats: int) -> dict[str, Any]:
    """The same decode evaluated as one graph, block by block, and block by block in default tiles."""
    from ltx_mlx_core.pipeline.decode import decode_video, prepare_latents_for_decode
    from ltx_mlx_core.pipeline.tiling import TilingConfig

    mlx_dtype = getattr(mx, dtype_name)
    vae = _random_vae(vae_config, mlx_dtype)
    f, h, w = shape.latent_grid
    latents = mx.random.normal((1, f, h, w, vae_config["latent_channels"]), key=mx.random.key(2)).astype(mlx_dtype)
    mx.eval(latents)
    raw, timestep = prepare_latents_for_decode(vae, latents, 0.05, 0.025, mx.random.key(3))
    mx.eval(raw, timestep)

    def block_by_block(x, t):
        for activation in vae.iter_decode(x, timestep=t):
            mx.eval(activation)
        return activation

    variants = {
        "decoder, one graph": lambda: vae.decode(latents, timestep=0.05),
        "decoder, block by block": lambda: block_by_block(latents, mx.array(0.05)),
        "prepared latents, one graph": lambda: vae.decode(raw, timestep=timestep),
        "prepared latents, block by block": lambda: block_by_block(raw, timestep),
        "decode_video, untiled": lambda: decode_video(
            vae, latents, timestep=0.05, noise_scale=0.025, key=mx.random.key(3), tiling=TilingConfig.untiled()
        ),
        "decode_video, default tiles": lambda: decode_video(
            vae, latents, timestep=0.05, noise_scale=0.025, key=mx.random.key(3), tiling=TilingConfig()
        ),
    }
    rows = []
    print(f"\nVAE decode evaluation, {shape.width}x{shape.height}x{shape.frames}, {dtype_name}")
    for name, fn in variants.items():
        timing = time_mlx(fn, repeats, 1)
        rows.append({"variant": name, "median_s": timing.median, "peak_gib": timing.peak_memory_bytes / GIB})
        print(f"{name:<36}{timing.median:>10.4f} s{timing.peak_memory_bytes / GIB:>10.2f} GiB peak")
        mx.clear_cache()
    del vae
    gc.collect()
    mx.clear_cache()
    return {"section": "vae-eval", "rows": rows}


def transformer_compile(preset: str, shape: VideoShape, dtype_name: str, repeats: int) -> dict[str, Any]:
    """A whole denoising step with blocks compiled (the default on GPU) and without."""
    from ltx_mlx_core.bench.workloads import random_transformer, transformer_step_workload
    from ltx_mlx_core.models.ltxv import transformer_blocks

    model = random_transformer(preset, getattr(mx, dtype_name))
    step = transformer_step_workload(model, shape)
    result: dict[str, Any] = {"section": "transformer-compile", "preset": preset}
    for compiled in (True, False):
        transformer_blocks.COMPILE_BLOCKS_ON_GPU = compiled
        timing = time_mlx(step, repeats, 2)
        result["compiled_s" if compiled else "plain_s"] = timing.median
    transformer_blocks.COMPILE_BLOCKS_ON_GPU = True
    print(f"\nTransformer step {preset}: blocks compiled {result['compiled_s']:.4f} s, plain {result['plain_s']:.4f} s")
    del model, step
    gc.collect()
    mx.clear_cache()
    return result


# Transformer block parts ----------------------------------------------------------------------


def transformer_parts(preset: str, tokens: int, text_tokens: int, dtype_name: str) -> dict[str, Any]:
    """One block of the preset's shape: whole block vs its matrix products vs self-attention."""
    from ltx_mlx_core.models.common.rope import RotaryAngles

    config = PRESETS[preset]
    dtype = getattr(mx, dtype_name)
    dim = config.inner_dim
    block = TransformerBlock(config)
    randomize_parameters(block, dtype)
    keys = mx.random.split(mx.random.key(0), 4)
    x = mx.random.normal((1, tokens, dim), key=keys[0]).astype(dtype)
    context = mx.random.normal((1, text_tokens, config.cross_attention_dim), key=keys[1]).astype(dtype)
    timestep = (mx.random.normal((1, 1, 6 * dim), key=keys[2]) * 0.1).astype(dtype)
    half = config.attention_head_dim * config.num_attention_heads // 2
    angles = mx.random.uniform(shape=(1, tokens, half), key=keys[3])
    cos, sin = mx.cos(angles), mx.sin(angles)
    rotary = RotaryAngles(mx.stack([cos, cos], -1).astype(dtype), mx.stack([-sin, sin], -1).astype(dtype))
    mx.eval(x, context, timestep, rotary)

    whole = _median_mlx(lambda: block(x, timestep, context, None, rotary), repeats=10)[0]
    hidden_ff = mx.random.normal((1, tokens, block.ff.proj_out.weight.shape[1])).astype(dtype)
    mx.eval(hidden_ff)
    width_layers = [
        block.attn1.to_q,
        block.attn1.to_k,
        block.attn1.to_v,
        block.attn1.to_out,
        block.attn2.to_q,
        block.attn2.to_out,
        block.ff.proj_in,
    ]

    def gemms():
        return [layer(x) for layer in width_layers] + [block.ff.proj_out(hidden_ff)]

    gemm_time = _median_mlx(gemms, repeats=10)[0]
    heads, head_dim = config.num_attention_heads, config.attention_head_dim
    q = mx.random.normal((1, heads, tokens, head_dim)).astype(dtype)
    mx.eval(q)
    sdpa_time = _median_mlx(lambda: mx.fast.scaled_dot_product_attention(q, q, q, scale=head_dim**-0.5), repeats=10)[0]
    gemm_flops = 2.0 * tokens * dim * dim * (4 + 2 + 8)
    sdpa_flops = 4.0 * tokens * tokens * dim
    result = {
        "section": "transformer-parts",
        "preset": preset,
        "tokens": tokens,
        "block_s": whole,
        "gemms_s": gemm_time,
        "self_attention_s": sdpa_time,
        "gemm_tflops": gemm_flops / gemm_time / 1e12,
        "sdpa_tflops": sdpa_flops / sdpa_time / 1e12,
        "rest_s": whole - gemm_time - sdpa_time,
    }
    print(
        f"\nTransformer block {preset}, {tokens} tokens, {dtype_name}: block {whole * 1e3:.2f} ms = "
        f"GEMMs {gemm_time * 1e3:.2f} ms ({result['gemm_tflops']:.0f} TFLOP/s) + self-attention "
        f"{sdpa_time * 1e3:.2f} ms ({result['sdpa_tflops']:.0f} TFLOP/s) + rest {result['rest_s'] * 1e3:.2f} ms"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="vae-blocks,vae-eval,vae-ops,transformer-parts,transformer-compile")
    parser.add_argument("--small", action="store_true", help="tiny shapes, float32 (checks the script on CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ltx_mlx_core.models.ltxv.vae.fused_norm").setLevel(logging.INFO)
    sections = {s.strip() for s in args.sections.split(",")}
    dtype_name = "float32" if args.small else "bfloat16"
    results = []
    if args.small:
        vae_config = dict(LTXV_098_VAE_CONFIG, decoder_base_channels=8)
        shape = VideoShape(128, 64, 17)
        levels = [(32, (3, 4, 6)), (16, (9, 16, 24))]
        preset, tokens = "tiny-check", 64
        PRESETS[preset] = PRESETS["ltxv-2b-0.9.8"].__class__(
            num_attention_heads=2, attention_head_dim=16, num_layers=1, cross_attention_dim=32, caption_channels=16
        )
    else:
        vae_config, shape = LTXV_098_VAE_CONFIG, VideoShape()
        f, h, w = shape.latent_grid
        levels = [
            (1024, (f, h, w)),
            (512, (2 * f - 1, 2 * h, 2 * w)),
            (256, (4 * f - 3, 4 * h, 4 * w)),
            (128, (8 * f - 7, 8 * h, 8 * w)),
        ]
        preset, tokens = "ltxv-13b-0.9.8", shape.tokens
    if "vae-blocks" in sections:
        results.append(vae_blocks(vae_config, shape, dtype_name, args.repeats))
    if "vae-eval" in sections:
        results.append(vae_evaluation(vae_config, shape, dtype_name, args.repeats))
    if "vae-ops" in sections:
        results.append(vae_ops(levels, dtype_name))
    if "transformer-parts" in sections:
        results.append(transformer_parts(preset, tokens, 128, dtype_name))
        if not args.small:
            results.append(transformer_parts("ltxv-2b-0.9.8", tokens, 128, dtype_name))
    if "transformer-compile" in sections and not args.small:
        for name in ("ltxv-2b-0.9.8", "ltxv-13b-0.9.8"):
            results.append(transformer_compile(name, shape, dtype_name, args.repeats))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    assert all(math.isfinite(v) for r in results for v in _numbers(r))
    return 0


def _numbers(tree: Any) -> list[float]:
    if isinstance(tree, dict):
        return [n for v in tree.values() for n in _numbers(v)]
    if isinstance(tree, list):
        return [n for v in tree for n in _numbers(v)]
    return [float(tree)] if isinstance(tree, (int, float)) and not isinstance(tree, bool) else []


if __name__ == "__main__":
    sys.exit(main())
