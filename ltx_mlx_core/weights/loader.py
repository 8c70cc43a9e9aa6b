"""Load each component into an MLX module, one at a time, from the files `resolve_model` found.

Official single-file checkpoints hold the transformer (`model.diffusion_model.*`)
and the VAE (`vae.*`) with their configs in the header; the upsampler is its own
file; the T5 encoder is a Hugging Face folder (config.json + safetensors, sharded
or not). Tensors are read lazily and cast to the compute dtype as they load.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.models.t5 import T5Config, T5Encoder
from ltx_mlx_core.models.transformer import LTXVideoTransformer
from ltx_mlx_core.models.transformer_config import TransformerConfig
from ltx_mlx_core.models.upsampler import LatentUpsampler, UpsamplerConfig
from ltx_mlx_core.models.vae import CausalVideoAutoencoder
from ltx_mlx_core.models.vae.config import VAEConfig
from ltx_mlx_core.weights.residency import ResidencyMode, split_block_weights, stream_transformer_blocks
from ltx_mlx_core.weights.safetensors_io import SafetensorsHeader, load_tensors, read_header
from ltx_mlx_core.weights.t5_keys import sanitize_hf_t5
from ltx_mlx_core.weights.transformer_keys import load_transformer_weights, sanitize_official_transformer
from ltx_mlx_core.weights.upsampler_keys import sanitize_upsampler
from ltx_mlx_core.weights.vae_keys import sanitize_official_vae

logger = logging.getLogger(__name__)

TRANSFORMER_PREFIX = "model.diffusion_model."
VAE_PREFIX = "vae."
QUANT_GROUP_SIZE = 64


def _component_config(header: SafetensorsHeader, section: str) -> dict[str, Any]:
    config = header.config()
    if section not in config:
        raise CheckpointError(
            f"'{header.path.name}' has no '{section}' config in its header, so it is not an LTX-Video "
            "single-file checkpoint (or of an architecture this version does not know)."
        )
    return config[section]


def _cast(dtype: mx.Dtype):
    return lambda array: array.astype(dtype) if mx.issubdtype(array.dtype, mx.floating) else array


def load_transformer(
    files: Any,
    dtype: mx.Dtype = mx.bfloat16,
    quantize_bits: Optional[int] = None,
    residency: ResidencyMode = ResidencyMode.RESIDENT,
) -> LTXVideoTransformer:
    header = read_header(files.checkpoint)
    config = TransformerConfig.from_dict(_component_config(header, "transformer"))
    model = LTXVideoTransformer(config)
    keys = header.keys_with_prefix(TRANSFORMER_PREFIX)
    if not keys:
        raise CheckpointError(f"'{header.path.name}' holds no transformer weights ('{TRANSFORMER_PREFIX}*').")
    weights = sanitize_official_transformer(load_tensors(files.checkpoint, TRANSFORMER_PREFIX, header=header))
    if residency is ResidencyMode.STREAM_BLOCKS:
        if quantize_bits:
            raise InvalidRequest(
                "Quantisation and block streaming cannot be combined; choose one "
                "(8-bit quantisation alone usually saves more memory)."
            )
        load_transformer_weights(model, weights, cast=_cast(dtype))
        path = files.checkpoint

        def read_blocks() -> dict[int, dict[str, mx.array]]:
            fresh = sanitize_official_transformer(load_tensors(path, TRANSFORMER_PREFIX, header=header))
            return split_block_weights({k: v for k, v in fresh.items() if k.startswith("transformer_blocks.")}, dtype)

        stream_transformer_blocks(model, read_blocks)
        mx.eval(model.parameters())
        return model
    load_transformer_weights(model, weights, cast=_cast(dtype))
    if quantize_bits:
        quantize_linear_layers(model, quantize_bits)
    mx.eval(model.parameters())
    logger.info("transformer loaded: %d layers, width %d, %s", config.num_layers, config.inner_dim, dtype)
    return model


def quantize_linear_layers(model: nn.Module, bits: int) -> None:
    """8/4-bit affine quantisation of every linear layer whose input width fits the group size."""
    if bits not in (4, 8):
        raise InvalidRequest(f"Quantisation must be 4 or 8 bits; got {bits}.")

    def predicate(_path: str, module: nn.Module) -> bool:
        return isinstance(module, nn.Linear) and module.weight.shape[-1] % QUANT_GROUP_SIZE == 0

    nn.quantize(model, group_size=QUANT_GROUP_SIZE, bits=bits, class_predicate=predicate)


def load_vae(files: Any, dtype: mx.Dtype = mx.bfloat16) -> CausalVideoAutoencoder:
    header = read_header(files.checkpoint)
    config = VAEConfig.from_dict(_component_config(header, "vae"))
    vae = CausalVideoAutoencoder(config)
    weights = load_tensors(files.checkpoint, VAE_PREFIX, header=header)
    if not weights:
        raise CheckpointError(f"'{header.path.name}' holds no VAE weights ('{VAE_PREFIX}*').")
    sanitized = sanitize_official_vae(weights, config=config)
    vae.load_weights([(k, _cast(dtype)(v)) for k, v in sanitized.items()], strict=True)
    mx.eval(vae.parameters())
    return vae


def load_upsampler(files: Any, dtype: mx.Dtype = mx.bfloat16) -> LatentUpsampler:
    if files.upsampler is None:
        raise CheckpointError(f"Model '{files.model_id}' has no latent upsampler, which multi-scale generation needs.")
    header = read_header(files.upsampler)
    config = header.config()
    if not config:
        raise CheckpointError(f"'{header.path.name}' has no embedded config; is it a latent upsampler?")
    upsampler = LatentUpsampler(UpsamplerConfig.from_dict(config))
    weights = sanitize_upsampler(load_tensors(files.upsampler, header=header))
    upsampler.load_weights([(k, _cast(dtype)(v)) for k, v in weights.items()], strict=True)
    mx.eval(upsampler.parameters())
    return upsampler


def t5_weight_files(folder: Path) -> list[Path]:
    """The encoder's safetensors files: from the shard index when there is one."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text()).get("weight_map", {})
        return sorted({folder / name for name in weight_map.values()})
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"The text encoder folder '{folder}' has no .safetensors weights.")
    return files


def load_text_encoder(files: Any, dtype: mx.Dtype = mx.bfloat16, quantize_bits: Optional[int] = None):
    """(tokenizer, T5Encoder) from the model's text encoder and tokenizer folders."""
    from ltx_mlx_core.models.text_encoding import load_tokenizer

    folder = Path(files.text_encoder_dir)
    try:
        config = T5Config.from_dict(json.loads((folder / "config.json").read_text()))
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"The text encoder folder '{folder}' has no readable config.json: {error}") from None
    weights: dict[str, mx.array] = {}
    for path in t5_weight_files(folder):
        weights.update(load_tensors(path))
    weights = {k: v for k, v in weights.items() if not k.startswith("decoder.") and k != "lm_head.weight"}
    encoder = T5Encoder(config)
    sanitized = sanitize_hf_t5(weights)
    missing = sorted(set(dict(_flat(encoder))) - set(sanitized))
    if missing:
        raise CheckpointError(f"The text encoder in '{folder}' lacks weights, first: {', '.join(missing[:5])}.")
    encoder.load_weights([(k, _cast(dtype)(v)) for k, v in sanitized.items()], strict=True)
    if quantize_bits:
        quantize_linear_layers(encoder, quantize_bits)
    mx.eval(encoder.parameters())
    return load_tokenizer(files.tokenizer_dir), encoder


def _flat(module: nn.Module):
    from mlx.utils import tree_flatten

    return tree_flatten(module.parameters())
