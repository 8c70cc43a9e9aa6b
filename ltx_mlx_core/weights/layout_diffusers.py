"""The diffusers folder layout of an LTX-Video pipeline.

    model_index.json
    transformer/  config.json + diffusion_pytorch_model[-0000k-of-0000n].safetensors (+ index)
    vae/          config.json + diffusion_pytorch_model.safetensors
    text_encoder/ the Hugging Face T5 layout (layout_hf_t5)
    tokenizer/

The transformer's diffusers names map directly (transformer_keys). The VAE is
translated to the official layout first: its diffusers config (channel lists,
layers per block, down/upsample kinds) becomes the official block list, and its
grouped block names (`down_blocks.i.resnets`, `.downsamplers.0`, `mid_block`) the
official flat indices, so the official sanitizer and checks apply unchanged.
Only the 0.9.5+ VAE family (LTXVideo095DownBlock3D, residual upsamplers, the one
0.9.8 uses) is translated; older diffusers VAEs are refused by name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import sanitize_diffusers_transformer
from ltx_mlx_core.models.ltxv.vae.config import VAEConfig
from ltx_mlx_core.models.ltxv.vae_keys import sanitize_official_vae
from ltx_mlx_core.weights.layout_hf_t5 import sharded_files
from ltx_mlx_core.weights.safetensors_io import load_tensors

MODEL_INDEX = "model_index.json"
WEIGHTS_INDEX = "diffusion_pytorch_model.safetensors.index.json"
_DOWNSAMPLE_BLOCKS = {
    "spatial": "compress_space_res",
    "temporal": "compress_time_res",
    "spatiotemporal": "compress_all_res",
}


def is_diffusers_folder(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / MODEL_INDEX).is_file()


def _config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"'{path}' is missing or not JSON: {error}") from None


def _weights(folder: Path) -> dict[str, mx.array]:
    weights: dict[str, mx.array] = {}
    for path in sharded_files(folder, WEIGHTS_INDEX):
        weights.update(load_tensors(path))
    return weights


def transformer_config(root: Path) -> TransformerConfig:
    path = Path(root) / "transformer" / "config.json"
    raw = _config(path.parent)
    if raw.get("_class_name") not in (None, "LTXVideoTransformer3DModel"):
        raise CheckpointError(f"'{path}' describes a {raw['_class_name']}, not an LTX-Video transformer.")
    try:
        return TransformerConfig.from_diffusers_dict(raw)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"'{path}' is not a transformer config this version can build: {error}") from None


def transformer_weight_files(root: Path) -> list[Path]:
    return sharded_files(Path(root) / "transformer", WEIGHTS_INDEX)


def read_transformer(root: Path) -> tuple[TransformerConfig, dict[str, mx.array]]:
    folder = Path(root) / "transformer"
    config = transformer_config(root)
    try:
        return config, sanitize_diffusers_transformer(_weights(folder))
    except CheckpointError as error:
        raise CheckpointError(f"'{folder}': {error}") from None


def official_vae_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A diffusers AutoencoderKLLTXVideo config.json -> the official "vae" config JSON."""
    down_types = list(raw.get("down_block_types", []))
    if not down_types or any(kind != "LTXVideo095DownBlock3D" for kind in down_types):
        raise CheckpointError(
            f"The diffusers VAE has down blocks {down_types}; only the 0.9.5+ family (LTXVideo095DownBlock3D, "
            "used by 0.9.8) can be read from a diffusers folder."
        )
    if raw.get("patch_size_t", 1) != 1:
        raise CheckpointError(f"The diffusers VAE has temporal patches of {raw['patch_size_t']}; only 1 is supported.")
    channels = list(raw["block_out_channels"])
    layers = list(raw["layers_per_block"])
    if 0 in layers or 0 in raw["decoder_layers_per_block"]:
        raise CheckpointError("The diffusers VAE has a block without layers; not supported.")
    encoder: list[list[Any]] = []
    for index, scales in enumerate(raw["spatio_temporal_scaling"]):
        encoder.append(["res_x", {"num_layers": layers[index]}])
        if scales:
            kind = raw["downsample_type"][index]
            if kind not in _DOWNSAMPLE_BLOCKS:
                raise CheckpointError(f"The diffusers VAE downsamples with '{kind}', which is not supported.")
            encoder.append([_DOWNSAMPLE_BLOCKS[kind], {"multiplier": channels[index + 1] // channels[index]}])
    encoder.append(["res_x", {"num_layers": layers[-1]}])

    decoder_channels = list(raw["decoder_block_out_channels"])
    decoder_layers = list(raw["decoder_layers_per_block"])
    factors = list(raw.get("upsample_factor", [1] * len(decoder_channels)))
    residual = list(raw.get("upsample_residual", [False] * len(decoder_channels)))
    noise = list(raw.get("decoder_inject_noise", [False] * len(decoder_layers)))
    _check_no_channel_change(decoder_channels, factors)
    decoder: list[list[Any]] = []
    for index, scales in enumerate(raw["decoder_spatio_temporal_scaling"]):
        decoder.append(["res_x", {"num_layers": decoder_layers[index], "inject_noise": bool(noise[index])}])
        if scales:
            decoder.append(["compress_all", {"residual": bool(residual[index]), "multiplier": factors[index]}])
    decoder.append(["res_x", {"num_layers": decoder_layers[-1], "inject_noise": bool(noise[-1])}])
    return {
        "_class_name": "CausalVideoAutoencoder",
        "dims": 3,
        "in_channels": raw.get("in_channels", 3),
        "out_channels": raw.get("out_channels", 3),
        "latent_channels": raw.get("latent_channels", 128),
        "encoder_blocks": encoder,
        "decoder_blocks": decoder,
        "patch_size": raw.get("patch_size", 4),
        "norm_layer": "pixel_norm",
        "latent_log_var": "uniform",
        "causal_decoder": bool(raw.get("decoder_causal", False)),
        "timestep_conditioning": bool(raw.get("timestep_conditioning", False)),
        "spatial_padding_mode": "zeros",
        "encoder_base_channels": channels[0],
        "decoder_base_channels": decoder_channels[0] // factors[0],
    }


def _check_no_channel_change(channels: list[int], factors: list[int]) -> None:
    """diffusers adds a channel-changing resnet (`conv_in`) to an up block in layouts 0.9.8 never uses."""
    top = list(reversed(channels))
    previous = top[0]
    for width, factor in zip(top, reversed(factors)):
        if previous // factor != width // factor:
            raise CheckpointError("The diffusers VAE's decoder changes width inside an up block; not supported.")
        previous = width // factor


def _vae_block_renames(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(diffusers block prefix, official block prefix), following the block walk of official_vae_config."""
    renames: list[tuple[str, str]] = []
    official = 0
    for index, scales in enumerate(raw["spatio_temporal_scaling"]):
        renames.append((f"encoder.down_blocks.{index}.resnets.", f"encoder.down_blocks.{official}.res_blocks."))
        official += 1
        if scales:
            renames.append((f"encoder.down_blocks.{index}.downsamplers.0.", f"encoder.down_blocks.{official}."))
            official += 1
    renames.append(("encoder.mid_block.resnets.", f"encoder.down_blocks.{official}.res_blocks."))
    # The official decoder builds its blocks in reverse: index 0 is diffusers' mid block.
    renames += [
        ("decoder.mid_block.resnets.", "decoder.up_blocks.0.res_blocks."),
        ("decoder.mid_block.time_embedder.", "decoder.up_blocks.0.time_embedder."),
    ]
    official = 1
    for index, scales in enumerate(reversed(raw["decoder_spatio_temporal_scaling"])):
        if scales:
            renames.append((f"decoder.up_blocks.{index}.upsamplers.0.", f"decoder.up_blocks.{official}."))
            official += 1
        renames.append((f"decoder.up_blocks.{index}.resnets.", f"decoder.up_blocks.{official}.res_blocks."))
        renames.append((f"decoder.up_blocks.{index}.time_embedder.", f"decoder.up_blocks.{official}.time_embedder."))
        official += 1
    renames += [
        ("decoder.time_embedder.", "decoder.last_time_embedder."),
        ("decoder.scale_shift_table", "decoder.last_scale_shift_table"),
        ("latents_mean", "per_channel_statistics.mean-of-means"),
        ("latents_std", "per_channel_statistics.std-of-means"),
    ]
    return renames


def official_vae_keys(weights: dict[str, mx.array], raw: dict[str, Any]) -> dict[str, mx.array]:
    renames = _vae_block_renames(raw)
    official: dict[str, mx.array] = {}
    for key, value in weights.items():
        new = key
        for source, target in renames:
            if key.startswith(source):
                new = target + key[len(source) :]
                break
        new = re.sub(r"\.conv_shortcut\.conv\.", ".conv_shortcut.", new).replace(".norm3.", ".norm3.norm.")
        official[new] = value
    return official


def read_vae(root: Path) -> tuple[VAEConfig, dict[str, mx.array]]:
    folder = Path(root) / "vae"
    raw = _config(folder)
    if raw.get("_class_name") not in (None, "AutoencoderKLLTXVideo"):
        raise CheckpointError(f"'{folder / 'config.json'}' describes a {raw['_class_name']}, not an LTX-Video VAE.")
    try:
        config = VAEConfig.from_dict(official_vae_config(raw))
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        path = folder / "config.json"
        raise CheckpointError(f"'{path}' is not a VAE config this version can build: {error}") from None
    try:
        return config, sanitize_official_vae(official_vae_keys(_weights(folder), raw), config=config)
    except CheckpointError as error:
        raise CheckpointError(f"'{folder}': {error}") from None
