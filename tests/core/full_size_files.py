"""Real-size model files with real headers and sparse (unwritten) data, for sizing tests.

A safetensors header names every tensor, shape and offset; the data section is a
hole in a sparse file, so a "13B checkpoint" costs a few kB of disk. Only code that
reads headers (memory estimates, catalog checks) may be pointed at these files.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_mlx_core.models.ltxv.t5 import T5Config, T5Encoder
from ltx_mlx_core.models.ltxv.t5_keys import to_hf_t5
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import to_official_transformer
from ltx_mlx_core.models.ltxv.upsampler import LTXV_098_UPSAMPLER_CONFIG, LatentUpsampler, UpsamplerConfig
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder
from ltx_mlx_core.models.ltxv.vae.config import LTXV_098_VAE_CONFIG, VAEConfig
from ltx_mlx_core.models.ltxv.vae_keys import to_official_vae
from ltx_mlx_core.weights.registry import ModelFiles

BYTES = {"BF16": 2, "F32": 4, "F8_E4M3": 1}


def shapes_of(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of a freshly built module (MLX initialises lazily: nothing is allocated)."""
    return {name: tuple(value.shape) for name, value in tree_flatten(module.parameters())}


def write_sparse_safetensors(path: Path, tensors: dict[str, tuple[tuple[int, ...], str]], metadata=None) -> int:
    header: dict = {"__metadata__": metadata or {}}
    offset = 0
    for name, (shape, dtype) in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + count * BYTES[dtype]]}
        offset += count * BYTES[dtype]
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as handle:
        handle.write(len(raw).to_bytes(8, "little") + raw)
        handle.truncate(8 + len(raw) + offset)
    return 8 + len(raw) + offset


def write_full_size_model(folder: Path, transformer: TransformerConfig, dtype: str = "BF16") -> ModelFiles:
    """Checkpoint, upsampler and T5 XXL folder with the shapes of the real 0.9.8 files (dtype BF16 or F8_E4M3)."""
    vae_config = VAEConfig.from_dict(LTXV_098_VAE_CONFIG)
    weights = {}
    for k, v in to_official_transformer(shapes_of(LTXVideoTransformer(transformer))).items():
        if dtype == "F8_E4M3" and k.startswith("transformer_blocks.") and k.endswith(".weight") and len(v) == 2:
            # FP8 checkpoints: e4m3 block linear weights with a float scale each; the rest stays bf16.
            weights[f"model.diffusion_model.{k}"] = (v, "F8_E4M3")
            weights[f"model.diffusion_model.{k}_scale"] = ((), "F32")
        else:
            weights[f"model.diffusion_model.{k}"] = (v, "BF16")
    vae = to_official_vae(_lazy(CausalVideoAutoencoder(vae_config)))
    weights.update({f"vae.{k}": (tuple(v.shape), "BF16") for k, v in vae.items()})
    config = {"transformer": transformer.to_dict(), "vae": vae_config.to_dict()}
    write_sparse_safetensors(folder / "model.safetensors", weights, {"config": json.dumps(config)})
    upsampler_config = UpsamplerConfig.from_dict(LTXV_098_UPSAMPLER_CONFIG)
    upsampler = {k: (v, "BF16") for k, v in shapes_of(LatentUpsampler(upsampler_config)).items()}
    metadata = {"config": json.dumps(LTXV_098_UPSAMPLER_CONFIG)}
    write_sparse_safetensors(folder / "upsampler.safetensors", upsampler, metadata)
    text = folder / "text_encoder"
    text.mkdir()
    t5 = {k: (tuple(v.shape), "F32") for k, v in to_hf_t5(_lazy(T5Encoder(T5Config()))).items()}
    write_sparse_safetensors(text / "model.safetensors", t5)
    return ModelFiles(
        model_id="full-size",
        checkpoint=folder / "model.safetensors",
        text_encoder_dir=text,
        tokenizer_dir=text,
        upsampler=folder / "upsampler.safetensors",
    )


def _lazy(module: nn.Module) -> dict:
    """Parameters as lazy arrays: only their shapes are used (to_official_vae transposes 5-D shapes)."""
    return dict(tree_flatten(module.parameters()))
