"""Build tiny random-weight reference VAEs / upsamplers and load them into our MLX models."""

from __future__ import annotations

import copy
from pathlib import Path

import mlx.core as mx
import numpy as np
import torch

from ltx_mlx_core.models.ltxv.upsampler import LatentUpsampler, UpsamplerConfig
from ltx_mlx_core.models.ltxv.upsampler_keys import sanitize_upsampler
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder, VAEConfig
from ltx_mlx_core.models.ltxv.vae_keys import sanitize_official_vae
from tests.parity.conftest import VAE_PREFIX, load_official_component, save_official_checkpoint, torch_to_mlx

# Every block type the 0.9.8 VAE uses, at toy widths: 32x spatial, 8x temporal.
TINY_VAE_CONFIG = {
    "_class_name": "CausalVideoAutoencoder",
    "dims": 3,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 16,
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
        ["res_x", {"num_layers": 2, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 1, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 1, "inject_noise": False}],
    ],
    "scaling_factor": 1.0,
    "norm_layer": "pixel_norm",
    "patch_size": 4,
    "latent_log_var": "uniform",
    "use_quant_conv": False,
    "causal_decoder": False,
    "timestep_conditioning": True,
    "spatial_padding_mode": "zeros",
    "encoder_base_channels": 4,
    "decoder_base_channels": 4,
}

TINY_UPSAMPLER_CONFIG = {
    "_class_name": "LatentUpsampler",
    "in_channels": 16,
    "mid_channels": 32,
    "num_blocks_per_stage": 2,
    "dims": 3,
    "spatial_upsample": True,
    "temporal_upsample": False,
}


def tiny_vae_config(**overrides) -> dict:
    config = copy.deepcopy(TINY_VAE_CONFIG)
    config.update(overrides)
    return config


def randomize_(module: torch.nn.Module, seed: int, scale: float = 0.2) -> None:
    """Give every parameter non-trivial random values (tables, scales and biases included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("timestep_scale_multiplier"):
                continue
            fan_in = max(1, param[0].numel()) if param.ndim > 1 else 1
            std = scale if param.ndim <= 1 else (1.0 / fan_in) ** 0.5
            param.copy_(torch.randn(param.shape, generator=generator) * std)


def reference_vae(config: dict, seed: int = 0):
    """A reference CausalVideoAutoencoder with random weights and per-channel statistics."""
    from ltx_video.models.autoencoders.causal_video_autoencoder import CausalVideoAutoencoder as TorchVAE

    torch.manual_seed(seed)
    model = TorchVAE.from_config(copy.deepcopy(config))
    randomize_(model, seed)
    state = model.state_dict()
    generator = torch.Generator().manual_seed(seed + 1)
    channels = config["latent_channels"]
    state["per_channel_statistics.mean-of-means"] = torch.randn(channels, generator=generator) * 0.3
    state["per_channel_statistics.std-of-means"] = torch.rand(channels, generator=generator) + 0.5
    state["per_channel_statistics.channel"] = torch.arange(channels, dtype=torch.float32)
    model.load_state_dict(state)
    return model.eval()


def torch_state_to_mx(state: dict[str, torch.Tensor]) -> dict[str, mx.array]:
    return {k: torch_to_mlx(v) for k, v in state.items()}


def reference_vae_state(model) -> dict[str, torch.Tensor]:
    """The model's weights in the official file layout (statistics under per_channel_statistics.*)."""
    state = {k: v for k, v in model.state_dict().items() if k not in ("mean_of_means", "std_of_means")}
    state["per_channel_statistics.mean-of-means"] = model.mean_of_means
    state["per_channel_statistics.std-of-means"] = model.std_of_means
    state["per_channel_statistics.channel"] = torch.arange(model.mean_of_means.shape[0], dtype=torch.float32)
    return state


def mlx_vae_via_checkpoint(model, config: dict, path: Path) -> CausalVideoAutoencoder:
    """Save the reference VAE as an official single-file checkpoint, load it back with MLX."""
    save_official_checkpoint({VAE_PREFIX: reference_vae_state(model)}, {"vae": config}, path)
    weights, file_config = load_official_component(path, VAE_PREFIX)
    vae_config = VAEConfig.from_dict(file_config["vae"])
    ours = CausalVideoAutoencoder(vae_config)
    ours.load_weights(list(sanitize_official_vae(weights, config=vae_config).items()), strict=True)
    return ours


def mlx_vae_from_reference(model, config: dict) -> CausalVideoAutoencoder:
    vae_config = VAEConfig.from_dict(config)
    weights = sanitize_official_vae(torch_state_to_mx(reference_vae_state(model)), config=vae_config)
    ours = CausalVideoAutoencoder(vae_config)
    ours.load_weights(list(weights.items()), strict=True)
    return ours


def reference_upsampler(config: dict, seed: int = 0):
    from ltx_video.models.autoencoders.latent_upsampler import LatentUpsampler as TorchUpsampler

    torch.manual_seed(seed)
    model = TorchUpsampler.from_config(dict(config))
    randomize_(model, seed)
    return model.eval()


def mlx_upsampler_from_reference(model, config: dict) -> LatentUpsampler:
    ours = LatentUpsampler(UpsamplerConfig.from_dict(config))
    ours.load_weights(list(sanitize_upsampler(torch_state_to_mx(model.state_dict())).items()), strict=True)
    return ours


def to_channels_last(x: torch.Tensor) -> mx.array:
    """torch [B, C, F, H, W] -> mx [B, F, H, W, C]."""
    return mx.array(x.detach().permute(0, 2, 3, 4, 1).contiguous().numpy())


def to_channels_first(x: mx.array) -> torch.Tensor:
    """mx [B, F, H, W, C] -> torch [B, C, F, H, W]."""
    return torch.from_numpy(np.array(x)).permute(0, 4, 1, 2, 3).contiguous()
