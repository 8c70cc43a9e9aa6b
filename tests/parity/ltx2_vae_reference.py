"""Tiny random-weight LTX-2 video VAEs and latent upsamplers from the references (ltx-core, diffusers).

ltx-core's video VAE and upsampler modules import without its audio package, so no
`torchaudio` stand-in is needed here (importing `ltx_core.model.video_vae` was checked to
leave `torchaudio` out of `sys.modules`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import torch
from safetensors.torch import save_file

from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler, LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.upsampler_keys import sanitize_latent_upsampler
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.models.ltx2.video_vae_keys import sanitize_diffusers_video_vae, sanitize_official_video_vae
from tests.parity.vae_helpers import randomize_

# Every block kind of the LTX-2 (19B) VAE at toy widths: 8 latent channels, decoder base 4
# (so 32 after conv_in), one layer per level; no padding mode given: encoder zeros, decoder
# reflect. Timestep-conditioned (the 19B checkpoint is not) so that path is proven too.
TINY_LTX2_VAE = {
    "_class_name": "CausalVideoAutoencoder",
    "dims": 3,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 8,
    "encoder_blocks": [
        ["res_x", {"num_layers": 1}],
        ["compress_space_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_time_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
    ],
    "decoder_blocks": [
        ["res_x", {"num_layers": 1, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 1, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 2, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 1, "inject_noise": False}],
    ],
    "scaling_factor": 1.0,
    "norm_layer": "pixel_norm",
    "patch_size": 4,
    "latent_log_var": "uniform",
    "causal_decoder": False,
    "timestep_conditioning": True,
    "decoder_base_channels": 4,
}

# The LTX-2.3 VAE's layout at toy widths: space-only, time-only and x1 decoder levels, a x1
# last encoder level, zero padding on both sides, no timestep conditioning.
TINY_LTX23_VAE = {
    **copy.deepcopy(TINY_LTX2_VAE),
    "encoder_blocks": [
        ["res_x", {"num_layers": 1}],
        ["compress_space_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_time_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all_res", {"multiplier": 1}],
        ["res_x", {"num_layers": 1}],
    ],
    "decoder_blocks": [
        ["res_x", {"num_layers": 1}],
        ["compress_space", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_time", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all", {"multiplier": 1}],
        ["res_x", {"num_layers": 2}],
        ["compress_all", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
    ],
    "timestep_conditioning": False,
    "spatial_padding_mode": "zeros",
}

TINY_VAES = {"ltx2": TINY_LTX2_VAE, "ltx23": TINY_LTX23_VAE}

# The same two toy VAEs in diffusers' AutoencoderKLLTX2Video vocabulary.
TINY_DIFFUSERS_VAES = {
    "ltx2": {
        "latent_channels": 8,
        "block_out_channels": (16, 32, 64, 128),
        "layers_per_block": (1, 1, 1, 1, 1),
        "decoder_block_out_channels": (8, 16, 32),
        "decoder_layers_per_block": (1, 1, 2, 1),
        "decoder_inject_noise": (False, False, False, False),
        "upsample_residual": (True, True, True),
        "upsample_factor": (2, 2, 2),
        "timestep_conditioning": True,
        "decoder_causal": False,
        "encoder_spatial_padding_mode": "zeros",
        "decoder_spatial_padding_mode": "reflect",
    },
    "ltx23": {
        "latent_channels": 8,
        "block_out_channels": (16, 32, 64, 64),
        "layers_per_block": (1, 1, 1, 1, 1),
        "decoder_block_out_channels": (8, 16, 16, 32),
        "decoder_layers_per_block": (1, 1, 1, 2, 1),
        "decoder_spatio_temporal_scaling": (True, True, True, True),
        "decoder_inject_noise": (False, False, False, False, False),
        "upsample_type": ("spatiotemporal", "spatiotemporal", "temporal", "spatial"),
        "upsample_residual": (False, False, False, False),
        "upsample_factor": (2, 2, 1, 2),
        "timestep_conditioning": False,
        "decoder_causal": False,
        "encoder_spatial_padding_mode": "zeros",
        "decoder_spatial_padding_mode": "zeros",
    },
}


def _statistics(channels: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(channels, generator=generator) * 0.3, torch.rand(channels, generator=generator) + 0.5


def reference_video_vae(config: dict, seed: int = 0):
    """ltx-core's VideoEncoder and VideoDecoder with random weights and shared per-channel statistics."""
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

    torch.manual_seed(seed)
    encoder = VideoEncoderConfigurator.from_config({"vae": copy.deepcopy(config)})
    decoder = VideoDecoderConfigurator.from_config({"vae": copy.deepcopy(config)})
    randomize_(encoder, seed)
    randomize_(decoder, seed + 1)
    mean, std = _statistics(config["latent_channels"], seed + 2)
    for module in (encoder, decoder):
        module.per_channel_statistics.get_buffer("mean-of-means").copy_(mean)
        module.per_channel_statistics.get_buffer("std-of-means").copy_(std)
    return encoder.eval(), decoder.eval()


def official_state(encoder, decoder) -> dict[str, torch.Tensor]:
    """The two modules' weights as the official single file holds them (`vae.` prefix)."""
    state: dict[str, torch.Tensor] = {}
    for side, module in (("encoder", encoder), ("decoder", decoder)):
        for key, value in module.state_dict().items():
            if not key.startswith("per_channel_statistics."):
                state[f"vae.{side}.{key}"] = value
    stats = decoder.per_channel_statistics
    channels = stats.get_buffer("mean-of-means").shape[0]
    state["vae.per_channel_statistics.mean-of-means"] = stats.get_buffer("mean-of-means")
    state["vae.per_channel_statistics.std-of-means"] = stats.get_buffer("std-of-means")
    state["vae.per_channel_statistics.channel"] = torch.arange(channels, dtype=torch.float32)
    state["vae.per_channel_statistics.mean-of-stds"] = torch.ones(channels)
    return state


def write_official_vae(encoder, decoder, config: dict, path: Path) -> Path:
    tensors = {k: v.detach().contiguous() for k, v in official_state(encoder, decoder).items()}
    save_file(tensors, str(path), metadata={"config": json.dumps({"vae": config})})
    return path


def mlx_vae_from_file(path: Path) -> VideoAutoencoder:
    """Read a single-file checkpoint's video VAE as the loader will: its "vae" config and `vae.*` tensors."""
    weights, metadata = mx.load(str(path), return_metadata=True)
    config = VideoVAEConfig.from_dict(json.loads(metadata["config"]))
    vae_weights = {k: v for k, v in weights.items() if k.startswith("vae.")}
    vae = VideoAutoencoder(config)
    vae.load_weights(list(sanitize_official_video_vae(vae_weights, config).items()), strict=True)
    return vae


def diffusers_video_vae(generation: str, seed: int = 0):
    from diffusers import AutoencoderKLLTX2Video

    torch.manual_seed(seed)
    model = AutoencoderKLLTX2Video(**TINY_DIFFUSERS_VAES[generation])
    randomize_(model, seed)
    mean, std = _statistics(model.config.latent_channels, seed + 2)
    model.latents_mean.copy_(mean)
    model.latents_std.copy_(std)
    return model.eval()


def mlx_vae_from_diffusers(model, generation: str) -> VideoAutoencoder:
    config = VideoVAEConfig.from_dict(TINY_VAES[generation])
    weights = {k: mx.array(v.detach().float().numpy()) for k, v in model.state_dict().items()}
    vae = VideoAutoencoder(config)
    vae.load_weights(list(sanitize_diffusers_video_vae(weights, config).items()), strict=True)
    return vae


def reference_upsampler(config: dict, seed: int = 0):
    from ltx_core.model.upsampler import LatentUpsamplerConfigurator

    torch.manual_seed(seed)
    model = LatentUpsamplerConfigurator.from_config(dict(config))
    randomize_(model, seed)
    return model.eval()


def mlx_upsampler_from_file(path: Path) -> LatentUpsampler:
    weights, metadata = mx.load(str(path), return_metadata=True)
    ours = LatentUpsampler(LatentUpsamplerConfig.from_dict(json.loads(metadata["config"])))
    ours.load_weights(list(sanitize_latent_upsampler(weights).items()), strict=True)
    return ours


def write_upsampler_file(model, config: dict, path: Path) -> Path:
    """The reference upsampler as its own file: tensors plus the "config" metadata the reference reads."""
    save_file(
        {k: v.detach().contiguous() for k, v in model.state_dict().items()},
        str(path),
        metadata={"config": json.dumps(config)},
    )
    return path


def channels_last(x: torch.Tensor) -> mx.array:
    """torch [B, C, F, H, W] -> mx [B, F, H, W, C]."""
    return mx.array(x.detach().permute(0, 2, 3, 4, 1).contiguous().numpy())


def channels_first(x: mx.array) -> np.ndarray:
    """mx [B, F, H, W, C] -> numpy [B, C, F, H, W]."""
    return np.array(x.astype(mx.float32)).transpose(0, 4, 1, 2, 3)
