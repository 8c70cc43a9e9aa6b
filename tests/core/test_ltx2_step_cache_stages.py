"""The step cache in the LTX-2 stages, on tiny random models.

Threshold 0 runs every step through the cache's split forward and must give every stage's latents
bit for bit as without the cache (distilled two-stage, dev guided with CFG + STG + modality
guidance, guidance that skips steps, streamed blocks, quantised). A positive threshold skips steps:
the events, the stage summaries and the block reads say which; the latents stay close.

Measured (mlx 0.32.4, CPU), max |difference| / max |uncached| over the final video and audio
latents, with the "faster" preset (first-block cache, 0.05): distilled two-stage 3 of 8 first-pass
steps skipped (2, 4, 5), none of stage 2's 3, 1.7e-3; dev guided 12 steps 3 skipped (2, 7, 9),
4.1e-3. With every step but the first and last skipped: 1.4e-2 and 7.4e-2.
"""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.pipeline.events import StepDone
from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.ltx2.guidance import DevGuidance, GuiderParams, Pass
from ltx_mlx_core.pipeline.ltx2.stages import (
    StageFinished,
    dev_one_stage_plan,
    dev_plans,
    distilled_plans,
    iter_one_stage,
    iter_two_stage,
)
from ltx_mlx_core.pipeline.step_cache import step_cache_settings
from ltx_mlx_core.pipeline.step_cache_ltx2 import LTX2StepCache
from ltx_mlx_core.pipeline.step_cache_rules import CacheRule, StepCacheSettings
from ltx_mlx_core.weights import residency
from ltx_mlx_core.weights.quantize import quantize_linear_layers
from ltx_mlx_core.weights.residency import split_block_weights, stream_transformer_blocks
from tests.core.test_ltx2_pipeline_core import TINY, Models, job

ZERO = StepCacheSettings(CacheRule.FIRST_BLOCK, 0.0)
SKIP_ALL = StepCacheSettings(CacheRule.FIRST_BLOCK, 1e6)  # every step but a pass's first and last reuses
FULL = GuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,), rescale_scale=0.7, modality_scale=3.0)
GUIDED = DevGuidance.constant(FULL, replace(FULL, cfg_scale=7.0))
DEV_STEPS = 12


@pytest.fixture(scope="module")
def models() -> Models:
    return Models()


def _negative(length: int) -> PromptEmbeddings:
    key = mx.random.key(2)
    return PromptEmbeddings(mx.random.normal((1, length, 12), key=key), mx.random.normal((1, length, 12), key=key + 1))


def _run(flow: str, models: Models, settings: StepCacheSettings | None, transformer=None) -> list:
    """Every event of a recipe; `transformer` replaces the models' first one."""
    provide = models.provider(0) if transformer is None else (lambda: transformer)
    if flow == "distilled_two_stage":
        request = job()
        return list(iter_two_stage(request, *distilled_plans(request, provide), models.media(), step_cache=settings))
    guidance = GUIDED
    negative = _negative(5)
    if flow == "dev_two_stage":
        request = job(negative=negative)
        plans = dev_plans(request, provide, models.provider(1), 4, guidance)
        return list(iter_two_stage(request, *plans, models.media(), step_cache=settings))
    if flow == "dev_negative_of_other_length":  # the unconditional pass is a transformer call of its own
        negative = _negative(7)
    if flow == "dev_guidance_skips_steps":  # whole steps without a transformer call; video sits out some
        guidance = DevGuidance.constant(replace(FULL, skip_step=1), replace(FULL, skip_step=2))
    request = job(height=64, width=64, negative=negative)
    return list(iter_one_stage(request, dev_one_stage_plan(request, provide, DEV_STEPS, guidance), None, settings))


def _latents(events: list) -> list[np.ndarray]:
    return [np.array(x) for e in events if isinstance(e, StageFinished) for x in (e.latents.video, e.latents.audio)]


def _summaries(events: list) -> dict[str, dict]:
    return {e.name: e.step_cache for e in events if isinstance(e, StageFinished) and e.step_cache is not None}


def _relative_error(reference: list[np.ndarray], other: list[np.ndarray]) -> float:
    return max(float(np.abs(a - b).max() / np.abs(a).max()) for a, b in zip(reference, other))


@pytest.mark.parametrize(
    "flow",
    [
        "distilled_two_stage",
        "dev_guided_cfg_stg",
        "dev_two_stage",
        "dev_negative_of_other_length",
        "dev_guidance_skips_steps",
    ],
)
def test_threshold_zero_is_bit_identical_to_no_cache(models, flow):
    plain, cached = _run(flow, models, None), _run(flow, models, ZERO)
    for a, b in zip(_latents(plain), _latents(cached), strict=True):
        assert np.array_equal(a, b)
    steps = [e for e in cached if isinstance(e, StepDone)]
    assert not any(e.cached or e.skipped for e in steps)
    summaries = _summaries(cached)
    assert summaries and all(s["steps_skipped"] == 0 and s["branch_passes_reused"] == 0 for s in summaries.values())
    assert not _summaries(plain)


def test_each_step_records_the_guidance_passes_of_every_call(models):
    """Two transformer calls per step (the negative prompt's context is longer): one record per step
    naming every pass; steps the guidance skips altogether have none."""
    events = _run("dev_negative_of_other_length", models, SKIP_ALL)
    summary = _summaries(events)["denoise"]
    assert summary["steps"] == DEV_STEPS and summary["branch_passes_reused"] == 4 * (DEV_STEPS - 2)
    skipping = _run("dev_guidance_skips_steps", models, ZERO)
    # skip_step 1 (video: odd steps) and 2 (audio: all but every third): 4 of 12 steps call no transformer.
    assert _summaries(skipping)["denoise"]["steps"] == DEV_STEPS - 4
    with pytest.raises(ValueError, match="TeaCache"):
        LTX2StepCache(StepCacheSettings(CacheRule.TEACACHE, 0.1), DEV_STEPS)


@pytest.mark.parametrize(
    ("flow", "expected", "bound"),
    [
        ("distilled_two_stage", {"first_pass": [2, 4, 5], "second_pass": []}, 3e-3),
        ("dev_guided_cfg_stg", {"denoise": [2, 7, 9]}, 6e-3),
    ],
)
def test_the_faster_preset_skips_steps_and_stays_close(models, flow, expected, bound):
    settings = step_cache_settings("faster", "ltx2")
    assert settings.rule is CacheRule.FIRST_BLOCK
    plain, cached = _run(flow, models, None), _run(flow, models, settings)
    summaries = _summaries(cached)
    assert {name: s["skipped_steps"] for name, s in summaries.items()} == expected
    for name, skipped in expected.items():
        steps = [e for e in cached if isinstance(e, StepDone) and e.stage == name]
        assert [e.step for e in steps if e.cached] == skipped
        assert [e.skipped for e in steps] == [sum(s <= e.step for s in skipped) for e in steps]
    assert 0 < _relative_error(_latents(plain), _latents(cached)) < bound


def test_each_stage_has_a_fresh_cache_computing_its_first_and_last_steps(models):
    events = _run("distilled_two_stage", models, SKIP_ALL)
    summaries = _summaries(events)
    assert summaries["first_pass"]["skipped_steps"] == [2, 3, 4, 5, 6, 7]
    assert summaries["second_pass"]["skipped_steps"] == [2]
    assert summaries["first_pass"]["steps_computed"] == 2 and summaries["second_pass"]["steps_computed"] == 2
    # Resumed from the stage-1 checkpoint, stage 2 needs nothing of stage 1's cache.
    request = job()
    first = next(e.latents for e in events if isinstance(e, StageFinished))
    plans = distilled_plans(request, models.provider(0))
    resumed = list(iter_two_stage(request, *plans, models.media(), first_result=first, step_cache=SKIP_ALL))
    assert _summaries(resumed) == {"second_pass": summaries["second_pass"]}
    for a, b in zip(_latents(events)[-2:], _latents(resumed)[-2:], strict=True):
        assert np.array_equal(a, b)
    dev = _summaries(_run("dev_guided_cfg_stg", models, SKIP_ALL))["denoise"]
    # Four passes per step (conditional, negative, perturbed, isolated), each reusing on its own.
    assert dev["skipped_steps"] == list(range(2, DEV_STEPS)) and dev["branch_passes_reused"] == 4 * (DEV_STEPS - 2)


def _copy(models: Models) -> LTX2Transformer:
    model = LTX2Transformer(TINY)
    model.update(models.transformers[0].parameters())
    return model


def test_a_skipped_step_reads_only_the_first_streamed_block(models, monkeypatch):
    streamed = _copy(models)
    blocks = {k: v for k, v in tree_flatten(streamed.parameters()) if k.startswith("transformer_blocks.")}
    stream_transformer_blocks(streamed, lambda: split_block_weights(blocks, mx.float32))
    reads: list[int] = []
    real = residency.StreamedBlock._with_weights

    def recording(self, method, *args, **kwargs):
        reads.append(self._index)
        return real(self, method, *args, **kwargs)

    monkeypatch.setattr(residency.StreamedBlock, "_with_weights", recording)
    plain = _run("distilled_two_stage", models, None)
    for a, b in zip(_latents(plain), _latents(_run("distilled_two_stage", models, ZERO, streamed)), strict=True):
        assert np.array_equal(a, b)
    request = job()
    per_step = []
    for event in iter_two_stage(
        request, *distilled_plans(request, lambda: streamed), models.media(), step_cache=SKIP_ALL
    ):
        # The generator builds each step's graph (and reads its blocks) before yielding its StepDone.
        if isinstance(event, StepDone) and event.stage != "upsample":
            per_step.append((event.cached, list(reads)))
        reads.clear()
    computed, skipped = (False, [0, 1]), (True, [0])
    assert per_step == [computed] + [skipped] * 6 + [computed] * 2 + [skipped] + [computed]


def test_a_quantised_transformer_runs_through_the_cache(models):
    quantised = _copy(models)
    quantize_linear_layers(quantised, 8)
    mx.eval(quantised.parameters())
    assert any(
        k.endswith(".scales") and k.startswith("transformer_blocks.") for k, _ in tree_flatten(quantised.parameters())
    )
    plain = _run("dev_guided_cfg_stg", models, None, quantised)
    for a, b in zip(_latents(plain), _latents(_run("dev_guided_cfg_stg", models, ZERO, quantised)), strict=True):
        assert np.array_equal(a, b)
    skipping = _run("dev_guided_cfg_stg", models, SKIP_ALL, quantised)
    assert _summaries(skipping)["denoise"]["steps_skipped"] == DEV_STEPS - 2
    assert np.isfinite(_latents(skipping)[0]).all()


def test_magcache_calibration_measures_each_guidance_pass(models):
    """A calibrating run skips nothing (bit for bit) and measures a ratio per step and pass: the table
    a MagCache run on LTX-2 needs (none is published)."""
    settings = StepCacheSettings(CacheRule.MAGCACHE, 0.0, calibrate=True)
    request = job(height=64, width=64, negative=_negative(5))
    cache = LTX2StepCache(settings, DEV_STEPS)
    plan = dev_one_stage_plan(request, models.provider(0), DEV_STEPS, GUIDED)
    calibrating = _latents(list(iter_one_stage(request, plan, None, cache)))
    plain = _run("dev_guided_cfg_stg", models, None)
    for a, b in zip(_latents(plain), calibrating, strict=True):
        assert np.array_equal(a, b)
    for kind in Pass:
        ratios = cache.calibration_ratios(kind)
        assert len(ratios) == DEV_STEPS and ratios[0] == 1.0 and all(np.isfinite(ratios))
    assert len({tuple(cache.calibration_ratios(kind)) for kind in Pass}) == len(Pass)
