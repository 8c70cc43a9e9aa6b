"""The LTX-2 transformer's step-cache hooks: the split forward is the forward, and the streams decide together."""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.perturbations import ISOLATE_MODALITIES, Perturbations, stg
from ltx_mlx_core.models.ltx2.positions import audio_positions, video_positions
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer, ModalityInput
from ltx_mlx_core.pipeline.step_cache import StepCache
from ltx_mlx_core.pipeline.step_cache_ltx2 import cached_av_call
from ltx_mlx_core.pipeline.step_cache_rules import CacheRule, StepCacheSettings

TINY = dict(
    num_attention_heads=2, attention_head_dim=8, in_channels=8, out_channels=8, num_layers=3,
    cross_attention_dim=16, caption_channels=12, audio_num_attention_heads=2, audio_attention_head_dim=4,
    audio_in_channels=6, audio_out_channels=6, audio_cross_attention_dim=8, rope_type="split",
    frequencies_precision="float64", av_ca_timestep_scale_multiplier=1000.0,
)  # fmt: skip
# LTX-2.3's switches: gated attention and the prompt-modulated text cross-attention.
TINY_23 = dict(TINY, apply_gated_attention=True, cross_attention_adaln=True)
STEPS = 6


def _model(changes: dict, seed: int = 0) -> LTX2Transformer:
    model = LTX2Transformer(LTX2Config(**changes))
    key = mx.random.key(seed)
    parameters = tree_flatten(model.parameters())
    keys = mx.random.split(key, len(parameters))
    model.update(tree_unflatten([
        (name, value + 0.2 * mx.random.normal(value.shape, key=k)) for (name, value), k in zip(parameters, keys)
    ]))  # fmt: skip
    mx.eval(model.parameters())
    return model


def _inputs(
    batch: int, sigma: float, seed: int = 1, audio_sigma: float | None = None
) -> tuple[ModalityInput, ModalityInput]:
    keys = mx.random.split(mx.random.key(seed), 4)
    frames, height, width, audio_frames, length = 2, 2, 3, 5, 4
    mask = mx.array(np.array([[1, 1, 1, 0]] * batch))
    video = ModalityInput(
        latent=mx.random.normal((batch, frames * height * width, 8), key=keys[0]),
        sigma=mx.full((batch,), sigma),
        timesteps=mx.full((batch, frames * height * width), sigma),
        positions=video_positions(batch, frames, height, width, fps=24.0),
        context=mx.random.normal((batch, length, 12), key=keys[1]),
        context_mask=mask,
    )
    audio_sigma = sigma if audio_sigma is None else audio_sigma
    audio = ModalityInput(
        latent=mx.random.normal((batch, audio_frames, 6), key=keys[2]),
        sigma=mx.full((batch,), audio_sigma),
        timesteps=mx.full((batch, audio_frames), audio_sigma),
        positions=audio_positions(batch, audio_frames),
        context=mx.random.normal((batch, length, 12), key=keys[3]),
        context_mask=mask,
    )
    return video, audio


def _equal(a: mx.array | None, b: mx.array | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(np.array(a), np.array(b)))


@pytest.mark.parametrize("changes", [TINY, TINY_23], ids=["ltx2", "ltx23"])
def test_split_forward_is_bit_identical_to_the_forward(changes):
    model = _model(changes)
    video, audio = _inputs(batch=2, sigma=0.7)
    perturbations = Perturbations((stg([1]), ISOLATE_MODALITIES))
    for case in [(video, audio, perturbations), (video, None, None), (None, audio, None),
                 (video, replace(audio, enabled=False), None)]:  # fmt: skip
        plain = model(*case)
        prepared = model.prepare(*case)
        after_first = model.run_blocks(prepared, prepared.video_x, prepared.audio_x, 0, 1)
        split = model.outputs(prepared, *model.run_blocks(prepared, *after_first, 1))
        mx.eval(plain, split)
        assert _equal(plain[0], split[0]) and _equal(plain[1], split[1])


def test_a_sub_batch_of_entries_is_those_rows_of_the_batch():
    model = _model(TINY)
    video, audio = _inputs(batch=3, sigma=0.5)
    perturbations = Perturbations(((), stg([0, 2]), ISOLATE_MODALITIES))
    whole = model(video, audio, perturbations)
    prepared = model.prepare(video, audio, perturbations).entries([2, 0])
    part = model.outputs(prepared, *model.run_blocks(prepared, prepared.video_x, prepared.audio_x))
    for full, sub in zip(whole, part):
        np.testing.assert_allclose(np.array(sub), np.array(full)[[2, 0]], rtol=1e-5, atol=1e-5)


def _denoise(model, settings: StepCacheSettings | None, branches: list[str], perturbations, audio_enabled=True):
    """A few Euler steps of both streams; per step the velocities and (cached) the step record."""
    batch = len(branches)
    video, audio = _inputs(batch, 1.0)
    audio = replace(audio, enabled=audio_enabled)
    cache = None if settings is None else StepCache(settings, STEPS)
    sigmas = np.linspace(1.0, 0.1, STEPS + 1)
    outputs = []
    for i in range(STEPS):
        sigma = float(sigmas[i])
        video = replace(video, sigma=mx.full((batch,), sigma), timesteps=mx.full(video.timesteps.shape, sigma))
        audio = replace(audio, sigma=mx.full((batch,), sigma), timesteps=mx.full(audio.timesteps.shape, sigma))
        if cache is None:
            v, a = model(video, audio, perturbations)
            record = None
        else:
            v, a, record = cached_av_call(model, cache, i, branches, video, audio, perturbations)
        dt = float(sigmas[i + 1] - sigmas[i])
        video = replace(video, latent=video.latent + dt * v)
        if audio_enabled:
            audio = replace(audio, latent=audio.latent + dt * a)
        mx.eval(video.latent, audio.latent)
        outputs.append((v, a, record))
    return outputs


@pytest.mark.parametrize(
    "settings",
    [
        StepCacheSettings(CacheRule.FIRST_BLOCK, 0.0),
        StepCacheSettings(CacheRule.MAGCACHE, 0.0, mag_ratios=(1.0,) * STEPS, retention_ratio=0.0),
    ],
    ids=["first_block", "magcache"],
)
@pytest.mark.parametrize("audio_enabled", [True, False], ids=["av", "audio_context_only"])
def test_threshold_zero_is_bit_identical_to_no_cache(settings, audio_enabled):
    model = _model(TINY_23)
    branches = ["text", "perturbed"]
    perturbations = Perturbations(((), stg([1])))
    plain = _denoise(model, None, branches, perturbations, audio_enabled)
    cached = _denoise(model, settings, branches, perturbations, audio_enabled)
    for (v, a, _), (cv, ca, record) in zip(plain, cached):
        assert _equal(v, cv) and _equal(a, ca)
        assert record.computed == ("text", "perturbed") and not record.reused


def test_video_and_audio_decide_together():
    """Only the audio changes between two steps: the first-block cache recomputes both streams, and
    when neither changes it reuses both."""
    model = _model(TINY)
    cache = StepCache(StepCacheSettings(CacheRule.FIRST_BLOCK, 0.05, compute_last_step=False), 10)
    video, audio = _inputs(1, 0.8)
    _, _, first = cached_av_call(model, cache, 0, ["text"], video, audio)
    moved_audio = replace(audio, latent=audio.latent + 2.0)
    v, a, second = cached_av_call(model, cache, 1, ["text"], video, moved_audio)
    plain_v, plain_a = model(video, moved_audio)
    assert first.computed == ("text",) and second.computed == ("text",)
    assert _equal(v, plain_v) and _equal(a, plain_a)  # video recomputed too, not reused beside fresh audio
    v, a, third = cached_av_call(model, cache, 2, ["text"], video, moved_audio)
    assert third.skipped
    # Both streams reused their residual: the output is the last computed one's (same inputs here).
    np.testing.assert_allclose(np.array(v), np.array(plain_v), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(a), np.array(plain_a), rtol=1e-5, atol=1e-5)


def test_branches_decide_apart_and_the_computing_one_runs_alone():
    """With a huge threshold nothing but step 0 computes; a branch that appears later starts afresh
    and computes alone while the others reuse."""
    model = _model(TINY)
    cache = StepCache(StepCacheSettings(CacheRule.FIRST_BLOCK, 1e6, compute_last_step=False), 10)
    video, audio = _inputs(2, 0.8)
    pair = Perturbations(((), stg([1])))
    cached_av_call(model, cache, 0, ["text", "perturbed"], video, audio, pair)
    _, _, reused = cached_av_call(model, cache, 1, ["text", "perturbed"], video, audio, pair)
    assert reused.skipped
    three_video, three_audio = _inputs(3, 0.8)
    triple = Perturbations(((), stg([1]), ISOLATE_MODALITIES))
    v, a, record = cached_av_call(model, cache, 2, ["text", "perturbed", "isolated"], three_video, three_audio, triple)
    assert record.computed == ("isolated",) and record.reused == ("text", "perturbed")
    plain_v, plain_a = model(three_video, three_audio, triple)
    np.testing.assert_allclose(np.array(v)[2], np.array(plain_v)[2], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(a)[2], np.array(plain_a)[2], rtol=1e-5, atol=1e-5)


def test_teacache_is_refused_for_ltx2():
    model = _model(TINY)
    video, audio = _inputs(1, 0.5)
    with pytest.raises(ValueError, match="TeaCache"):
        cached_av_call(model, StepCache(StepCacheSettings(CacheRule.TEACACHE, 0.1), 4), 0, ["text"], video, audio)


def test_a_stream_switched_off_or_on_starts_every_branch_afresh():
    model = _model(TINY)
    cache = StepCache(StepCacheSettings(CacheRule.FIRST_BLOCK, 1e6, compute_last_step=False), 10)
    video, audio = _inputs(1, 0.8)
    records = [
        cached_av_call(model, cache, step, ["text"], video, replace(audio, enabled=enabled))[2]
        for step, enabled in enumerate([True, True, False, False, True])
    ]
    assert [r.skipped for r in records] == [False, True, False, True, False]


def test_a_context_only_stream_follows_the_computing_rows_of_a_sub_batch():
    model = _model(TINY)
    cache = StepCache(StepCacheSettings(CacheRule.FIRST_BLOCK, 1e6, compute_last_step=False), 10)
    video, audio = _inputs(2, 0.8)
    audio = replace(audio, enabled=False)
    cached_av_call(model, cache, 0, ["text", "perturbed"], video, audio, Perturbations(((), stg([1]))))
    three_video, three_audio = _inputs(3, 0.8)
    three_audio = replace(three_audio, enabled=False)
    triple = Perturbations(((), stg([1]), ISOLATE_MODALITIES))
    v, a, record = cached_av_call(model, cache, 1, ["text", "perturbed", "isolated"], three_video, three_audio, triple)
    assert record.computed == ("isolated",)
    plain_v, plain_a = model(three_video, three_audio, triple)
    np.testing.assert_allclose(np.array(v)[2], np.array(plain_v)[2], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(a), np.array(plain_a), rtol=1e-5, atol=1e-5)  # not denoised: unchanged
