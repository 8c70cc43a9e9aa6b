"""The step cache skips the same steps as the published implementations, with the same outputs.

A tiny random diffusers `LTXVideoTransformer3DModel` and our transformer with its weights each
integrate the same Euler loop from the same noise. The references: diffusers 0.42's own hooks
(`apply_first_block_cache`, `apply_mag_cache`, one `cache_context` per guidance branch) and
TeaCache4LTX-Video's rule written out on the diffusers transformer. Per step, both sides must
choose the same branches to recompute, and every velocity and the final latents agree to 1e-4
relative. The seeds are fixed; the random model's changes between steps are large (0.3-2.8
relative), and the thresholds were picked between them.

Measured on the CPU backend (mlx 0.32.4, torch 2.13 CPU, diffusers 0.42.1), 12 steps, worst
relative error over the velocities and final latents: first-block cache one branch 5 steps
skipped, 1.2e-5; with CFG branches 4 skipped and 2 where one branch reused, 9.3e-6; MagCache
5 skipped, 1.3e-5; TeaCache 4 skipped, 1.0e-5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx
import numpy as np
import pytest
import torch
from diffusers.hooks import (
    FirstBlockCacheConfig,
    HookRegistry,
    MagCacheConfig,
    apply_first_block_cache,
    apply_mag_cache,
)
from diffusers.models.transformers.transformer_ltx import LTXVideoTransformer3DModel

from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import load_transformer_weights, sanitize_diffusers_transformer
from ltx_mlx_core.pipeline.step_cache import StepCache
from ltx_mlx_core.pipeline.step_cache_ltxv import cached_transformer_call
from ltx_mlx_core.pipeline.step_cache_rules import LTXV_TEACACHE_COEFFICIENTS, CacheRule, StepCacheSettings
from tests.parity.conftest import relative_max_error, torch_to_mlx

BOUND = 1e-4
STEPS = 12
TIMESTEPS = np.linspace(1.0, 0.04, STEPS + 1)
GUIDANCE = 3.0
# A calibrated-looking table (ratios near 1 early, falling late), resampled to STEPS by both sides.
MAG_RATIOS = [1.0, 1.05, 1.02, 1.01, 1.0, 0.995, 0.99, 0.985, 0.98, 0.97, 0.95, 0.93, 0.9, 0.86]


@dataclass
class Models:
    reference: LTXVideoTransformer3DModel
    ours: LTXVideoTransformer


@dataclass
class Inputs:
    noise: torch.Tensor  # [1, N, C]
    coords: torch.Tensor  # [1, 3, N]
    text: torch.Tensor  # [1, L, caption]
    negative: torch.Tensor
    mask: torch.Tensor  # [1, L]


def _models(seed: int = 0) -> Models:
    torch.manual_seed(seed)
    reference = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16,
        num_layers=3, caption_channels=12,
    ).eval()  # fmt: skip
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    ours = LTXVideoTransformer(TransformerConfig.from_diffusers_dict(dict(reference.config)))
    weights = {key: torch_to_mlx(value) for key, value in reference.state_dict().items()}
    load_transformer_weights(ours, sanitize_diffusers_transformer(weights))
    return Models(reference, ours)


def _inputs(seed: int = 1) -> Inputs:
    generator = torch.Generator().manual_seed(seed)
    frames, height, width, length = 2, 3, 4, 5
    frame, row, column = torch.meshgrid(torch.arange(frames), torch.arange(height), torch.arange(width), indexing="ij")
    coords = torch.stack([frame.flatten() * 8 / 25.0, row.flatten() * 32.0, column.flatten() * 32.0])[None]
    mask = torch.ones(1, length)
    mask[:, 3:] = 0
    return Inputs(
        torch.randn(1, frames * height * width, 8, generator=generator), coords,
        torch.randn(1, length, 12, generator=generator), torch.randn(1, length, 12, generator=generator), mask,
    )  # fmt: skip


class ReferenceTeaCache:
    """TeaCache4LTX-Video's `teacache_forward` on diffusers' transformer, for one branch: the first
    block's modulated input against the previous call's, rescaled by the LTX polynomial and
    accumulated; first and last calls always computed; the residual spans blocks and output norm."""

    def __init__(self, model: LTXVideoTransformer3DModel, threshold: float, steps: int):
        self.model, self.threshold, self.steps = model, threshold, steps
        self.count, self.accumulated = 0, 0.0
        self.previous_modulated: torch.Tensor | None = None
        self.previous_residual: torch.Tensor | None = None
        self.rescale = np.poly1d(LTXV_TEACACHE_COEFFICIENTS)

    @torch.no_grad()
    def __call__(self, latents, text, timestep, mask, coords) -> tuple[torch.Tensor, bool]:
        model = self.model
        rotary = model.rope(latents, None, None, None, None, coords)
        mask_bias = ((1 - mask.to(latents.dtype)) * -10000.0).unsqueeze(1)
        batch = latents.size(0)
        hidden = model.proj_in(latents)
        temb, embedded = model.time_embed(timestep.flatten(), batch_size=batch, hidden_dtype=hidden.dtype)
        temb, embedded = temb.view(batch, -1, temb.size(-1)), embedded.view(batch, -1, embedded.size(-1))
        context = model.caption_projection(text).view(batch, -1, hidden.size(-1))
        first = model.transformer_blocks[0]
        table = first.scale_shift_table[None, None] + temb.reshape(
            batch, temb.size(1), first.scale_shift_table.shape[0], -1
        )
        shift_msa, scale_msa = table.unbind(dim=2)[:2]
        modulated = first.norm1(hidden) * (1 + scale_msa) + shift_msa
        if self.count in (0, self.steps - 1):
            compute, self.accumulated = True, 0.0
        else:
            change = (modulated - self.previous_modulated).abs().mean() / self.previous_modulated.abs().mean()
            self.accumulated += self.rescale(change.item())
            compute = self.accumulated >= self.threshold
            if compute:
                self.accumulated = 0.0
        self.previous_modulated = modulated
        self.count = (self.count + 1) % self.steps
        if compute:
            start = hidden
            for block in model.transformer_blocks:
                hidden = block(
                    hidden_states=hidden,
                    encoder_hidden_states=context,
                    temb=temb,
                    image_rotary_emb=rotary,
                    encoder_attention_mask=mask_bias,
                )
            values = model.scale_shift_table[None, None] + embedded[:, :, None]
            hidden = model.norm_out(hidden) * (1 + values[:, :, 1]) + values[:, :, 0]
            self.previous_residual = hidden - start
        else:
            hidden = hidden + self.previous_residual
        return model.proj_out(hidden), compute


def _hook_state(reference: LTXVideoTransformer3DModel, hook_name: str):
    return (
        HookRegistry.check_if_exists_or_initialize(reference.transformer_blocks[0])
        .get_hook(hook_name)
        .state_manager.get_state()
    )


def _diffusers_caller(models: Models, hook_name: str) -> Callable:
    """Calls of the hooked diffusers transformer in the branch's own cache context."""

    @torch.no_grad()
    def call(branch, latents, text, timestep, mask, coords):
        with models.reference.cache_context(branch):
            out = models.reference(
                hidden_states=latents,
                encoder_hidden_states=text,
                timestep=timestep,
                encoder_attention_mask=mask,
                video_coords=coords,
                return_dict=False,
            )[0]
            return out, _hook_state(models.reference, hook_name).should_compute

    return call


def _reference_run(call: Callable, inputs: Inputs, branches: list[str]):
    """Euler over TIMESTEPS with CFG when there are two branches; per step the velocity and the
    branches that ran their blocks."""
    latents, velocities, computed = inputs.noise.clone(), [], []
    texts = {"uncond": inputs.negative, "text": inputs.text}
    for i in range(STEPS):
        timestep = torch.full((1,), float(TIMESTEPS[i]) * 1000.0)
        outs = {}
        ran = []
        for branch in branches:
            outs[branch], compute = call(branch, latents, texts[branch], timestep, inputs.mask, inputs.coords)
            ran += [branch] * bool(compute)
        velocity = outs["text"] if len(branches) == 1 else outs["uncond"] + GUIDANCE * (outs["text"] - outs["uncond"])
        latents = latents + float(TIMESTEPS[i + 1] - TIMESTEPS[i]) * velocity
        velocities.append(velocity)
        computed.append(tuple(ran))
    return velocities, computed, latents


def _our_run(models: Models, settings: StepCacheSettings, inputs: Inputs, branches: list[str]):
    cache = StepCache(settings, STEPS)
    latents = torch_to_mlx(inputs.noise)
    texts = {"uncond": torch_to_mlx(inputs.negative), "text": torch_to_mlx(inputs.text)}
    count = len(branches)
    velocities, computed = [], []
    for i in range(STEPS):
        prediction, record = cached_transformer_call(
            models.ours, cache, i, branches, mx.concatenate([latents] * count),
            mx.concatenate([torch_to_mlx(inputs.coords)] * count), mx.concatenate([texts[b] for b in branches]),
            mx.concatenate([torch_to_mlx(inputs.mask)] * count), mx.full((count, 1), float(TIMESTEPS[i])),
        )  # fmt: skip
        outs = dict(zip(branches, mx.split(prediction, count)))
        velocity = outs["text"] if count == 1 else outs["uncond"] + GUIDANCE * (outs["text"] - outs["uncond"])
        latents = latents + float(TIMESTEPS[i + 1] - TIMESTEPS[i]) * velocity
        mx.eval(latents)
        velocities.append(velocity)
        computed.append(record.computed)
    return velocities, computed, latents


def _compare(reference_run, our_run) -> list[tuple[str, ...]]:
    reference_velocities, reference_computed, reference_latents = reference_run
    our_velocities, our_computed, our_latents = our_run
    print(f"\nreference computed: {reference_computed}\nours computed:      {our_computed}")
    assert our_computed == reference_computed
    skipped = sum(len(c) == 0 for c in our_computed)
    assert 0 < skipped < STEPS - 1, "the thresholds should make the cache skip some steps, not all"
    errors = [relative_max_error(ours, ref) for ours, ref in zip(our_velocities, reference_velocities)]
    errors.append(relative_max_error(our_latents, reference_latents))
    print(f"skipped {skipped}/{STEPS} steps; worst relative error {max(errors):.2e}")
    assert max(errors) <= BOUND
    return our_computed


@pytest.mark.parametrize("branches", [["text"], ["uncond", "text"]], ids=["one_branch", "cfg_branches"])
def test_first_block_cache_skips_as_diffusers_apply_first_block_cache(branches):
    threshold = 1.0
    models, inputs = _models(), _inputs()
    apply_first_block_cache(models.reference, FirstBlockCacheConfig(threshold=threshold))
    reference = _reference_run(_diffusers_caller(models, "fbc_leader_block_hook"), inputs, branches)
    settings = StepCacheSettings(CacheRule.FIRST_BLOCK, threshold, compute_last_step=False)
    computed = _compare(reference, _our_run(models, settings, inputs, branches))
    if len(branches) > 1:  # the branches decided apart at least once: a sub-batch ran
        assert any(len(step) == 1 for step in computed)


def test_magcache_skips_as_diffusers_apply_mag_cache():
    threshold, max_skips, retention = 0.05, 2, 0.2
    models, inputs = _models(), _inputs()
    apply_mag_cache(models.reference, MagCacheConfig(
        threshold=threshold, max_skip_steps=max_skips, retention_ratio=retention, num_inference_steps=STEPS,
        mag_ratios=MAG_RATIOS,
    ))  # fmt: skip
    reference = _reference_run(_diffusers_caller(models, "mag_cache_leader_block_hook"), inputs, ["uncond", "text"])
    settings = StepCacheSettings(
        CacheRule.MAGCACHE, threshold, max_skip_steps=max_skips, compute_last_step=False,
        mag_ratios=tuple(MAG_RATIOS), retention_ratio=retention,
    )  # fmt: skip
    _compare(reference, _our_run(models, settings, inputs, ["uncond", "text"]))


def test_teacache_skips_as_teacache4ltx_video():
    threshold = 3.0
    models, inputs = _models(), _inputs()
    rules = {branch: ReferenceTeaCache(models.reference, threshold, STEPS) for branch in ("uncond", "text")}
    reference = _reference_run(lambda branch, *args: rules[branch](*args), inputs, ["uncond", "text"])
    settings = StepCacheSettings(CacheRule.TEACACHE, threshold)
    _compare(reference, _our_run(models, settings, inputs, ["uncond", "text"]))
