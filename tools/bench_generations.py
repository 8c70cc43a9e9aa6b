"""Whole generations through `Pipeline.generate` on random weights, over step-cache presets and
block-evaluation granularities, into one JSON list (what `ltx-mlx bench` times, several settings
in one process).

    python tools/bench_generations.py --model ltxv-13b-0.9.8-distilled --step-cache off,faster,fastest
    python tools/bench_generations.py --model ltxv-2b-0.9.8-distilled --eval-every 0,1 --json out.json

Each row: the median time per generation without and with loading, per-stage medians, the steps
whose blocks the step cache skipped (per pass), the peak memory, and the settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ltx_mlx_core.bench.generation import bench_generation, format_report  # noqa: E402
from ltx_mlx_core.bench.random_model import RandomComponents  # noqa: E402
from ltx_mlx_core.pipeline.block_eval import EVERY_ENV  # noqa: E402
from ltx_mlx_core.pipeline.request import GenerationRequest  # noqa: E402
from ltx_mlx_core.pipeline.step_cache import normalise_step_cache  # noqa: E402

PROMPT = "a red boat moves slowly on a calm blue sea at sunset, camera pans"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ltxv-2b-0.9.8-distilled")
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--frames", type=int, default=97)
    parser.add_argument("--step-cache", default="off", help="comma-separated presets or thresholds")
    parser.add_argument("--eval-every", default="", help="comma-separated block-evaluation granularities")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--json", type=Path, help="append the rows to a JSON list here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    components = RandomComponents.for_model(args.model)
    rows = []
    for every in [e for e in args.eval_every.split(",") if e] or [None]:
        if every is not None:
            os.environ[EVERY_ENV] = every
        for preset in args.step_cache.split(","):
            request = GenerationRequest(
                prompt=PROMPT,
                model=args.model,
                width=args.width,
                height=args.height,
                num_frames=args.frames,
                fps=30.0,
                step_cache=normalise_step_cache(preset),
            )
            report = bench_generation(
                components, request, args.repeats, args.warmup, weights="random weights (exact shapes)"
            )
            print(f"eval every {every or 'default'} blocks, step cache {preset}:\n{format_report(report)}", flush=True)
            rows.append({"eval_every_blocks": every, **report.to_dict()})
    if args.json:
        existing = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps(existing + rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
