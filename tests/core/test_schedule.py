"""Rectified-flow timesteps and steps agree with the reference `RectifiedFlowScheduler`."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from ltx_video.schedulers.rf import RectifiedFlowScheduler
from ltx_video.schedulers.rf import linear_quadratic_schedule as reference_linear_quadratic

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.config import PassConfig
from ltx_mlx_core.pipeline.schedule import (
    euler_step,
    linear_quadratic_schedule,
    stochastic_step,
    timesteps_from_config,
    uniform_schedule,
)

DISTILLED_FIRST_PASS = [1.0, 0.9937, 0.9875, 0.9812, 0.975, 0.9094, 0.725]


@pytest.mark.parametrize("steps", [1, 2, 3, 8, 20, 30, 40])
def test_linear_quadratic_schedule_matches_reference(steps: int) -> None:
    expected = reference_linear_quadratic(steps).numpy()
    np.testing.assert_allclose(linear_quadratic_schedule(steps), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("steps", [1, 4, 20])
def test_uniform_schedule_matches_reference(steps: int) -> None:
    expected = RectifiedFlowScheduler(sampler="Uniform").get_initial_timesteps(steps).numpy()
    np.testing.assert_allclose(uniform_schedule(steps), expected, rtol=0, atol=1e-7)


def test_explicit_timesteps_are_used_as_listed() -> None:
    config = PassConfig(timesteps=DISTILLED_FIRST_PASS, num_inference_steps=3)
    assert timesteps_from_config(config) == DISTILLED_FIRST_PASS


@pytest.mark.parametrize("skip_initial, skip_final", [(0, 0), (2, 0), (0, 3), (1, 1)])
def test_skipped_steps_are_cut_as_the_reference_cuts_them(skip_initial: int, skip_final: int) -> None:
    from ltx_video.pipelines.pipeline_ltx_video import retrieve_timesteps

    scheduler = RectifiedFlowScheduler(sampler="LinearQuadratic")
    expected, _ = retrieve_timesteps(
        scheduler, 10, "cpu", skip_initial_inference_steps=skip_initial, skip_final_inference_steps=skip_final
    )
    config = PassConfig(
        num_inference_steps=10, skip_initial_inference_steps=skip_initial, skip_final_inference_steps=skip_final
    )
    np.testing.assert_allclose(timesteps_from_config(config), expected.numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("timesteps", [[1.0, 1.2], [0.5, 0.9], [0.9, 0.0]])
def test_timesteps_outside_the_unit_interval_or_not_decreasing_are_refused(timesteps: list[float]) -> None:
    with pytest.raises(InvalidRequest):
        timesteps_from_config(PassConfig(timesteps=timesteps))


def test_euler_step_with_per_token_timesteps_matches_reference() -> None:
    """Conditioned tokens sit at lower (or off-schedule) timesteps; each steps to its own next-lower one."""
    generator = torch.Generator().manual_seed(0)
    scheduler = RectifiedFlowScheduler()
    scheduler.set_timesteps(timesteps=DISTILLED_FIRST_PASS)
    tokens = 7
    sample = torch.randn(1, tokens, 4, generator=generator)
    velocity = torch.randn(1, tokens, 4, generator=generator)
    # on-schedule, between two scheduled values, below the last one, hard-conditioned (0), scheduled-eps.
    token_t = torch.tensor([[1.0, 0.9937, 0.95, 0.725, 0.3, 0.0, 0.9812 + 5e-7]])
    expected = scheduler.step(velocity, token_t, sample, return_dict=False)[0]

    ours = euler_step(
        mx.array(sample.numpy()), mx.array(velocity.numpy()), mx.array(token_t.numpy()), DISTILLED_FIRST_PASS
    )

    np.testing.assert_allclose(np.array(ours), expected.numpy(), rtol=0, atol=1e-6)


def test_euler_step_with_one_timestep_for_all_tokens_moves_to_the_next_scheduled_value() -> None:
    latents = mx.ones((1, 3, 2))
    velocity = mx.full((1, 3, 2), 2.0)
    stepped = euler_step(latents, velocity, mx.array([[0.9094]]), DISTILLED_FIRST_PASS)
    np.testing.assert_allclose(np.array(stepped), 1.0 - 2.0 * (0.9094 - 0.725), atol=1e-6)
    last = euler_step(latents, velocity, mx.array([[0.725]]), DISTILLED_FIRST_PASS)
    np.testing.assert_allclose(np.array(last), 1.0 - 2.0 * 0.725, atol=1e-6)


@pytest.mark.parametrize("shifting, terminal", [("SD3", None), ("SD3", 0.1), ("SimpleDiffusion", None)])
@pytest.mark.parametrize(
    "sampler, reference_sampler", [("linear-quadratic", "LinearQuadratic"), ("uniform", "Uniform")]
)
@pytest.mark.parametrize("latent_shape", [(1, 128, 3, 8, 12), (1, 128, 13, 16, 22)])
def test_resolution_dependent_shift_matches_reference(
    shifting, terminal, sampler, reference_sampler, latent_shape
) -> None:
    from ltx_video.pipelines.pipeline_ltx_video import retrieve_timesteps

    scheduler = RectifiedFlowScheduler(sampler=reference_sampler, shifting=shifting, target_shift_terminal=terminal)
    expected, _ = retrieve_timesteps(
        scheduler, 12, "cpu", samples_shape=torch.Size(latent_shape), skip_final_inference_steps=2
    )
    config = PassConfig(num_inference_steps=12, skip_final_inference_steps=2)
    num_tokens = int(np.prod(latent_shape[2:]))
    ours = timesteps_from_config(
        config, sampler, num_tokens=num_tokens, shifting=shifting, target_shift_terminal=terminal
    )
    np.testing.assert_allclose(ours, expected.numpy(), rtol=0, atol=2e-6)
    unshifted = timesteps_from_config(config, sampler)
    assert not np.allclose(ours, unshifted, atol=1e-3), "the shift must move the schedule"


def test_constant_sampler_matches_reference() -> None:
    expected = RectifiedFlowScheduler(sampler="Constant", shift=1.5).get_initial_timesteps(6, shift=1.5).numpy()
    ours = timesteps_from_config(PassConfig(num_inference_steps=6), "constant", shift=1.5)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


def test_explicit_timesteps_are_never_shifted() -> None:
    config = PassConfig(timesteps=DISTILLED_FIRST_PASS)
    assert timesteps_from_config(config, num_tokens=5000, shifting="SD3") == DISTILLED_FIRST_PASS


@pytest.mark.parametrize(
    "kwargs",
    [dict(sampler="cosine"), dict(sampler="constant"), dict(shifting="SD3"), dict(shifting="Flux", num_tokens=10)],
)
def test_unknown_samplers_and_incomplete_shift_settings_are_refused(kwargs) -> None:
    with pytest.raises(InvalidRequest):
        timesteps_from_config(PassConfig(num_inference_steps=4), **kwargs)


def test_stochastic_step_renoises_the_predicted_clean_latents_as_the_reference(monkeypatch) -> None:
    generator = torch.Generator().manual_seed(2)
    scheduler = RectifiedFlowScheduler()
    scheduler.set_timesteps(timesteps=DISTILLED_FIRST_PASS)
    sample = torch.randn(1, 5, 4, generator=generator)
    velocity = torch.randn(1, 5, 4, generator=generator)
    token_t = torch.tensor([[1.0, 0.9875, 0.95, 0.725, 0.0]])
    key = mx.random.key(5)
    noise = torch.from_numpy(np.array(mx.random.normal(sample.shape, key=key)))
    monkeypatch.setattr(torch, "randn_like", lambda like, **_: noise.clone())
    expected = scheduler.step(velocity, token_t, sample, return_dict=False, stochastic_sampling=True)[0]

    ours = stochastic_step(
        mx.array(sample.numpy()), mx.array(velocity.numpy()), mx.array(token_t.numpy()), DISTILLED_FIRST_PASS, key
    )

    np.testing.assert_allclose(np.array(ours), expected.numpy(), rtol=0, atol=1e-6)


def test_the_yaml_default_sampler_from_checkpoint_samples_linear_quadratic() -> None:
    config = PassConfig(num_inference_steps=8)
    assert timesteps_from_config(config, "from_checkpoint") == timesteps_from_config(config, "LinearQuadratic")
    assert timesteps_from_config(config, "from_checkpoint") != timesteps_from_config(config, "uniform")
