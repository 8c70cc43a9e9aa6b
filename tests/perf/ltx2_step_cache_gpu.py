"""Time one guided LTX-2.3 dev denoising stage at each step-cache preset (issue #23, GPU part).

    python tests/perf/ltx2_step_cache_gpu.py --json out.json          # GPU: 22B shapes, 768x512x121 + audio
    python tests/perf/ltx2_step_cache_gpu.py --tiny --layers 2 --width 64 --height 64 --frames 17 \
        --steps 3 --repeats 1                                          # CPU smoke (toy widths)

Random weights of the release's exact shapes (PRESETS["ltx-2.3-22b"], bf16 on a GPU) and random
prompt embeddings of the widths the transformer takes (1,024 context tokens, a negative prompt of
the same length, so the guidance passes batch into one call). The stage is the product's dev
one-stage recipe (`dev_one_stage_plan` + `iter_one_stage`) with LTX-2.3's dev guidance
(`LTX23_DEV_DEFAULTS`: CFG + STG + modality, four passes per step) over `--steps` steps, with
`step_cache=step_cache_settings(preset, "ltx2")`. Per preset: wall time of the whole stage
(events drained, final latents evaluated), each step's time, which steps the cache skipped, and the
peak memory. One short untimed warm-up stage per preset first (`--warmup-steps`); the timed repeats run in rounds over
the presets so drift spreads evenly. Random weights: the skip decisions are real decisions on
real shapes, but whether skipping loses quality cannot be judged here.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import mlx.core as mx  # noqa: E402

from ltx_mlx_core.bench.workloads_ltx2 import CONTEXT_TOKENS, benchmark_config, random_ltx2_transformer  # noqa: E402
from ltx_mlx_core.models.ltx2.config import LTX2Config  # noqa: E402
from ltx_mlx_core.pipeline.events import StepDone  # noqa: E402
from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings  # noqa: E402
from ltx_mlx_core.pipeline.ltx2.guidance import LTX23_DEV_DEFAULTS, DevGuidance  # noqa: E402
from ltx_mlx_core.pipeline.ltx2.job import LTX2Job  # noqa: E402
from ltx_mlx_core.pipeline.ltx2.stages import StageFinished, dev_one_stage_plan, iter_one_stage  # noqa: E402
from ltx_mlx_core.pipeline.step_cache import step_cache_settings  # noqa: E402

GIB = 1 << 30
log = logging.getLogger("ltx2_step_cache_gpu")


def _config(args: argparse.Namespace) -> LTX2Config:
    return benchmark_config(args.layers, toy_widths=args.tiny)  # --tiny: a CPU smoke


def _guidance(config: LTX2Config) -> DevGuidance:
    """LTX-2.3's dev guidance; with fewer blocks kept (a smoke run), STG perturbs the last one."""
    guidance = LTX23_DEV_DEFAULTS.guidance()
    if all(b < config.num_layers for p in (LTX23_DEV_DEFAULTS.video, LTX23_DEV_DEFAULTS.audio) for b in p.stg_blocks):
        return guidance
    last = (config.num_layers - 1,)
    return DevGuidance.constant(
        dataclasses.replace(LTX23_DEV_DEFAULTS.video, stg_blocks=last),
        dataclasses.replace(LTX23_DEV_DEFAULTS.audio, stg_blocks=last),
    )


def _prompt(config: LTX2Config, seed: int, dtype: mx.Dtype, tokens: int) -> PromptEmbeddings:
    """Random embeddings of the widths the transformer's context takes (as bench/workloads_ltx2.py)."""
    projected = config.has_caption_projection
    video_width = config.caption_channels if projected else config.inner_dim
    audio_width = config.caption_channels if projected else config.audio_inner_dim
    k1, k2 = mx.random.split(mx.random.key(seed))
    prompt = PromptEmbeddings(
        mx.random.normal((1, tokens, video_width), key=k1).astype(dtype),
        mx.random.normal((1, tokens, audio_width), key=k2).astype(dtype),
    )
    mx.eval(prompt.video, prompt.audio)
    return prompt


def run_stage(job: LTX2Job, transformer, steps: int, guidance: DevGuidance, preset: str) -> dict[str, Any]:
    """One dev stage with the preset's cache: seconds, per-step seconds, the cache's summary, the peak."""
    plan = dev_one_stage_plan(job, lambda: transformer, steps, guidance)
    settings = step_cache_settings(preset, "ltx2")
    mx.synchronize()
    mx.reset_peak_memory()
    started = time.perf_counter()
    done: list[float] = []
    summary = None
    for event in iter_one_stage(job, plan, None, step_cache=settings):
        if isinstance(event, StepDone):
            done.append(event.elapsed)
        elif isinstance(event, StageFinished):
            mx.eval(event.latents.video, event.latents.audio)
            summary = event.step_cache
    mx.synchronize()
    seconds = time.perf_counter() - started
    step_seconds = [b - a for a, b in zip([0.0, *done], done)]
    skipped = [] if summary is None else summary["skipped_steps"]
    return {
        "preset": preset,
        "seconds": seconds,
        "step_seconds": step_seconds,
        "steps_skipped": len(skipped),
        "skipped_steps": skipped,
        "branch_passes_reused": 0 if summary is None else summary["branch_passes_reused"],
        "cache": summary,
        "peak_memory_bytes": int(mx.get_peak_memory()),
    }


def _preset_rows(runs: list[dict[str, Any]], presets: list[str]) -> list[dict[str, Any]]:
    rows = []
    for preset in presets:
        mine = [r for r in runs if r["preset"] == preset]
        if not mine:
            continue
        times = [r["seconds"] for r in mine]
        rows.append(
            {
                "preset": preset,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "repeats": len(times),
                "steps_skipped": mine[-1]["steps_skipped"],
                "skipped_steps": mine[-1]["skipped_steps"],
                "branch_passes_reused": mine[-1]["branch_passes_reused"],
                "same_skips_every_repeat": all(r["skipped_steps"] == mine[0]["skipped_steps"] for r in mine),
                "peak_memory_bytes": max(r["peak_memory_bytes"] for r in mine),
            }
        )
    off = next((r for r in rows if r["preset"] == "off"), None)
    for row in rows:
        if off is not None:
            row["speedup_vs_off"] = off["median_s"] / row["median_s"]
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    on_gpu = mx.default_device().type == mx.gpu
    dtype = mx.bfloat16 if on_gpu else mx.float32
    config = _config(args)
    presets = args.presets.split(",")
    for preset in presets:
        step_cache_settings(preset, "ltx2")  # refuse an unknown preset before the model is built
    transformer = random_ltx2_transformer(config, dtype)
    tokens = args.context_tokens
    job = LTX2Job(
        args.frames,
        args.height,
        args.width,
        24.0,
        seed=7,
        positive=_prompt(config, 1, dtype, tokens),
        negative=_prompt(config, 2, dtype, tokens),
    )
    guidance = _guidance(config)
    report: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "mlx_version": mx.__version__,
        "mlx_device": str(mx.default_device()),
        "model": "ltx-2.3-22b dev shapes, random weights",
        "layers": config.num_layers,
        "video": f"{args.width}x{args.height}x{args.frames}, audio",
        "context_tokens": tokens,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "guidance": "LTX23_DEV_DEFAULTS (CFG + STG + modality)",
        "stg_blocks": list(guidance.video.bins[0][1].stg_blocks),
        "presets": {p: (s.describe() if (s := step_cache_settings(p, "ltx2")) else None) for p in presets},
        "dtype": str(dtype),
        "runs": [],
    }
    for preset in presets:  # warm-up: compiles each path (a cached step runs the first block apart)
        started = time.perf_counter()
        run_stage(job, transformer, args.warmup_steps, guidance, preset)
        log.warning("warm-up %s: %.2f s", preset, time.perf_counter() - started)
    for round_index in range(args.repeats):
        for preset in presets:
            result = run_stage(job, transformer, args.steps, guidance, preset)
            result["round"] = round_index
            report["runs"].append(result)
            print(
                f"{preset:8s} round {round_index}: {result['seconds']:.3f} s, skipped {result['skipped_steps']} "
                f"(+{result['branch_passes_reused']} pass reuses), peak {result['peak_memory_bytes'] / GIB:.2f} GiB, "
                f"steps {' '.join(f'{s:.2f}' for s in result['step_seconds'])}",
                flush=True,
            )
            report["rows"] = _preset_rows(report["runs"], presets)
            if args.json:  # after every stage: a run cut short keeps what it measured
                args.json.write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="off,faster,fastest")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup-steps", type=int, default=3, help="steps of each preset's untimed warm-up stage")
    parser.add_argument("--layers", type=int, default=None, help="keep this many blocks (default: all 48)")
    parser.add_argument("--tiny", action="store_true", help="toy widths (a CPU smoke run)")
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--context-tokens", type=int, default=CONTEXT_TOKENS)
    parser.add_argument("--json", type=Path, help="write the report here (rewritten after each stage)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run(args)
    for row in report["rows"]:
        print(
            f"{row['preset']:8s} median {row['median_s']:.3f} s (n={row['repeats']}) "
            f"x{row.get('speedup_vs_off', 1.0):.2f} vs off, {row['steps_skipped']}/{args.steps} steps skipped "
            f"{row['skipped_steps']}, peak {row['peak_memory_bytes'] / GIB:.2f} GiB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
