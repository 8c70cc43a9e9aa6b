"""Cancelling at any event and resuming from stage checkpoints on the tiny model."""

from __future__ import annotations

import gc

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.pipeline import run
from ltx_mlx_core.pipeline.events import Finished, Preview, StageStarted, StepDone
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.tiny import make_tiny_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_model(tmp_path_factory.mktemp("models") / "tiny"))


def _request(model: str, **changes) -> GenerationRequest:
    fields = dict(prompt="a kite", model=model, width=64, height=64, num_frames=9, fps=8.0, seeds=[3])
    fields.update(changes)
    return GenerationRequest(**fields)


def _describe(event) -> str:
    if isinstance(event, StageStarted):
        return f"start:{event.name}"
    if isinstance(event, StepDone):
        return f"step:{event.stage}:{event.step}"
    if isinstance(event, Preview):
        return f"preview:{event.kind}"
    return type(event).__name__


def _stages(events) -> list[str]:
    return [e.name for e in events if isinstance(e, StageStarted)]


def _run_until(request: GenerationRequest, stop_after: str) -> list:
    """Iterate until the event described `stop_after`, then close the generator (a cancel)."""
    seen = []
    events = Pipeline(resolve_model(request.model)).generate(request)
    for event in events:
        seen.append(event)
        if _describe(event) == stop_after:
            events.close()
            break
    return seen


def test_closing_after_any_event_finishes_nothing_and_frees_memory(tiny_model):
    request = _request(tiny_model)
    run(request)  # warm caches (preview projection) so memory comparisons are fair
    all_events = [_describe(e) for e in Pipeline(resolve_model(tiny_model)).generate(request)]
    assert all_events[-1] == "Finished"
    gc.collect()
    mx.clear_cache()
    baseline = mx.get_active_memory()
    for stop_after in dict.fromkeys(all_events[:-1]):  # every distinct event before Finished
        seen = _run_until(request, stop_after)
        assert not any(isinstance(e, Finished) for e in seen), stop_after
        gc.collect()
        # Model weights (tens of KiB even for the tiny model) are not kept alive by a closed run.
        assert mx.get_active_memory() <= baseline + 4096, stop_after
        assert mx.get_cache_memory() == 0, stop_after


def test_resume_after_a_cancelled_second_pass_equals_an_uninterrupted_run(tiny_model, tmp_path):
    uninterrupted = run(_request(tiny_model)).videos[0]
    job = tmp_path / "job"
    request = _request(tiny_model, job_dir=str(job))
    _run_until(request, "step:second_pass:1")
    assert sorted(p.name for p in job.glob("*.safetensors")) == [
        "seed3_first_pass.safetensors",
        "seed3_upsample.safetensors",
    ]
    resumed = list(Pipeline(resolve_model(tiny_model)).generate(request))
    assert _stages(resumed) == ["load", "text_encode", "second_pass", "decode"]
    assert np.array_equal(resumed[-1].result.videos[0], uninterrupted)


def test_resume_after_all_passes_only_decodes(tiny_model, tmp_path):
    uninterrupted = run(_request(tiny_model, seeds=[3, 4]))
    request = _request(tiny_model, seeds=[3, 4], job_dir=str(tmp_path / "job"))
    _run_until(request, "start:decode")
    resumed = list(Pipeline(resolve_model(tiny_model)).generate(request))
    assert _stages(resumed) == ["load", "decode", "decode"]
    for mine, reference in zip(resumed[-1].result.videos, uninterrupted.videos):
        assert np.array_equal(mine, reference)


def test_checkpoints_of_a_different_request_are_ignored(tiny_model, tmp_path):
    job = str(tmp_path / "job")
    _run_until(_request(tiny_model, job_dir=job), "start:decode")
    changed = list(Pipeline(resolve_model(tiny_model)).generate(_request(tiny_model, prompt="a kite!", job_dir=job)))
    assert _stages(changed) == ["load", "text_encode", "first_pass", "upsample", "second_pass", "decode"]
    assert np.array_equal(changed[-1].result.videos[0], run(_request(tiny_model, prompt="a kite!")).videos[0])
