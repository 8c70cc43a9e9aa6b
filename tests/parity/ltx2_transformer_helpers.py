"""Tiny LTX-2 transformers of the references, their inputs, and the same inputs for ours.

The reference `LTXModel` is built through ltx-core's configurators from a config section as a
checkpoint embeds it; its state dict, under `model.diffusion_model.`, is the official
single-file layout our key map reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import numpy as np
import torch

# The torchaudio stand-in goes in before anything of ltx_core is imported.
from tests.parity import ltx2_reference  # noqa: F401

# isort: split
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier, get_pixel_coords
from ltx_core.guidance.perturbations import (
    BatchedPerturbationConfig,
    PerturbationConfig,
    PerturbationType,
)
from ltx_core.guidance.perturbations import Perturbation as ReferencePerturbation
from ltx_core.model.transformer import LTXModelConfigurator, LTXVideoOnlyModelConfigurator, Modality
from ltx_core.types import VIDEO_SCALE_FACTORS, AudioLatentShape, VideoLatentShape

from ltx_mlx_core.models.ltx2.perturbations import Perturbations, Skip
from ltx_mlx_core.models.ltx2.transformer import ModalityInput
from tests.parity.conftest import torch_to_mlx

OFFICIAL_PREFIX = "model.diffusion_model."

# Values ltx-core's configurators insist on (a real checkpoint's config carries them).
_CHECKED = dict(
    dropout=0.0,
    attention_bias=True,
    num_vector_embeds=None,
    activation_fn="gelu-approximate",
    num_embeds_ada_norm=1000,
    use_linear_projection=False,
    only_cross_attention=False,
    cross_attention_norm=True,
    double_self_attention=False,
    upcast_attention=False,
    standardization_norm="rms_norm",
    norm_elementwise_affine=False,
    qk_norm="rms_norm",
    positional_embedding_type="rope",
    use_audio_video_cross_attention=True,
    share_ff=False,
    av_cross_ada_norm=True,
    use_middle_indices_grid=True,
)

# LTX-2 (19B) shrunk: odd head widths leave unrotated channels in front (56 % 6 = 2).
TINY_LTX2: dict[str, Any] = dict(
    _CHECKED,
    num_attention_heads=4,
    attention_head_dim=14,
    in_channels=16,
    out_channels=16,
    num_layers=3,
    cross_attention_dim=56,
    caption_channels=24,
    audio_num_attention_heads=2,
    audio_attention_head_dim=16,
    audio_in_channels=12,
    audio_out_channels=12,
    audio_cross_attention_dim=32,
    positional_embedding_max_pos=[20, 2048, 2048],
    audio_positional_embedding_max_pos=[20],
    timestep_scale_multiplier=1000,
    av_ca_timestep_scale_multiplier=1000.0,
    rope_type="split",
    frequencies_precision="float64",
)
# LTX-2.3 (22B) shrunk: gated attention, prompt AdaLN, projections in the text path.
TINY_LTX23: dict[str, Any] = dict(
    TINY_LTX2, apply_gated_attention=True, cross_attention_adaln=True, caption_proj_before_connector=True
)
# LTX-2.5 (22B) shrunk: no video feed-forward biases, the keyframe position embedding.
TINY_LTX25: dict[str, Any] = dict(TINY_LTX23, ff_bias=False, use_keyframes_abs_pos_embedding=True)


def build_reference(config: dict[str, Any], video_only: bool = False, seed: int = 0) -> torch.nn.Module:
    configurator = LTXVideoOnlyModelConfigurator if video_only else LTXModelConfigurator
    # The configurator builds the caption projections on the meta device; every tensor is filled below.
    model = configurator.from_config({"transformer": config}).to_empty(device="cpu").to(torch.float32)
    randomize(model, seed)
    return model.eval()


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Random weights at scales that make every modulation and gate matter."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim == 2 and "table" not in name and "embedding" not in name:
                std = parameter.shape[1] ** -0.5
            else:
                std = 0.3
            values = torch.randn(parameter.shape, generator=generator) * std
            if name.endswith("norm.weight") or name.endswith("norm_q.weight") or name.endswith("norm_k.weight"):
                values = values + 1.0
            parameter.copy_(values)


def official_weights(state_dict: dict[str, torch.Tensor]) -> dict[str, mx.array]:
    """A reference state dict as the official checkpoint's transformer tensors (float32)."""
    return {OFFICIAL_PREFIX + name: torch_to_mlx(tensor.float()) for name, tensor in state_dict.items()}


@dataclass
class StreamInputs:
    reference: Modality
    ours: ModalityInput


def video_bounds(batch: int, frames: int, height: int, width: int, fps: float) -> torch.Tensor:
    """Reference video positions: patch-grid bounds -> pixel coordinates -> seconds (ltx-core's recipe)."""
    shape = VideoLatentShape(batch=batch, channels=1, frames=frames, height=height, width=width)
    bounds = VideoLatentPatchifier(patch_size=1).get_patch_grid_bounds(shape)
    pixels = get_pixel_coords(bounds, VIDEO_SCALE_FACTORS, causal_fix=True).float()
    pixels[:, 0] = pixels[:, 0] / fps
    return pixels


def audio_bounds(batch: int, frames: int) -> torch.Tensor:
    shape = AudioLatentShape(batch=batch, channels=1, frames=frames, mel_bins=1)
    return AudioPatchifier(patch_size=1).get_patch_grid_bounds(shape)


def stream_inputs(
    generator: torch.Generator,
    positions: torch.Tensor,
    channels: int,
    text_channels: int,
    sigma: torch.Tensor,
    per_token: bool,
    text_mask: bool,
    attention_mask: bool = False,
    keyframe_mask: torch.Tensor | None = None,
) -> StreamInputs:
    batch, _, tokens = positions.shape[:3]
    latent = torch.randn(batch, tokens, channels, generator=generator)
    if per_token:
        # Clean conditioning tokens (timestep 0) at the front, as image conditioning makes them.
        denoise = (torch.arange(tokens) >= tokens // 4).float().expand(batch, tokens)
        timesteps = sigma[:, None] * denoise
    else:
        timesteps = sigma[:, None].expand(batch, tokens).clone()
    text_length = 5
    context = torch.randn(batch, text_length, text_channels, generator=generator)
    mask = None
    if text_mask:
        mask = torch.ones(batch, text_length, dtype=torch.int64)
        mask[0, -2:] = 0
    strengths = None
    if attention_mask:
        strengths = torch.rand(batch, tokens, tokens, generator=generator)
        strengths[:, : tokens // 3, tokens // 2 :] = 0.0
    reference = Modality(
        latent=latent,
        sigma=sigma,
        timesteps=timesteps,
        positions=positions,
        context=context,
        context_mask=mask,
        attention_mask=strengths,
    )
    ours = ModalityInput(
        latent=torch_to_mlx(latent),
        sigma=torch_to_mlx(sigma),
        timesteps=torch_to_mlx(timesteps),
        positions=torch_to_mlx(positions.float()),
        context=torch_to_mlx(context),
        context_mask=None if mask is None else mx.array(mask.numpy()),
        attention_mask=None if strengths is None else torch_to_mlx(strengths),
        keyframe_mask=None if keyframe_mask is None else torch_to_mlx(keyframe_mask),
    )
    return StreamInputs(reference, ours)


_REFERENCE_SKIPS = {
    Skip.VIDEO_SELF_ATTENTION: PerturbationType.SKIP_VIDEO_SELF_ATTN,
    Skip.AUDIO_SELF_ATTENTION: PerturbationType.SKIP_AUDIO_SELF_ATTN,
    Skip.AUDIO_TO_VIDEO: PerturbationType.SKIP_A2V_CROSS_ATTN,
    Skip.VIDEO_TO_AUDIO: PerturbationType.SKIP_V2A_CROSS_ATTN,
}


def reference_perturbations(perturbations: Perturbations) -> BatchedPerturbationConfig:
    return BatchedPerturbationConfig(
        [
            PerturbationConfig(
                [
                    ReferencePerturbation(_REFERENCE_SKIPS[p.skip], None if p.blocks is None else sorted(p.blocks))
                    for p in entry
                ]
            )
            for entry in perturbations.per_entry
        ]
    )


def to_numpy(value: mx.array | torch.Tensor) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().double().numpy()
    return np.array(value.astype(mx.float32)).astype(np.float64)


# diffusers' LTX2VideoTransformer3DModel names -> the official ones (the inverse of diffusers'
# `convert_ltx2_transformer_to_diffusers`): leading module names, then names inside blocks.
_DIFFUSERS_TOP = {
    "proj_in": "patchify_proj",
    "audio_proj_in": "audio_patchify_proj",
    "time_embed": "adaln_single",
    "audio_time_embed": "audio_adaln_single",
    "prompt_adaln": "prompt_adaln_single",
    "audio_prompt_adaln": "audio_prompt_adaln_single",
    "av_cross_attn_video_scale_shift": "av_ca_video_scale_shift_adaln_single",
    "av_cross_attn_video_a2v_gate": "av_ca_a2v_gate_adaln_single",
    "av_cross_attn_audio_scale_shift": "av_ca_audio_scale_shift_adaln_single",
    "av_cross_attn_audio_v2a_gate": "av_ca_v2a_gate_adaln_single",
}
_DIFFUSERS_INNER = {
    "norm_q": "q_norm",
    "norm_k": "k_norm",
    "video_a2v_cross_attn_scale_shift_table": "scale_shift_table_a2v_ca_video",
    "audio_a2v_cross_attn_scale_shift_table": "scale_shift_table_a2v_ca_audio",
}


def diffusers_to_official(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for name, tensor in state_dict.items():
        first, *rest = name.split(".")
        parts = [_DIFFUSERS_TOP.get(first, first)] + [_DIFFUSERS_INNER.get(part, part) for part in rest]
        renamed[".".join(parts)] = tensor
    return renamed


def diffusers_config(config: dict[str, Any]) -> dict[str, Any]:
    """diffusers' LTX2VideoTransformer3DModel arguments for an official config section."""
    gated, adaln = config.get("apply_gated_attention", False), config.get("cross_attention_adaln", False)
    return dict(
        in_channels=config["in_channels"],
        out_channels=config["out_channels"],
        num_attention_heads=config["num_attention_heads"],
        attention_head_dim=config["attention_head_dim"],
        cross_attention_dim=config["cross_attention_dim"],
        caption_channels=config["caption_channels"],
        use_prompt_embeddings=not config.get("caption_proj_before_connector", False),
        gated_attn=gated,
        audio_gated_attn=gated,
        cross_attn_mod=adaln,
        audio_cross_attn_mod=adaln,
        audio_in_channels=config["audio_in_channels"],
        audio_out_channels=config["audio_out_channels"],
        audio_num_attention_heads=config["audio_num_attention_heads"],
        audio_attention_head_dim=config["audio_attention_head_dim"],
        audio_cross_attention_dim=config["audio_cross_attention_dim"],
        num_layers=config["num_layers"],
        rope_type=config.get("rope_type", "interleaved"),
        rope_double_precision=config.get("frequencies_precision") == "float64",
        timestep_scale_multiplier=config["timestep_scale_multiplier"],
        cross_attn_timestep_scale_multiplier=config["av_ca_timestep_scale_multiplier"],
        perturbed_attn=True,
        ff_bias=config.get("ff_bias", True),
        audio_ff_bias=config.get("audio_ff_bias", True),
        use_prompt_adaln_single=config.get("use_prompt_adaln_single", True),
        use_keyframes_abs_pos_embedding=config.get("use_keyframes_abs_pos_embedding", False),
    )
