"""The official LTX-Video single-file layout: transformer + VAE in one safetensors file.

Transformer tensors are prefixed `model.diffusion_model.`, VAE tensors `vae.`;
the header's metadata["config"] JSON holds {"transformer": {...}, "vae": {...}}.
The latent upsampler is a file of its own with its config as the whole JSON.
Each reader returns (config, sanitized lazily-loaded weights) and allocates nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import sanitize_official_transformer
from ltx_mlx_core.models.ltxv.upsampler import UpsamplerConfig
from ltx_mlx_core.models.ltxv.upsampler_keys import sanitize_upsampler
from ltx_mlx_core.models.ltxv.vae.config import VAEConfig
from ltx_mlx_core.models.ltxv.vae_keys import sanitize_official_vae
from ltx_mlx_core.weights.safetensors_io import SafetensorsHeader, load_tensors, read_header

TRANSFORMER_PREFIX = "model.diffusion_model."
VAE_PREFIX = "vae."


def component_config(header: SafetensorsHeader, section: str) -> dict[str, Any]:
    config = header.config()
    if section not in config:
        raise CheckpointError(
            f"'{header.path.name}' has no '{section}' config in its header, so it is not an LTX-Video "
            "single-file checkpoint (or of an architecture this version does not know)."
        )
    return config[section]


def _config_error(header: SafetensorsHeader, section: str, error: Exception) -> CheckpointError:
    return CheckpointError(f"'{header.path.name}' has a '{section}' config this version cannot build: {error}")


def transformer_config(path: Path, header: SafetensorsHeader | None = None) -> TransformerConfig:
    header = header or read_header(path)
    try:
        return TransformerConfig.from_dict(component_config(header, "transformer"))
    except (TypeError, ValueError) as error:
        raise _config_error(header, "transformer", error) from None


def read_transformer(path: Path) -> tuple[TransformerConfig, dict[str, mx.array]]:
    header = read_header(path)
    config = transformer_config(path, header)
    if not header.keys_with_prefix(TRANSFORMER_PREFIX):
        raise CheckpointError(f"'{header.path.name}' holds no transformer weights ('{TRANSFORMER_PREFIX}*').")
    weights = load_tensors(path, TRANSFORMER_PREFIX, header=header)
    try:
        return config, sanitize_official_transformer(weights)
    except CheckpointError as error:
        raise CheckpointError(f"'{header.path.name}': {error}") from None


def read_vae(path: Path) -> tuple[VAEConfig, dict[str, mx.array]]:
    header = read_header(path)
    try:
        config = VAEConfig.from_dict(component_config(header, "vae"))
    except (TypeError, ValueError) as error:
        raise _config_error(header, "vae", error) from None
    weights = load_tensors(path, VAE_PREFIX, header=header)
    if not weights:
        raise CheckpointError(f"'{header.path.name}' holds no VAE weights ('{VAE_PREFIX}*').")
    try:
        return config, sanitize_official_vae(weights, config=config)
    except CheckpointError as error:
        raise CheckpointError(f"'{header.path.name}': {error}") from None


def read_upsampler(path: Path) -> tuple[UpsamplerConfig, dict[str, mx.array]]:
    header = read_header(path)
    config = header.config()
    if not config:
        raise CheckpointError(f"'{header.path.name}' has no embedded config; is it a latent upsampler?")
    try:
        upsampler_config = UpsamplerConfig.from_dict(config)
    except (TypeError, ValueError) as error:
        raise _config_error(header, "upsampler", error) from None
    try:
        return upsampler_config, sanitize_upsampler(load_tensors(path, header=header))
    except CheckpointError as error:
        raise CheckpointError(f"'{header.path.name}': {error}") from None
