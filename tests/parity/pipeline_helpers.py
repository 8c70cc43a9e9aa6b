"""What the pipeline parity tests share: the tiny reference models, replaying our random draws.

Both sides must draw the same noise: every `mx.random.normal` our code makes is recorded, in
order, and the reference's `randn_tensor` calls replay them (channels-last -> channels-first
where the draw is a 5-D latent).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import mlx.core as mx
import numpy as np
import pytest
import torch
from ltx_video.models.autoencoders import vae as reference_vae_module
from ltx_video.models.transformers.symmetric_patchifier import SymmetricPatchifier
from ltx_video.models.transformers.transformer3d import Transformer3DModel
from ltx_video.pipelines import pipeline_ltx_video as reference_module
from ltx_video.schedulers.rf import RectifiedFlowScheduler

from tests.parity.vae_helpers import TINY_VAE_CONFIG, to_channels_first

IMAGE_COND_NOISE_SCALE = 0.15  # what the reference CLI (inference.py) passes
DISTILLED_FIRST_PASS = [1.0, 0.9937, 0.9094, 0.725]
DISTILLED_SECOND_PASS = [0.9094, 0.725, 0.4219]

TINY_TRANSFORMER = dict(
    num_attention_heads=2,
    attention_head_dim=8,
    in_channels=TINY_VAE_CONFIG["latent_channels"],
    out_channels=TINY_VAE_CONFIG["latent_channels"],
    num_layers=2,
    cross_attention_dim=16,
    caption_channels=12,
    attention_bias=True,
    activation_fn="gelu-approximate",
    norm_elementwise_affine=False,
    norm_eps=1e-6,
    qk_norm="rms_norm",
    standardization_norm="rms_norm",
    positional_embedding_type="rope",
    positional_embedding_theta=10000.0,
    positional_embedding_max_pos=[20, 2048, 2048],
    timestep_scale_multiplier=1000,
    causal_temporal_positioning=True,
)


def reference_transformer(**overrides) -> Transformer3DModel:
    """The tiny reference transformer with every weight moved off its initialisation."""
    torch.manual_seed(0)
    transformer = Transformer3DModel(**{**TINY_TRANSFORMER, **overrides}).eval()
    with torch.no_grad():
        for parameter in transformer.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return transformer


def reference_video_pipeline(transformer, vae) -> reference_module.LTXVideoPipeline:
    """The reference pipeline without text encoder (embeddings are passed in) or prompt enhancer."""
    return reference_module.LTXVideoPipeline(
        tokenizer=None,
        text_encoder=None,
        vae=vae,
        transformer=transformer,
        scheduler=RectifiedFlowScheduler(sampler="LinearQuadratic"),
        patchifier=SymmetricPatchifier(patch_size=1),
        prompt_enhancer_image_caption_model=None,
        prompt_enhancer_image_caption_processor=None,
        prompt_enhancer_llm_model=None,
        prompt_enhancer_llm_tokenizer=None,
    )


class NoiseTape:
    """Records our `mx.random.normal` draws and replays them as the reference's `randn_tensor`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.draws: list[mx.array] = []
        self.replayed = 0
        self.recording = True
        original = mx.random.normal

        def record(*args, **kwargs):
            draw = original(*args, **kwargs)
            if self.recording:
                self.draws.append(draw)
            return draw

        monkeypatch.setattr(mx.random, "normal", record)
        monkeypatch.setattr(reference_module, "randn_tensor", self.replay)
        # The reference encodes conditioning media with `latent_dist.sample()`; our pipeline takes the
        # posterior mean (the 0.9.8 posterior is narrow; the tiny random VAE's is not), so compare means.
        monkeypatch.setattr(
            reference_vae_module.DiagonalGaussianDistribution, "sample", lambda self, generator=None: self.mode()
        )

    @contextlib.contextmanager
    def recording_only(self, on: bool = True) -> Iterator[None]:
        """Record inside (on) or not (off), e.g. only while a stage runs, not while weights are initialised."""
        was, self.recording = self.recording, on
        try:
            yield
        finally:
            self.recording = was

    def replay(self, shape, generator=None, device=None, dtype=None, layout=None) -> torch.Tensor:
        assert self.replayed < len(self.draws), f"the reference drew more noise than we did ({shape})"
        draw = self.draws[self.replayed]
        self.replayed += 1
        if len(shape) == 5:  # a latent video: ours [B, F, H, W, C], the reference's [B, C, F, H, W]
            tensor = to_channels_first(draw.astype(mx.float32))
        else:
            tensor = torch.from_numpy(np.array(draw.astype(mx.float32)))
        assert tuple(tensor.shape) == tuple(shape), f"draw {self.replayed}: ours {tensor.shape}, reference {shape}"
        return tensor.to(dtype or torch.float32)

    def replay_like(self, tensor: torch.Tensor, **kwargs) -> torch.Tensor:
        """`torch.randn_like`, which the reference's decode-noise step calls."""
        return self.replay(tuple(tensor.shape), dtype=tensor.dtype)


def use_reference_prefix_mode(monkeypatch: pytest.MonkeyPatch, mode: str, soft_strength: float = 0.15) -> None:
    """Make the reference pipeline handle non-first sequences' prefixes in `mode` (it hard-codes "concat")."""
    original = reference_module.LTXVideoPipeline._handle_non_first_conditioning_sequence
    handler = functools.partial(original, prefix_latents_mode=mode, prefix_soft_conditioning_strength=soft_strength)
    monkeypatch.setattr(
        reference_module.LTXVideoPipeline, "_handle_non_first_conditioning_sequence", staticmethod(handler)
    )
