"""Failures surface as typed errors with a sentence naming the stage, and free memory."""

from __future__ import annotations

import gc

import mlx.core as mx
import pytest

from ltx_mlx_core.errors import GenerationError, InvalidRequest, ModelNotInstalled
from ltx_mlx_core.pipeline import generate
from ltx_mlx_core.pipeline.events import Finished
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.stage_runner import StageRunner
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.tiny import make_tiny_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_model(tmp_path_factory.mktemp("models") / "tiny"))


def test_a_failure_inside_a_stage_becomes_a_generation_error_naming_it(tiny_model, monkeypatch):
    def broken_upsample(self, latents):
        raise RuntimeError("shape mismatch in the upsampler")
        yield  # a generator, like the real stage

    monkeypatch.setattr(StageRunner, "_upsample", broken_upsample)
    request = GenerationRequest(prompt="p", model=tiny_model, width=64, height=64, num_frames=9)
    events = []
    with pytest.raises(GenerationError, match="during upsample: shape mismatch") as failed:
        for event in Pipeline(resolve_model(tiny_model)).generate(request):
            events.append(event)
    assert not isinstance(failed.value, InvalidRequest)
    assert not any(isinstance(e, Finished) for e in events)
    del events
    gc.collect()
    assert mx.get_cache_memory() == 0


def test_an_unknown_model_is_an_invalid_request_naming_it():
    with pytest.raises(InvalidRequest, match="no-such-model"):
        generate(GenerationRequest(prompt="p", model="no-such-model", width=64, height=64, num_frames=9))


def test_the_tiny_model_not_yet_made_says_how_to_make_it():
    with pytest.raises(ModelNotInstalled, match="make-tiny"):
        generate(GenerationRequest(prompt="p", model="tiny", width=64, height=64, num_frames=9))


def test_request_problems_are_reported_before_the_model_is_looked_up():
    with pytest.raises(InvalidRequest, match="8k\\+1"):
        generate(GenerationRequest(prompt="p", model="no-such-model", num_frames=10))


def test_an_unwritable_job_folder_is_a_generation_error(tiny_model, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    request = GenerationRequest(
        prompt="p", model=tiny_model, width=64, height=64, num_frames=9, job_dir=str(blocked / "job")
    )
    with pytest.raises(GenerationError, match="during first_pass"):
        list(Pipeline(resolve_model(tiny_model)).generate(request))
