"""Evaluation at transformer block boundaries: same numbers, chunks as asked, on by default in both loops."""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.bench.workloads import VideoShape, randomize_parameters, transformer_step_inputs
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer, ModalityInput
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, TransformerConfig
from ltx_mlx_core.pipeline import block_eval, denoise
from ltx_mlx_core.pipeline.block_eval import (
    EVERY_ENV,
    IN_FLIGHT_ENV,
    POINTS_ENV,
    BlockEvaluator,
    block_evaluator,
    eval_every_blocks,
)
from ltx_mlx_core.pipeline.conditioning import ConditionedTokens
from ltx_mlx_core.pipeline.denoise import TextConditioning, iter_denoise
from ltx_mlx_core.pipeline.guidance import StepGuidance
from ltx_mlx_core.pipeline.ltx2 import denoise as ltx2_denoise
from ltx_mlx_core.pipeline.ltx2.conditioning import audio_state, video_state
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout

LAYERS = 4
TINY_LTXV = TransformerConfig(
    num_attention_heads=2, attention_head_dim=16, num_layers=LAYERS, cross_attention_dim=32, caption_channels=24
)
TINY_LTX2 = dict(
    num_attention_heads=2, attention_head_dim=8, in_channels=8, out_channels=8, num_layers=LAYERS,
    cross_attention_dim=16, caption_channels=12, audio_num_attention_heads=2, audio_attention_head_dim=4,
    audio_in_channels=128, audio_out_channels=128, audio_cross_attention_dim=8, rope_type="split",
    frequencies_precision="float64", av_ca_timestep_scale_multiplier=1000.0,
)  # fmt: skip
SHAPE = VideoShape(96, 64, 9)


@pytest.fixture(scope="module")
def ltxv() -> LTXVideoTransformer:
    model = LTXVideoTransformer(TINY_LTXV)
    randomize_parameters(model, mx.float32, std=0.2)
    return model


def _spy(monkeypatch, module) -> list[BlockEvaluator | None]:
    created: list[BlockEvaluator | None] = []

    def make(every=None, **settings):
        created.append(block_eval.block_evaluator(every, **settings))
        return created[-1]

    monkeypatch.setattr(module, "block_evaluator", make)
    monkeypatch.delenv(IN_FLIGHT_ENV, raising=False)
    return created


@pytest.mark.parametrize("every, chunks, in_flight", [(1, LAYERS, 2), (1, LAYERS, 1), (2, LAYERS // 2, 2), (3, 1, 1)])
def test_evaluating_every_few_blocks_changes_no_number(ltxv, every, chunks, in_flight):
    inputs = transformer_step_inputs(ltxv, SHAPE, batch=2)
    whole = ltxv(*inputs)
    evaluator = BlockEvaluator(every, in_flight)
    chunked = ltxv(*inputs, after_block=evaluator)
    evaluator.finish()
    assert evaluator.scheduled == chunks
    np.testing.assert_array_equal(np.array(chunked), np.array(whole))


def test_the_settings_come_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(EVERY_ENV, raising=False)
    monkeypatch.delenv(IN_FLIGHT_ENV, raising=False)
    assert eval_every_blocks() == block_eval.DEFAULT_EVERY == 1
    monkeypatch.setenv(EVERY_ENV, "4")
    assert eval_every_blocks() == 4 and eval_every_blocks(2) == 2
    monkeypatch.setenv(EVERY_ENV, "0")
    assert block_evaluator() is None
    monkeypatch.setenv(EVERY_ENV, "every block")
    with pytest.raises(InvalidRequest, match=EVERY_ENV):
        eval_every_blocks()
    monkeypatch.delenv(EVERY_ENV)
    assert BlockEvaluator().in_flight == 2
    monkeypatch.setenv(IN_FLIGHT_ENV, "1")
    assert BlockEvaluator().in_flight == 1 and BlockEvaluator(in_flight=2).in_flight == 2
    monkeypatch.setenv(IN_FLIGHT_ENV, "3")
    with pytest.raises(InvalidRequest, match=IN_FLIGHT_ENV):
        BlockEvaluator()


def test_the_ltxv_loop_evaluates_every_block_of_every_guided_step(ltxv, monkeypatch):
    monkeypatch.delenv(EVERY_ENV, raising=False)
    created = _spy(monkeypatch, denoise)
    latents, grid, text, mask, _ = transformer_step_inputs(ltxv, SHAPE)
    state = ConditionedTokens(latents, grid, None, 0)
    guidance = [StepGuidance(cfg=3.0, stg=1.0, rescale=0.0, skip_blocks=[1])] * 2
    conditioning = TextConditioning(text, mask, mx.zeros_like(text), mask)
    steps = iter_denoise(ltxv, state, [1.0, 0.5], guidance, conditioning, 30.0, mx.random.key(0))
    for latents in steps:
        mx.eval(latents)
    (evaluator,) = created
    assert evaluator.scheduled == 2 * LAYERS


def test_the_ltx2_loop_evaluates_every_block_and_zero_turns_it_off(monkeypatch):
    model = LTX2Transformer(LTX2Config(**TINY_LTX2))
    randomize_parameters(model, mx.float32, std=0.2)
    layout = AudioLatentLayout()
    video = video_state(1, (2, 2, 3), 24.0, None, 8)
    video = video.with_latent(mx.random.normal(video.latent.shape, key=mx.random.key(1)))
    audio = audio_state(1, 5, layout, None)
    audio = audio.with_latent(mx.random.normal(audio.latent.shape, key=mx.random.key(2)))
    prompt = ltx2_denoise.PromptEmbeddings(
        mx.random.normal((1, 4, 12), key=mx.random.key(3)), mx.random.normal((1, 4, 12), key=mx.random.key(4))
    )
    results = {}
    for every in (1, 0):
        created = _spy(monkeypatch, ltx2_denoise)
        steps = ltx2_denoise.iter_denoise(model, video, audio, [1.0, 0.6, 0.0], prompt, eval_every_blocks=every)
        for step in steps:
            mx.eval(*step.pending)
        results[every] = (np.array(step.video.latent), np.array(step.audio.latent))
        evaluator = created[0]
        assert (evaluator.scheduled if evaluator else 0) == (2 * LAYERS if every else 0)
        assert evaluator is None or evaluator.in_flight == 2  # the LTX-2 loop's default
    for chunked, whole in zip(results[1], results[0]):
        np.testing.assert_array_equal(chunked, whole)


@pytest.mark.parametrize(
    "every, points, in_flight, chunks", [(1, 2, 2, 2 * LAYERS), (1, 2, 1, 2 * LAYERS), (2, 2, 2, 4)]
)
def test_a_point_inside_each_ltx2_block_changes_no_number(every, points, in_flight, chunks):
    model = LTX2Transformer(LTX2Config(**TINY_LTX2))
    randomize_parameters(model, mx.float32, std=0.2)
    video = video_state(1, (2, 2, 3), 24.0, None, 8)
    audio = audio_state(1, 5, AudioLatentLayout(), None)

    def inputs(state, seed):
        latent = mx.random.normal(state.latent.shape, key=mx.random.key(seed))
        return ModalityInput(latent, mx.array([0.7]), state.timesteps(0.7), state.positions, mx.ones((1, 4, 12)))

    streams = inputs(video, 5), inputs(audio, 6)
    whole = model(*streams)
    evaluator = BlockEvaluator(every, in_flight, points=points)
    chunked = model(*streams, after_block=evaluator)
    evaluator.finish()
    assert evaluator.scheduled == chunks
    for a, b in zip(chunked, whole):
        np.testing.assert_array_equal(np.array(a), np.array(b))


def test_the_points_per_block_come_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(POINTS_ENV, raising=False)
    assert BlockEvaluator().points == 1 and BlockEvaluator().within_block is None
    assert BlockEvaluator(default_points=2).within_block is not None
    monkeypatch.setenv(POINTS_ENV, "2")
    assert BlockEvaluator().points == 2 and BlockEvaluator(points=1).points == 1
    monkeypatch.setenv(POINTS_ENV, "half")
    with pytest.raises(InvalidRequest, match=POINTS_ENV):
        BlockEvaluator()
    with pytest.raises(ValueError, match="points_per_block"):
        BlockEvaluator(points=3)


def test_one_noise_level_per_entry_gives_the_per_token_numbers():
    """The LTX-2 loop passes [B, 1] timesteps when every token is denoised alike (text to video)."""
    model = LTX2Transformer(LTX2Config(**TINY_LTX2))
    randomize_parameters(model, mx.float32, std=0.2)
    layout = AudioLatentLayout()
    video = video_state(1, (2, 2, 3), 24.0, None, 8)
    audio = audio_state(1, 5, layout, None)
    levels = [ltx2_denoise._noise_levels(state, 0.7) for state in (video, audio)]
    assert [tuple(level.shape) for level in levels] == [(1, 1), (1, 1)]
    held = video_state(1, (2, 2, 3), 24.0, None, 8)
    held = replace(held, denoise_mask=mx.concatenate([mx.zeros((1, 6)), mx.ones((1, 6))], axis=1))
    assert tuple(ltx2_denoise._noise_levels(held, 0.7).shape) == (1, 12)

    def inputs(state, per_token):
        timesteps = state.timesteps(0.7) if per_token else ltx2_denoise._noise_levels(state, 0.7)
        latent = mx.random.normal(state.latent.shape, key=mx.random.key(5))
        return ModalityInput(latent, mx.array([0.7]), timesteps, state.positions, mx.ones((1, 4, 12)))

    per_token = model(inputs(video, True), inputs(audio, True))
    uniform = model(inputs(video, False), inputs(audio, False))
    for a, b in zip(per_token, uniform):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-5)
