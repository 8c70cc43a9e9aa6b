"""Load each component into an MLX module, one at a time, from the files `resolve_model` found.

Which layout the files are in decides which reader maps them: an official
single-file checkpoint (layout_official), a diffusers pipeline folder
(layout_diffusers, when `files.checkpoint` is that folder), and the Hugging Face
T5 folder (layout_hf_t5). Readers return configs and lazily loaded, renamed
weights; here they become modules in the compute dtype, optionally quantised
(quantize.py, with an MLX-native cache) and/or with streamed blocks (residency.py; a
quantised transformer's blocks stream from its cache file, so streaming needs the cache).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltxv.t5 import T5Encoder
from ltx_mlx_core.models.ltxv.text_encoding import load_tokenizer
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_keys import load_transformer_weights
from ltx_mlx_core.models.ltxv.upsampler import LatentUpsampler
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder
from ltx_mlx_core.weights import layout_diffusers, layout_hf_t5, layout_official
from ltx_mlx_core.weights.quantize import cache_path, load_or_quantize, quantize_linear_layers
from ltx_mlx_core.weights.registry import ModelFiles
from ltx_mlx_core.weights.residency import (
    ResidencyMode,
    block_weights_in_file,
    split_block_weights,
    stream_transformer_blocks,
)

logger = logging.getLogger(__name__)

# Kept for callers that import them from here.
TRANSFORMER_PREFIX = layout_official.TRANSFORMER_PREFIX
VAE_PREFIX = layout_official.VAE_PREFIX
t5_weight_files = layout_hf_t5.t5_weight_files
__all__ = [
    "load_transformer",
    "load_vae",
    "load_upsampler",
    "load_text_encoder",
    "quantize_linear_layers",
    "t5_weight_files",
    "layout_of",
]


def layout_of(files: ModelFiles) -> str:
    """'diffusers' when the checkpoint is a diffusers pipeline folder, else 'official'."""
    checkpoint = Path(files.checkpoint)
    if checkpoint.is_dir():
        if layout_diffusers.is_diffusers_folder(checkpoint):
            return "diffusers"
        raise CheckpointError(f"'{checkpoint}' is a folder but not a diffusers pipeline (it has no model_index.json).")
    return "official"


def _layout(files: ModelFiles) -> ModuleType:
    return layout_diffusers if layout_of(files) == "diffusers" else layout_official


def _reader(files: ModelFiles, component: str) -> Callable[[Path], tuple[Any, dict[str, mx.array]]]:
    return getattr(_layout(files), f"read_{component}")


def _cast(dtype: mx.Dtype) -> Callable[[mx.array], mx.array]:
    return lambda array: array.astype(dtype) if mx.issubdtype(array.dtype, mx.floating) else array


def _loaded(module: nn.Module, weights: dict[str, mx.array], dtype: mx.Dtype, what: str, source: Path) -> None:
    """load_weights with the file named in the error (strict: nothing missing, nothing extra)."""
    try:
        module.load_weights([(k, _cast(dtype)(v)) for k, v in weights.items()], strict=True)
    except ValueError as error:
        raise CheckpointError(f"The {what} weights in '{source}' do not fit the model: {error}") from None


def load_transformer(
    files: ModelFiles,
    dtype: mx.Dtype = mx.bfloat16,
    quantize_bits: int | None = None,
    residency: ResidencyMode = ResidencyMode.RESIDENT,
    cache_quantized: bool = True,
) -> LTXVideoTransformer:
    read = _reader(files, "transformer")
    source = Path(files.checkpoint)
    streamed = residency is ResidencyMode.STREAM_BLOCKS

    def build_full() -> LTXVideoTransformer:
        config, weights = read(source)
        model = LTXVideoTransformer(config)
        try:
            load_transformer_weights(model, weights, cast=_cast(dtype))
        except CheckpointError as error:
            raise CheckpointError(f"'{source.name}': {error}") from None
        return model

    if quantize_bits:
        component = "transformer"
        config = _layout(files).transformer_config(source)
        model = load_or_quantize(
            lambda: LTXVideoTransformer(config),
            build_full,
            source,
            component,
            quantize_bits,
            dtype,
            use_cache=cache_quantized,
            cache_required=streamed,
        )
        if streamed:
            cached = cache_path(source, component, quantize_bits, dtype)
            stream_transformer_blocks(model, lambda: block_weights_in_file(cached, dtype))
    else:
        model = build_full()
        if streamed:

            def read_blocks() -> dict[int, dict[str, mx.array]]:
                _, fresh = read(source)
                blocks = {k: v for k, v in fresh.items() if k.startswith("transformer_blocks.")}
                return split_block_weights(blocks, dtype)

            stream_transformer_blocks(model, read_blocks)
    mx.eval(model.parameters())
    logger.info(
        "transformer loaded from %s: %d layers, width %d, %s, %s%s",
        source.name,
        model.config.num_layers,
        model.config.inner_dim,
        dtype,
        residency.description,
        f", {quantize_bits}-bit" if quantize_bits else "",
    )
    return model


def load_vae(files: ModelFiles, dtype: mx.Dtype = mx.bfloat16) -> CausalVideoAutoencoder:
    config, weights = _reader(files, "vae")(Path(files.checkpoint))
    vae = CausalVideoAutoencoder(config)
    _loaded(vae, weights, dtype, "VAE", Path(files.checkpoint))
    mx.eval(vae.parameters())
    return vae


def load_upsampler(files: ModelFiles, dtype: mx.Dtype = mx.bfloat16) -> LatentUpsampler:
    if files.upsampler is None:
        raise CheckpointError(f"Model '{files.model_id}' has no latent upsampler, which multi-scale generation needs.")
    config, weights = layout_official.read_upsampler(Path(files.upsampler))
    upsampler = LatentUpsampler(config)
    _loaded(upsampler, weights, dtype, "latent upsampler", Path(files.upsampler))
    mx.eval(upsampler.parameters())
    return upsampler


def load_text_encoder(
    files: ModelFiles, dtype: mx.Dtype = mx.bfloat16, quantize_bits: int | None = None, cache_quantized: bool = True
) -> tuple[Any, T5Encoder]:
    """(tokenizer, T5Encoder) from the model's text encoder and tokenizer folders."""
    folder = Path(files.text_encoder_dir)
    config = layout_hf_t5.t5_config(folder)

    def build_full() -> T5Encoder:
        _, weights = layout_hf_t5.read_t5(folder)
        encoder = T5Encoder(config)
        _loaded(encoder, weights, dtype, "text encoder", folder)
        return encoder

    if quantize_bits:
        encoder = load_or_quantize(
            lambda: T5Encoder(config), build_full, folder, "t5", quantize_bits, dtype, use_cache=cache_quantized
        )
    else:
        encoder = build_full()
    mx.eval(encoder.parameters())
    return load_tokenizer(files.tokenizer_dir), encoder
