"""Timing whole generations through `Pipeline.generate`, stage by stage (what `ltx-mlx bench` reports).

A run drains the pipeline's event stream as the app does; each stage's time comes from the
pipeline's own timings (measured between its stage events, evaluation included), its step count
from the `StepDone` events, the peak from MLX's peak-memory counter, read and reset at every stage
event so that each stage has its own peak (the run's is the largest). Warm-up runs (kernel
compilation, caches) are discarded; the report holds medians over the timed runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

import mlx.core as mx

from ltx_mlx_core.pipeline.events import Finished, StageStarted, StepDone
from ltx_mlx_core.pipeline.pipeline import Pipeline, PipelineSettings
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.components import ModelComponents
from ltx_mlx_core.weights.registry import ModelFiles

logger = logging.getLogger(__name__)

STAGE_ORDER = ("load", "text_encode", "first_pass", "upsample", "second_pass", "denoise", "decode", "decode_sound")


@dataclass
class StageTiming:
    stage: str
    median_s: float
    steps: int
    skipped: int = 0  # steps whose transformer blocks the step cache skipped (in the last timed run)
    peak_memory_bytes: int = 0  # the largest over the timed runs, while this stage ran

    @property
    def per_step_s(self) -> float:
        return self.median_s / self.steps if self.steps else self.median_s


@dataclass
class GenerationBench:
    """One benchmark: what ran, where, and the medians per stage."""

    model: str
    weights: str  # "installed" or "random (exact shapes)"
    video: str
    dtype: str
    residency: str
    quantize_bits: int | None
    repeats: int
    step_cache: str = "off"
    stages: list[StageTiming] = field(default_factory=list)
    total_s: float = 0.0
    total_without_load_s: float = 0.0
    peak_memory_bytes: int = 0
    device: str = ""
    mlx_version: str = ""
    date: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for row, stage in zip(data["stages"], self.stages):
            row["per_step_s"] = stage.per_step_s
        return data


def device_description() -> str:
    device = mx.default_device()
    try:
        name = mx.device_info().get("device_name", "")
    except (AttributeError, RuntimeError):
        name = ""
    return f"{name or platform.machine()} ({device})"


@dataclass
class GenerationRun:
    """One generation: the pipeline's stage seconds, and per stage its steps, skipped steps and peak."""

    timings: dict[str, float]
    steps: dict[str, int]
    peak_memory_bytes: int
    residency: str
    skipped: dict[str, int]
    stage_peaks: dict[str, int]


def run_once(pipeline: Pipeline, request: GenerationRequest) -> GenerationRun:
    steps: dict[str, int] = {}
    skipped: dict[str, int] = {}
    peaks: dict[str, int] = {}
    stage = None
    result = None

    def close_stage() -> None:
        # The pipeline resets the counter when it starts; from then on each stage's peak is its own.
        if stage is not None:
            peaks[stage] = max(peaks.get(stage, 0), int(mx.get_peak_memory()))
        mx.reset_peak_memory()

    for event in pipeline.generate(request):
        if isinstance(event, StageStarted):
            close_stage()
            stage = event.name
        elif isinstance(event, StepDone):
            steps[event.stage] = max(steps.get(event.stage, 0), event.step)
            skipped[event.stage] = max(skipped.get(event.stage, 0), event.skipped)
        elif isinstance(event, Finished):
            close_stage()
            result = event.result
    assert result is not None, "the pipeline finished without a result"
    peak = max([result.peak_memory_bytes, *peaks.values()])
    return GenerationRun(dict(result.timings), steps, peak, result.residency, skipped, peaks)


def bench_generation(
    components: ModelFiles | ModelComponents,
    request: GenerationRequest,
    repeats: int = 3,
    warmup: int = 1,
    weights: str = "installed",
    settings: PipelineSettings | None = None,
) -> GenerationBench:
    if repeats < 1 or warmup < 0:
        raise ValueError("repeats must be at least 1 and warmup at least 0.")
    pipeline = Pipeline(components, settings)
    config = pipeline.resolve_config(request)
    runs = []
    for index in range(warmup + repeats):
        run = run_once(pipeline, request)
        logger.info("bench run %d/%d: %.2f s", index + 1, warmup + repeats, run.timings.get("total", 0.0))
        if index >= warmup:
            runs.append(run)
    timings = [run.timings for run in runs]
    last = runs[-1]
    stage_names = [s for s in STAGE_ORDER if s in timings[0]]
    report = GenerationBench(
        model=request.model,
        weights=weights,
        video=f"{request.width}x{request.height}x{request.num_frames}",
        dtype=config.compute_dtype,
        residency=last.residency,
        quantize_bits=request.quantize_bits,
        repeats=repeats,
        step_cache=request.step_cache,
        stages=[
            StageTiming(
                name,
                statistics.median(t[name] for t in timings),
                last.steps.get(name, 0),
                last.skipped.get(name, 0),
                max(run.stage_peaks.get(name, 0) for run in runs),
            )
            for name in stage_names
        ],
        total_s=statistics.median(t["total"] for t in timings),
        total_without_load_s=statistics.median(t["total"] - t.get("load", 0.0) for t in timings),
        peak_memory_bytes=max(run.peak_memory_bytes for run in runs),
        device=device_description(),
        mlx_version=mx.__version__,
        date=dt.date.today().isoformat(),
    )
    return report


def format_report(report: GenerationBench) -> str:
    gib = report.peak_memory_bytes / 2**30
    quant = f", {report.quantize_bits}-bit" if report.quantize_bits else ""
    lines = [
        f"{report.model} ({report.weights}) {report.video} {report.dtype}{quant}, residency {report.residency}",
        f"{report.device}, MLX {report.mlx_version}, median of {report.repeats}"
        + (f", step cache {report.step_cache}" if report.step_cache != "off" else ""),
        f"{'stage':<14}{'seconds':>10}{'steps':>7}{'s/step':>10}{'peak GiB':>10}",
    ]
    for stage in report.stages:
        skipped = f"  ({stage.skipped} skipped)" if stage.skipped else ""
        peak = stage.peak_memory_bytes / 2**30
        lines.append(
            f"{stage.stage:<14}{stage.median_s:>10.3f}{stage.steps:>7}{stage.per_step_s:>10.3f}{peak:>10.2f}{skipped}"
        )
    lines.append(f"{'total':<14}{report.total_s:>10.3f}   (without load {report.total_without_load_s:.3f} s)")
    lines.append(f"peak memory {gib:.2f} GiB")
    return "\n".join(lines)
