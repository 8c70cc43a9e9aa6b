"""Pipeline.generate on the tiny model: event order and counts, determinism, seeds, refusals."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

import ltx_mlx_core.models.ltxv.text_encoding as text_encoding
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline import run
from ltx_mlx_core.pipeline.block_eval import EVERY_ENV
from ltx_mlx_core.pipeline.events import Finished, Preview, StageStarted, StepDone
from ltx_mlx_core.pipeline.pipeline import Pipeline, PipelineSettings
from ltx_mlx_core.pipeline.request import ConditioningItem, GenerationRequest
from ltx_mlx_core.pipeline.tiling import TilingConfig
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.tiny import make_tiny_model

# configs/tiny.yaml: 3 first-pass steps, 2 second-pass steps.
STEPS = {"first_pass": 3, "upsample": 1, "second_pass": 2}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_model(tmp_path_factory.mktemp("models") / "tiny"))


def _request(model: str, **changes) -> GenerationRequest:
    fields = dict(prompt="a red ball rolls", model=model, width=64, height=64, num_frames=17, fps=12.0, seeds=[5])
    fields.update(changes)
    return GenerationRequest(**fields)


def _events(request: GenerationRequest) -> list:
    return list(Pipeline(resolve_model(request.model)).generate(request))


def test_events_follow_the_stages_with_one_step_done_per_step(tiny_model):
    events = _events(_request(tiny_model))
    stages = [e.name for e in events if isinstance(e, StageStarted)]
    assert stages == ["load", "text_encode", "first_pass", "upsample", "second_pass", "decode"]
    assert [e.index for e in events if isinstance(e, StageStarted)] == list(range(1, 7))
    assert all(e.total == 6 for e in events if isinstance(e, StageStarted))
    for stage, count in STEPS.items():
        steps = [e for e in events if isinstance(e, StepDone) and e.stage == stage]
        assert [s.step for s in steps] == list(range(1, count + 1))
        assert all(s.total == count and s.eta >= 0 and s.elapsed >= 0 for s in steps)
    assert any(isinstance(e, StepDone) and e.stage == "decode" for e in events)
    # A latent preview right after every denoising step, small uint8 RGB frames.
    for i, event in enumerate(events):
        if isinstance(event, StepDone) and event.stage in ("first_pass", "second_pass"):
            preview = events[i + 1]
            assert isinstance(preview, Preview) and preview.kind == "latent" and preview.step == event.step
            assert preview.frames.dtype == np.uint8 and preview.frames.ndim == 4 and preview.frames.shape[-1] == 3
    decoded = [e for e in events if isinstance(e, Preview) and e.kind == "decoded"]
    assert len(decoded) == 1 and decoded[0].frames.dtype == np.uint8
    assert isinstance(events[-1], Finished) and sum(isinstance(e, Finished) for e in events) == 1
    result = events[-1].result
    assert len(result.videos) == 1 and result.videos[0].shape == (17, 64, 64, 3)
    assert result.videos[0].dtype == np.uint8 and result.fps == 12.0
    assert set(result.timings) >= {"load", "text_encode", "first_pass", "second_pass", "decode", "total"}


def test_each_denoising_step_is_exactly_one_evaluation(tiny_model, monkeypatch):
    # With evaluation at block boundaries off: the step's own evaluation is the only one (the block
    # evaluator's waits are tested in test_block_eval.py).
    monkeypatch.setenv(EVERY_ENV, "0")
    calls = []
    real_eval = mx.eval
    monkeypatch.setattr(mx, "eval", lambda *arrays: (calls.append(1), real_eval(*arrays))[1])
    evals_per_step = []
    for event in Pipeline(resolve_model(tiny_model)).generate(_request(tiny_model)):
        if isinstance(event, StepDone) and event.stage in ("first_pass", "second_pass"):
            evals_per_step.append(len(calls))
        calls.clear()
    assert evals_per_step == [1] * (STEPS["first_pass"] + STEPS["second_pass"])


def test_same_seed_gives_the_same_video_and_another_seed_another(tiny_model):
    first = run(_request(tiny_model, seeds=[9])).videos[0]
    again = run(_request(tiny_model, seeds=[9])).videos[0]
    other = run(_request(tiny_model, seeds=[10])).videos[0]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_batch_of_seeds_gives_each_seeds_own_video(tiny_model):
    batch = run(_request(tiny_model, seeds=[1, 2]))
    assert batch.seeds == [1, 2] and len(batch.videos) == 2
    assert np.array_equal(batch.videos[0], run(_request(tiny_model, seeds=[1])).videos[0])
    assert np.array_equal(batch.videos[1], run(_request(tiny_model, seeds=[2])).videos[0])


def test_an_empty_prompt_still_generates(tiny_model):
    assert run(_request(tiny_model, prompt="")).videos[0].shape == (17, 64, 64, 3)


def test_cfg_encodes_the_negative_prompt_and_changes_the_result(tiny_model):
    overrides = {"first_pass": {"guidance_scale": 3.0}, "second_pass": {"guidance_scale": 3.0}}
    events = _events(_request(tiny_model, config_overrides=overrides))
    text_stage = next(e for e in events if isinstance(e, StageStarted) and e.name == "text_encode")
    assert "negative" in text_stage.detail
    plain = run(_request(tiny_model)).videos[0]
    assert not np.array_equal(events[-1].result.videos[0], plain)


def test_single_scale_config_runs_one_denoise_stage(tiny_model, tmp_path):
    config = tmp_path / "base.yaml"
    config.write_text(
        "pipeline_type: base\ntimesteps: [1.0, 0.6, 0.3]\nprecision: float32\ntext_encoder_max_tokens: 16\n"
    )
    events = _events(_request(tiny_model, pipeline_config=str(config), width=96, height=64))
    assert [e.name for e in events if isinstance(e, StageStarted)] == ["load", "text_encode", "denoise", "decode"]
    assert len([e for e in events if isinstance(e, StepDone) and e.stage == "denoise"]) == 3
    assert events[-1].result.videos[0].shape == (17, 64, 96, 3)


def test_image_conditioning_runs(tiny_model):
    frames = np.full((1, 64, 64, 3), 180, np.uint8)
    request = _request(tiny_model, conditioning=[ConditioningItem(frames=frames, frame=0, strength=1.0)])
    assert run(request).videos[0].shape == (17, 64, 64, 3)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"num_frames": 18}, "8k+1"),
        ({"width": 70}, "multiple of 32"),
        ({"height": 0}, "multiple of 32"),
        ({"conditioning": [ConditioningItem(frames=np.zeros((1, 64, 64, 3), np.uint8), frame=17)]}, "outside"),
        ({"conditioning": [ConditioningItem(path="nowhere.png")]}, "does not exist"),
        (
            {"width": 32},
            "too small for a two-pass pipeline with downscale factor 0.5: the first pass would be 0x32. Use at least 64 pixels",
        ),
        ({"seeds": []}, "seed"),
        ({"seeds": [4, 4]}, "each seed"),
        ({"pipeline_config": "no-such-config"}, "not found"),
    ],
)
def test_invalid_requests_are_refused_before_any_work(tiny_model, changes, fragment):
    with pytest.raises(InvalidRequest) as refused:
        Pipeline(resolve_model(tiny_model)).generate(_request(tiny_model, **changes))
    assert fragment in str(refused.value)


def test_decoded_preview_comes_as_soon_as_the_first_frames_are_final(tiny_model):
    # 17 frames = 3 latent frames; temporal tiles of 2 latent frames overlapping by 1, 2x2 spatial tiles.
    tiling = TilingConfig(spatial_tile=1, spatial_overlap=0, temporal_tile=2, temporal_overlap=1)
    pipeline = Pipeline(resolve_model(tiny_model), PipelineSettings(tiling=tiling))
    events = list(pipeline.generate(_request(tiny_model)))
    decode_steps = [i for i, e in enumerate(events) if isinstance(e, StepDone) and e.stage == "decode"]
    previews = [i for i, e in enumerate(events) if isinstance(e, Preview) and e.kind == "decoded"]
    assert len(decode_steps) == 8 and len(previews) == 1
    # After the first temporal span's 4 spatial tiles, frames 0..7 (before the next span) are final.
    assert decode_steps[3] < previews[0] < decode_steps[4]
    assert events[previews[0]].frames.shape == (8, 64, 64, 3)
    # Those frames are final: the finished video starts with exactly them.
    assert np.array_equal(events[previews[0]].frames, events[-1].result.videos[0][:8])


@pytest.mark.parametrize("residency", ["stream_components", "stream_blocks"])
def test_residency_modes_change_memory_not_the_video(tiny_model, residency):
    events = _events(_request(tiny_model, residency=residency, num_frames=9))
    load = next(e for e in events if isinstance(e, StageStarted) and e.name == "load")
    assert load.detail == f"residency: {residency}"
    resident = run(_request(tiny_model, residency="resident", num_frames=9)).videos[0]
    assert np.array_equal(events[-1].result.videos[0], resident)


@pytest.mark.parametrize("guidance, expected", [(1.0, ["a red ball rolls"]), (3.0, ["a red ball rolls", "blur"])])
def test_negative_prompt_is_encoded_only_with_cfg(tiny_model, monkeypatch, guidance, expected):
    encoded = []
    real = text_encoding.encode_prompts

    def recording(tokenizer, encoder, prompts, **kwargs):
        encoded.append(list(prompts))
        return real(tokenizer, encoder, prompts, **kwargs)

    monkeypatch.setattr(text_encoding, "encode_prompts", recording)
    overrides = {"first_pass": {"guidance_scale": guidance}}
    run(_request(tiny_model, negative_prompt="blur", config_overrides=overrides, num_frames=9))
    assert encoded == [expected]
