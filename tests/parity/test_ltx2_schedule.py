"""The LTX-2 pipeline core's pieces against the references one by one: sigmas, steps, audio lengths and
tokens, conditioning masks, guidance bins and the dev models' constants (CPU, float32)."""

from __future__ import annotations

import dataclasses

import mlx.core as mx
import numpy as np
import pytest
import torch

from tests.parity import ltx2_reference  # noqa: F401  (the torchaudio stand-in first)

# isort: split
import diffusers.schedulers.scheduling_ltx_euler_ancestral_rf as ancestral_module
from diffusers import LTXEulerAncestralRFScheduler
from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.guiders import MultiModalGuiderFactory, MultiModalGuiderParams
from ltx_core.components.patchifiers import AudioPatchifier
from ltx_core.components.schedulers import LTX2Scheduler
from ltx_core.conditioning.mask_utils import build_attention_mask
from ltx_core.types import AudioLatentShape, VideoPixelShape
from ltx_pipelines.utils import constants

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.ltx2.conditioning import _extend_attention
from ltx_mlx_core.pipeline.ltx2.guidance import (
    LTX2_DEV_DEFAULTS,
    LTX23_DEV_DEFAULTS,
    GuidanceSchedule,
    GuiderParams,
)
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout, patchify_audio, unpatchify_audio
from ltx_mlx_core.pipeline.ltx2.schedule import (
    DISTILLED_SIGMAS,
    STAGE_2_DISTILLED_SIGMAS,
    AncestralStep,
    dev_sigmas,
    euler_step,
)
from tests.parity.conftest import relative_max_error

CPU = torch.device("cpu")


def test_distilled_sigmas_are_the_pipelines_constants() -> None:
    assert list(DISTILLED_SIGMAS) == constants.DISTILLED_SIGMA_VALUES
    assert list(STAGE_2_DISTILLED_SIGMAS) == constants.STAGE_2_DISTILLED_SIGMA_VALUES


@pytest.mark.parametrize("tokens", [1024, 4096, 8192])
def test_dev_sigmas_match_ltx2_scheduler_to_a_few_ulps(tokens: int) -> None:
    """Ours are float64 rounded once; the reference's float32 arithmetic is off by up to 4.8e-7 at these
    token counts (8 ulps near 1; at 20000 tokens it drifts to 5e-5, a count the pipelines never pass)."""
    latent = None if tokens == 4096 else torch.zeros(1, 1, 1, 1, tokens)
    worst = 0.0
    for steps in range(2, 61):
        reference = LTX2Scheduler().execute(steps=steps, latent=latent).numpy()
        ours = np.asarray(dev_sigmas(steps, tokens), dtype=np.float32)
        assert ours.shape == reference.shape and ours[-1] == 0.0 and ours[0] == 1.0
        worst = max(worst, float(np.abs(ours - reference).max()))
    assert worst <= 5e-7, worst


def test_dev_sigmas_unstretched_and_refused_single_stretched_step() -> None:
    reference = LTX2Scheduler().execute(steps=6, stretch=False).numpy()
    assert np.abs(np.asarray(dev_sigmas(6, terminal=None), dtype=np.float32) - reference).max() <= 5e-7
    assert dev_sigmas(1, terminal=None) == (1.0, 0.0)
    with pytest.raises(InvalidRequest, match="two steps"):
        dev_sigmas(1)


def test_euler_step_matches_the_reference() -> None:
    generator = torch.Generator().manual_seed(0)
    sample, denoised = torch.randn(2, 7, 5, generator=generator), torch.randn(2, 7, 5, generator=generator)
    sigmas = torch.tensor(DISTILLED_SIGMAS)
    for index in range(len(DISTILLED_SIGMAS) - 1):
        expected = EulerDiffusionStep().step(sample, denoised, sigmas, index)
        ours = euler_step(mx.array(sample.numpy()), mx.array(denoised.numpy()), *DISTILLED_SIGMAS[index : index + 2])
        assert relative_max_error(ours, expected) <= 1e-6


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ancestral_step_matches_diffusers(monkeypatch, eta: float) -> None:
    """diffusers' `LTXEulerAncestralRFScheduler` (what LTX-2.5's DFR refine steps with), the same noise in."""
    generator = torch.Generator().manual_seed(1)
    sample, denoised = torch.randn(1, 9, 6, generator=generator), torch.randn(1, 9, 6, generator=generator)
    noise = {"current": None}
    monkeypatch.setattr(ancestral_module, "randn_tensor", lambda *args, **kwargs: noise["current"])
    scheduler = LTXEulerAncestralRFScheduler(eta=eta, s_noise=0.9)
    scheduler.set_timesteps(sigmas=list(DISTILLED_SIGMAS))
    step = AncestralStep(eta=eta, s_noise=0.9)
    for index, timestep in enumerate(scheduler.timesteps[:-1]):
        sigma, sigma_next = DISTILLED_SIGMAS[index : index + 2]
        noise["current"] = torch.randn(1, 9, 6, generator=generator)
        expected = scheduler.step((sample - denoised) / sigma, timestep, sample, return_dict=False)[0]
        ours = step(mx.array(sample.numpy()), mx.array(denoised.numpy()), sigma, sigma_next,
                    mx.array(noise["current"].numpy()))  # fmt: skip
        assert relative_max_error(ours, expected) <= 1e-5, index
        sample = expected


@pytest.mark.parametrize("frames", [1, 9, 17, 25, 33, 121, 241])
@pytest.mark.parametrize("fps", [8.0, 23.976, 24.0, 25.0, 30.0, 50.0])
def test_audio_latent_frames_follow_the_reference(frames: int, fps: float) -> None:
    expected = AudioLatentShape.from_video_pixel_shape(VideoPixelShape(1, frames, 64, 64, fps)).frames
    assert AudioLatentLayout().frames_for(frames, fps) == expected


def test_audio_tokens_are_the_reference_patchifier_s() -> None:
    latents = torch.randn(2, 8, 5, 16)
    tokens = AudioPatchifier(patch_size=1).patchify(latents)
    ours = patchify_audio(mx.array(latents.numpy()))
    assert np.array_equal(np.array(ours), tokens.numpy())
    assert np.array_equal(np.array(unpatchify_audio(ours, AudioLatentLayout())), latents.numpy())


def test_appended_tokens_extend_an_attention_mask_as_ltx_core_does() -> None:
    existing = torch.rand(2, 7, 7)
    expected = build_attention_mask(existing, 5, 3, 7, torch.ones(2, 3), CPU, torch.float32)
    ours = _extend_attention(mx.array(existing.numpy()), 5, 3)
    assert np.array_equal(np.array(ours), expected.numpy())


def test_guidance_bins_pick_the_reference_s_params() -> None:
    bins = {1.0: MultiModalGuiderParams(cfg_scale=4.0), 0.6: MultiModalGuiderParams(cfg_scale=3.0),
            0.2: MultiModalGuiderParams(cfg_scale=2.0)}  # fmt: skip
    factory = MultiModalGuiderFactory.from_dict(bins)
    ours = GuidanceSchedule.by_sigma({s: GuiderParams(cfg_scale=p.cfg_scale) for s, p in bins.items()})
    for sigma in (1.5, 1.0, 0.99, 0.6, 0.59, 0.2, 0.1, 0.0):
        assert ours.at(sigma).cfg_scale == factory.params(sigma).cfg_scale, sigma


@pytest.mark.parametrize(
    ("ours", "reference"),
    [(LTX2_DEV_DEFAULTS, constants.LTX_2_PARAMS), (LTX23_DEV_DEFAULTS, constants.LTX_2_3_PARAMS)],
    ids=["ltx2", "ltx23"],
)
def test_dev_defaults_are_the_pipelines_constants(ours, reference) -> None:
    assert ours.num_inference_steps == reference.num_inference_steps
    for mine, theirs in (
        (ours.video, reference.video_guider_params),
        (ours.audio, reference.audio_guider_params),
    ):
        expected = dataclasses.asdict(theirs)
        expected["stg_blocks"] = tuple(expected["stg_blocks"])
        assert dataclasses.asdict(mine) == expected
