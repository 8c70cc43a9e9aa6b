"""The step cache in the LTX-Video 0.9.x pipeline, on the tiny model.

Threshold 0 runs every step through the cache's split forward and must give the latents of every
stage and the video bit for bit as without the cache; a large threshold skips every step but a
pass's first and last, which the events, the result and the sidecar report.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.bench.generation import bench_generation, format_report
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline import cli_generate, run, write_result
from ltx_mlx_core.pipeline.events import Finished, StageStarted, StepDone
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.progress_output import ProgressLine
from ltx_mlx_core.pipeline.request import ConditioningItem, GenerationRequest
from ltx_mlx_core.weights import residency
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.tiny import make_tiny_model

# One pass of six steps with CFG and STG (a base config built from the tiny one by overrides).
SINGLE_PASS_GUIDED = {
    "pipeline_type": "base",
    "timesteps": [1.0, 0.85, 0.7, 0.5, 0.3, 0.15],
    "guidance_scale": 3.0,
    "stg_scale": 1.0,
    "rescaling_scale": 0.7,
    "skip_block_list": [1],
}
SINGLE_PASS = {**SINGLE_PASS_GUIDED, "guidance_scale": 1.0, "stg_scale": 0.0}
# Both passes of the two-pass flow with more steps than the tiny config's 3 + 2.
LONGER_PASSES = {
    "first_pass": {"timesteps": [1.0, 0.95, 0.9, 0.8, 0.7]},
    "second_pass": {"timesteps": [0.9, 0.8, 0.6, 0.4]},
}
SKIP_ALL = "100"  # TeaCache's accumulated change stays below this: only first and last steps run


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_model(tmp_path_factory.mktemp("models") / "tiny"))


def _request(model: str, **changes) -> GenerationRequest:
    fields = dict(prompt="a red ball rolls", model=model, width=64, height=64, num_frames=9, fps=12.0, seeds=[5])
    fields.update(changes)
    return GenerationRequest(**fields)


def _video_and_latents(request: GenerationRequest, job_dir: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The video, and every stage's latents as the stage checkpoints hold them."""
    request.job_dir = str(job_dir)
    video = run(request).videos[0]
    latents = {path.stem: np.array(mx.load(str(path))["latents"]) for path in sorted(job_dir.glob("seed*.safetensors"))}
    return video, latents


@pytest.mark.parametrize(
    "changes",
    [
        {"config_overrides": LONGER_PASSES},
        {"config_overrides": LONGER_PASSES,
         "conditioning": [ConditioningItem(frames=np.full((1, 64, 64, 3), 180, np.uint8), frame=0, strength=1.0)]},
        {"config_overrides": SINGLE_PASS_GUIDED},
        {"config_overrides": SINGLE_PASS, "residency": "stream_blocks"},
        {"config_overrides": SINGLE_PASS, "quantize_bits": 8},
    ],
    ids=["text_to_video_two_pass", "image_to_video_two_pass", "single_pass_cfg_stg", "streamed_blocks", "quantized"],
)  # fmt: skip
def test_threshold_zero_is_bit_identical_to_no_cache(tiny_model, tmp_path, changes):
    plain_video, plain_latents = _video_and_latents(_request(tiny_model, **changes), tmp_path / "off")
    cached_video, cached_latents = _video_and_latents(
        _request(tiny_model, step_cache="0", **changes), tmp_path / "zero"
    )
    assert plain_latents.keys() == cached_latents.keys() and plain_latents
    for stage, latents in plain_latents.items():
        assert np.array_equal(latents, cached_latents[stage]), stage
    assert np.array_equal(plain_video, cached_video)


def _events(request: GenerationRequest) -> list:
    return list(Pipeline(resolve_model(request.model)).generate(request))


def test_skipped_steps_show_in_the_events_the_result_and_the_sidecar(tiny_model, tmp_path):
    events = _events(_request(tiny_model, step_cache=SKIP_ALL, config_overrides=SINGLE_PASS_GUIDED))
    steps = [e for e in events if isinstance(e, StepDone) and e.stage == "denoise"]
    assert [e.cached for e in steps] == [False, True, True, True, True, False]
    assert [e.skipped for e in steps] == [0, 1, 2, 3, 4, 4]
    result = events[-1].result
    summary = result.step_cache[5]
    assert summary["setting"] == SKIP_ALL and summary["steps_computed"] == 2 and summary["steps_skipped"] == 4
    stage = summary["stages"]["denoise"]
    assert stage["rule"] == "teacache" and stage["skipped_steps"] == [2, 3, 4, 5]
    # Three guidance branches (uncond, text, perturbed) each reused its own residual on the 4 steps.
    assert stage["branch_passes_reused"] == 12
    (path,) = write_result(result, tmp_path / "out.mp4")
    assert json.loads(path.with_suffix(".json").read_text())["step_cache"]["steps_skipped"] == 4
    skipping = run(_request(tiny_model, step_cache="0", config_overrides=SINGLE_PASS_GUIDED)).videos[0]
    assert not np.array_equal(result.videos[0], skipping), "reusing residuals changes the video"


def test_without_the_cache_nothing_is_reported_skipped(tiny_model, tmp_path):
    events = _events(_request(tiny_model, config_overrides=SINGLE_PASS))
    assert not any(e.cached or e.skipped for e in events if isinstance(e, StepDone))
    result = events[-1].result
    assert result.step_cache == {}
    (path,) = write_result(result, tmp_path / "out.mp4")
    assert json.loads(path.with_suffix(".json").read_text())["step_cache"] is None


def test_each_pass_computes_its_first_and_last_steps(tiny_model):
    events = _events(_request(tiny_model, step_cache=SKIP_ALL, config_overrides=LONGER_PASSES))
    for stage, count in (("first_pass", 5), ("second_pass", 4)):
        cached = [e.cached for e in events if isinstance(e, StepDone) and e.stage == stage]
        assert cached == [False] + [True] * (count - 2) + [False]


def test_a_resumed_pass_recomputes_its_first_step_and_matches_an_uninterrupted_run(tiny_model, tmp_path):
    request = _request(tiny_model, step_cache=SKIP_ALL, config_overrides=LONGER_PASSES, job_dir=str(tmp_path / "job"))
    events = Pipeline(resolve_model(tiny_model)).generate(request)
    for event in events:
        if isinstance(event, StageStarted) and event.name == "second_pass":
            events.close()  # cancelled once the first pass and the upsample were checkpointed
            break
    resumed = _events(request)
    assert [e.name for e in resumed if isinstance(e, StageStarted)] == [
        "load",
        "text_encode",
        "second_pass",
        "decode",
    ]
    assert [e.cached for e in resumed if isinstance(e, StepDone) and e.stage == "second_pass"] == [
        False,
        True,
        True,
        False,
    ]
    assert list(resumed[-1].result.step_cache[5]["stages"]) == ["second_pass"]
    uninterrupted = run(_request(tiny_model, step_cache=SKIP_ALL, config_overrides=LONGER_PASSES))
    assert np.array_equal(resumed[-1].result.videos[0], uninterrupted.videos[0])


def test_a_skipped_step_reads_no_streamed_block(tiny_model, monkeypatch):
    """With blocks streamed from disk, a skipped step reads only the first block's modulation (TeaCache's
    probe); a computed step reads every block."""
    calls: list[tuple[int, str]] = []
    real = residency.StreamedBlock._with_weights

    def recording(self, method, *args, **kwargs):
        calls.append((self._index, method.__name__))
        return real(self, method, *args, **kwargs)

    monkeypatch.setattr(residency.StreamedBlock, "_with_weights", recording)
    request = _request(tiny_model, step_cache=SKIP_ALL, residency="stream_blocks", config_overrides=SINGLE_PASS)
    per_step = []
    for event in Pipeline(resolve_model(tiny_model)).generate(request):
        if isinstance(event, StageStarted) and event.name == "denoise":
            calls.clear()
        if isinstance(event, StepDone) and event.stage == "denoise":
            per_step.append((event.cached, list(calls)))
            calls.clear()
        if isinstance(event, Finished):
            assert event.result.residency == "stream_blocks"
    computed = [(0, "modulated_input"), (0, "__call__"), (1, "__call__")]
    assert per_step == [(False, computed)] + [(True, [(0, "modulated_input")])] * 4 + [(False, computed)]


def test_the_progress_line_counts_skipped_steps():
    stream = io.StringIO()
    ProgressLine(stream).on_event(StepDone("first_pass", 3, 8, 1.0, 2.0, cached=True, skipped=2))
    assert "3/8" in stream.getvalue() and "2 skipped" in stream.getvalue()


def test_the_cli_takes_a_preset_or_a_threshold_and_requests_validate_it():
    parser = argparse.ArgumentParser()
    cli_generate.register(parser.add_subparsers())
    base = ["generate", "--model", "tiny", "--prompt", "p", "--output", "o.mp4"]
    assert cli_generate.build_generate_request(parser.parse_args(base)).step_cache == "off"
    for given, kept in (("Fastest", "fastest"), ("0.050", "0.05")):
        args = parser.parse_args([*base, "--step-cache", given])
        assert cli_generate.build_generate_request(args).step_cache == kept
    with pytest.raises(InvalidRequest, match="step cache"):
        GenerationRequest(prompt="p", step_cache="-1").validate()
    assert GenerationRequest.from_dict({"prompt": "p"}).step_cache == "off"  # a sidecar from before the field


def test_the_bench_times_a_step_cache_setting_and_counts_its_skips(tiny_model):
    request = _request(tiny_model, step_cache=SKIP_ALL, config_overrides=SINGLE_PASS)
    report = bench_generation(resolve_model(tiny_model), request, repeats=1, warmup=0)
    assert report.step_cache == SKIP_ALL
    assert {stage.stage: stage.skipped for stage in report.stages}["denoise"] == 4
    assert "4 skipped" in format_report(report) and "step cache 100" in format_report(report)
