"""The LTX-2 denoising core on tiny random MLX models: events, seeding, resuming, providers, held
conditioning and the request checks (the numbers against the reference are in tests/parity)."""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler, LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.pipeline.decode import TilingConfig, encode_video
from ltx_mlx_core.pipeline.events import StageStarted, StepDone
from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.ltx2.guidance import DevGuidance, GuiderParams
from ltx_mlx_core.pipeline.ltx2.job import AudioCondition, LTX2Job, Placement, VisualCondition
from ltx_mlx_core.pipeline.ltx2.latents import StageKeys
from ltx_mlx_core.pipeline.ltx2.schedule import AncestralStep
from ltx_mlx_core.pipeline.ltx2.stages import (
    MediaModels,
    StageFinished,
    dev_one_stage_plan,
    dev_plans,
    distilled_plans,
    final_latents,
    iter_one_stage,
    iter_two_stage,
)

TINY = LTX2Config(
    num_attention_heads=2, attention_head_dim=8, in_channels=128, out_channels=128, num_layers=2,
    cross_attention_dim=16, caption_channels=12, audio_num_attention_heads=2, audio_attention_head_dim=8,
    audio_in_channels=128, audio_out_channels=128, audio_cross_attention_dim=16, rope_type="split",
)  # fmt: skip
VAE = VideoVAEConfig(
    encoder_blocks=[("compress_space_res", {"multiplier": 1}), ("compress_time_res", {"multiplier": 1}),
                    ("compress_all_res", {"multiplier": 1}), ("compress_all_res", {"multiplier": 1})],
    decoder_blocks=[("compress_all", {"multiplier": 2})] * 3,
    decoder_base_channels=4,
)  # fmt: skip
FRAMES, HEIGHT, WIDTH, FPS = 17, 128, 64, 24.0


class Models:
    def __init__(self) -> None:
        mx.random.seed(0)
        self.transformers = [LTX2Transformer(TINY), LTX2Transformer(TINY)]
        self.calls = [0, 0]
        self.vae = VideoAutoencoder(VAE)
        self.upsampler = LatentUpsampler(
            LatentUpsamplerConfig(in_channels=128, mid_channels=32, num_blocks_per_stage=1)
        )
        mx.eval(self.vae.parameters(), self.upsampler.parameters(), [t.parameters() for t in self.transformers])

    def provider(self, index: int):
        def provide() -> LTX2Transformer:
            self.calls[index] += 1
            return self.transformers[index]

        return provide

    def media(self) -> MediaModels:
        return MediaModels(lambda: self.vae, lambda: self.upsampler, TilingConfig.untiled())


@pytest.fixture(scope="module")
def models() -> Models:
    return Models()


def prompt(seed: int) -> PromptEmbeddings:
    key = mx.random.key(seed)
    return PromptEmbeddings(mx.random.normal((1, 5, 12), key=key), mx.random.normal((1, 5, 12), key=key + 1))


def job(**changes) -> LTX2Job:
    return replace(LTX2Job(FRAMES, HEIGHT, WIDTH, FPS, 3, prompt(1)), **changes)


def test_distilled_two_stage_yields_each_stage_and_its_steps(models) -> None:
    request = job()
    events = list(iter_two_stage(request, *distilled_plans(request, models.provider(0)), models.media()))
    started = [e.name for e in events if isinstance(e, StageStarted)]
    finished = [e for e in events if isinstance(e, StageFinished)]
    assert started == ["first_pass", "upsample", "second_pass"]
    assert [e.name for e in finished] == started
    steps = {name: [e.step for e in events if isinstance(e, StepDone) and e.stage == name] for name in started}
    assert steps["first_pass"] == list(range(1, 9)) and steps["second_pass"] == [1, 2, 3]
    assert finished[0].latents.video.shape == (1, 3, 2, 1, 128)
    assert finished[1].latents.video.shape == (1, 3, 4, 2, 128)
    result = finished[-1].latents
    assert result.video.shape == (1, 3, 4, 2, 128) and result.audio.shape == (1, 8, 18, 16)
    assert np.isfinite(np.array(result.video)).all() and np.isfinite(np.array(result.audio)).all()


def test_a_stage_checkpoint_resumes_to_the_same_result(models) -> None:
    request = job()
    plans = distilled_plans(request, models.provider(0))
    events = list(iter_two_stage(request, *plans, models.media()))
    first = next(e.latents for e in events if isinstance(e, StageFinished))
    resumed = list(iter_two_stage(request, *plans, models.media(), first_result=first))
    assert "first_pass" not in [e.name for e in resumed if isinstance(e, StageStarted)]
    for a, b in zip((final_latents(iter(events)).video, final_latents(iter(events)).audio),
                    (final_latents(iter(resumed)).video, final_latents(iter(resumed)).audio)):  # fmt: skip
        assert np.array_equal(np.array(a), np.array(b))


def test_the_seed_decides_every_draw(models) -> None:
    def run(seed: int):
        request = job(height=64, width=64, seed=seed)
        guidance = DevGuidance.constant(GuiderParams(cfg_scale=2.0), GuiderParams(cfg_scale=3.0))
        plan = dev_one_stage_plan(request, models.provider(0), 2, guidance)
        return final_latents(iter_one_stage(replace(request, negative=prompt(2)), plan, None))

    first, again, other = run(3), run(3), run(4)
    assert np.array_equal(np.array(first.video), np.array(again.video))
    assert np.array_equal(np.array(first.audio), np.array(again.audio))
    assert not np.allclose(np.array(first.video), np.array(other.video))
    assert not np.allclose(np.array(first.audio), np.array(other.audio))


def test_video_and_audio_noise_come_from_different_keys() -> None:
    keys = StageKeys.for_stage(mx.random.key(3), 0)
    later = StageKeys.for_stage(mx.random.key(3), 2)
    draws = [mx.random.normal((64,), key=k) for k in (keys.video, keys.audio, later.video, later.audio)]
    for i in range(len(draws)):
        for j in range(i + 1, len(draws)):
            assert not np.allclose(np.array(draws[i]), np.array(draws[j]))


def test_each_stage_asks_its_own_transformer_provider(models) -> None:
    request = job(negative=prompt(2))
    guidance = DevGuidance.constant(GuiderParams(cfg_scale=2.0), GuiderParams())
    before = list(models.calls)
    final_latents(iter_two_stage(request, *dev_plans(request, models.provider(0), models.provider(1), 2, guidance),
                                 models.media()))  # fmt: skip
    assert [after - b for after, b in zip(models.calls, before)] == [1, 1]


def test_ancestral_first_stage_is_seeded_and_differs_from_euler(models) -> None:
    request = job()

    def run(ancestral):
        plans = distilled_plans(request, models.provider(0), ancestral=ancestral)
        events = iter_two_stage(request, *plans, models.media())
        return next(e.latents.video for e in events if isinstance(e, StageFinished))

    ancestral, again, euler = run(AncestralStep(eta=0.5)), run(AncestralStep(eta=0.5)), run(None)
    assert np.array_equal(np.array(ancestral), np.array(again))
    assert not np.allclose(np.array(ancestral), np.array(euler))


def test_conditioning_at_full_strength_is_kept_exactly(models) -> None:
    """An image at frame 0 and a clip's sound at strength 1 leave the stage as they came in."""
    image = mx.random.uniform(-1, 1, (1, 1, HEIGHT, WIDTH, 3), key=mx.random.key(8))
    sound = mx.random.normal((1, 8, 6, 16), key=mx.random.key(9))
    request = job(
        visual=(VisualCondition(lambda h, w: image[:, :, :h, :w], 0, 1.0),),
        audio=(AudioCondition(sound, 4, 1.0),),
    )
    result = final_latents(iter_two_stage(request, *distilled_plans(request, models.provider(0)), models.media()))
    expected = encode_video(models.vae, image, tiling=TilingConfig.untiled())
    assert np.array_equal(np.array(result.video[:, :1]), np.array(expected))
    assert np.array_equal(np.array(result.audio[:, :, 4:10]), np.array(sound))


def test_a_video_only_model_returns_no_audio(models) -> None:
    silent = LTX2Transformer(replace(TINY, video_only=True))
    request = job(height=64, width=64, positive=PromptEmbeddings(prompt(1).video))
    plan = dev_one_stage_plan(request, lambda: silent, 2, DevGuidance.constant(GuiderParams(), GuiderParams()))
    result = final_latents(iter_one_stage(request, plan, None))
    assert result.audio is None and result.video.shape == (1, 3, 2, 2, 128)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(num_frames=16), "8k\\+1"),
        (dict(height=96), "multiples of 64"),
        (dict(visual=(VisualCondition(lambda h, w: None, 17),)), "outside the clip"),
        (dict(visual=(VisualCondition(lambda h, w: None, 4, placement=Placement.REPLACE),)), "multiple of 8"),
        (dict(visual=(VisualCondition(lambda h, w: None, 0, 1.5),)), "between 0 and 1"),
        (dict(audio=(AudioCondition(mx.zeros((1, 8, 4, 16)), 18),)), "outside the clip"),
        (dict(positive=PromptEmbeddings(mx.zeros((1, 5, 12)))), "audio embeddings"),
    ],
)
def test_requests_the_core_cannot_run_are_refused_with_what_to_change(models, changes, message) -> None:
    request = job(**changes)
    with pytest.raises(InvalidRequest, match=message):
        list(iter_two_stage(request, *distilled_plans(request, models.provider(0)), models.media()))


def test_guidance_without_a_negative_prompt_is_refused(models) -> None:
    request = job()
    guidance = DevGuidance.constant(GuiderParams(cfg_scale=3.0), GuiderParams())
    with pytest.raises(InvalidRequest, match="negative prompt"):
        list(iter_one_stage(request, dev_one_stage_plan(request, models.provider(0), 2, guidance), None))


def test_a_video_only_model_refuses_audio_conditioning() -> None:
    silent = LTX2Transformer(replace(TINY, video_only=True))
    request = job(height=64, width=64, audio=(AudioCondition(mx.zeros((1, 8, 4, 16))),))
    plan = dev_one_stage_plan(request, lambda: silent, 2, DevGuidance.constant(GuiderParams(), GuiderParams()))
    with pytest.raises(InvalidRequest, match="silent video"):
        list(iter_one_stage(request, plan, None))


def test_replacing_media_lands_on_the_latent_frame_of_its_start(models) -> None:
    image = mx.random.uniform(-1, 1, (1, 1, 64, 64, 3), key=mx.random.key(10))
    request = job(height=64, width=64, visual=(VisualCondition(lambda h, w: image, 8, 1.0, Placement.REPLACE),))
    plan = dev_one_stage_plan(request, models.provider(0), 2, DevGuidance.constant(GuiderParams(), GuiderParams()))
    result = final_latents(iter_one_stage(request, plan, models.media()))
    expected = encode_video(models.vae, image, tiling=TilingConfig.untiled())
    assert np.array_equal(np.array(result.video[:, 1:2]), np.array(expected))
    assert not np.allclose(np.array(result.video[:, :1]), np.array(expected))
