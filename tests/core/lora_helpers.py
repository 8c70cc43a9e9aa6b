"""A tiny LTX-2 transformer with random weights, random LoRAs for it, and LoRA files in each naming."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten

from ltx_mlx_core.models.common.lora import Lora, LoraLayer
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.positions import audio_positions, video_positions
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer, ModalityInput

# Widths of 64 so that every block linear quantises in whole groups of 64 (patchify_proj and the
# caption projection's first linear stay float: 4 and 6 inputs).
TINY = dict(
    num_attention_heads=2,
    attention_head_dim=32,
    in_channels=4,
    out_channels=4,
    num_layers=2,
    cross_attention_dim=64,
    caption_channels=6,
    audio_num_attention_heads=2,
    audio_attention_head_dim=32,
    audio_in_channels=3,
    audio_out_channels=3,
    audio_cross_attention_dim=64,
    rope_type="split",
    frequencies_precision="float64",
)
TINY_GATED = dict(TINY, apply_gated_attention=True, cross_attention_adaln=True, caption_proj_before_connector=True)


def tiny_transformer(dtype: mx.Dtype = mx.float32, seed: int = 0, config: dict | None = None) -> LTX2Transformer:
    model = LTX2Transformer(LTX2Config.from_dict(config or TINY))
    key = mx.random.key(seed)
    leaves = tree_flatten(model.parameters())
    keys = mx.random.split(key, len(leaves))
    values = {
        name: (mx.random.normal(value.shape, key=k) * (value.shape[-1] ** -0.5 if value.ndim == 2 else 0.3))
        for (name, value), k in zip(leaves, keys)
    }
    model.load_weights([(name, value.astype(dtype)) for name, value in values.items()], strict=True)
    mx.eval(model.parameters())
    return model


def linear_paths(model: nn.Module) -> list[str]:
    """Module paths of every linear layer, float or quantised."""
    return [name for name, module in model.named_modules() if isinstance(module, (nn.Linear, nn.QuantizedLinear))]


def official_module(path: str) -> str:
    """Our module path -> the official checkpoint's (the key map's four renames, inverted)."""
    path = path.replace(".to_out", ".to_out.0").replace("ff.proj_in", "ff.net.0.proj")
    path = path.replace("ff.proj_out", "ff.net.2").replace(".embedder.", ".emb.timestep_embedder.")
    return path


def layer_shape(model: nn.Module, path: str) -> tuple[int, int]:
    module = dict(model.named_modules())[path]
    out_features, packed = module.weight.shape
    return (
        (out_features, packed * 32 // module.bits) if isinstance(module, nn.QuantizedLinear) else (out_features, packed)
    )


def random_pair(
    out_features: int, in_features: int, rank: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """down [rank, in], up [out, rank] with a product about as large as the layer's weights."""
    down = rng.standard_normal((rank, in_features)).astype(np.float32) * in_features**-0.5
    up = rng.standard_normal((out_features, rank)).astype(np.float32) * rank**-0.5
    return down, up


def random_lora(model: nn.Module, paths: list[str], rank: int, seed: int, name: str = "random.safetensors") -> Lora:
    rng = np.random.default_rng(seed)
    layers = []
    for path in paths:
        down, up = random_pair(*layer_shape(model, path), rank, rng)
        layers.append(
            LoraLayer(path, mx.array(down), mx.array(up), 1.0, f"{path}.lora_A.weight", f"{path}.lora_B.weight")
        )
    return Lora(name, tuple(layers))


def write_lora_file(
    path: Path,
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    naming: str = "official",
    alphas: dict[str, float] | None = None,
    dtype: mx.Dtype = mx.float32,
) -> Path:
    """Pairs keyed by official module path, written in one of the namings people ship.

    official: diffusion_model.<path>.lora_A/B.weight; comfy: diffusion_model.<path>.lora_down/up.weight
    (+ .alpha); comfy_full: the same under model.diffusion_model.; kohya: lora_unet_<flattened>.
    """
    alphas = alphas or {}
    tensors = {}
    for module, (down, up) in pairs.items():
        if naming == "official":
            stem, down_key, up_key = f"diffusion_model.{module}", "lora_A.weight", "lora_B.weight"
        elif naming == "comfy":
            stem, down_key, up_key = f"diffusion_model.{module}", "lora_down.weight", "lora_up.weight"
        elif naming == "comfy_full":
            stem, down_key, up_key = f"model.diffusion_model.{module}", "lora_down.weight", "lora_up.weight"
        elif naming == "kohya":
            stem, down_key, up_key = (
                "lora_unet_" + module.replace(".", "_"),
                "lora_down.weight",
                "lora_up.weight",
            )
        else:
            raise ValueError(naming)
        tensors[f"{stem}.{down_key}"] = mx.array(down).astype(dtype)
        tensors[f"{stem}.{up_key}"] = mx.array(up).astype(dtype)
        if module in alphas:
            tensors[f"{stem}.alpha"] = mx.array(alphas[module], dtype=mx.float32)
    mx.save_safetensors(str(path), tensors)
    return path


def tiny_inputs(seed: int = 1, caption_channels: int = 6) -> tuple[ModalityInput, ModalityInput]:
    key = mx.random.key(seed)
    k1, k2, k3, k4 = mx.random.split(key, 4)
    video = ModalityInput(
        latent=mx.random.normal((1, 8, TINY["in_channels"]), key=k1),
        sigma=mx.array([0.6]),
        timesteps=mx.array([0.6]),
        positions=video_positions(1, 2, 2, 2, fps=24.0),
        context=mx.random.normal((1, 3, caption_channels), key=k2),
    )
    audio = ModalityInput(
        latent=mx.random.normal((1, 5, TINY["audio_in_channels"]), key=k3),
        sigma=mx.array([0.4]),
        timesteps=mx.array([0.4]),
        positions=audio_positions(1, 5),
        context=mx.random.normal((1, 3, caption_channels), key=k4),
    )
    return video, audio


def parameters(model: nn.Module) -> dict[str, np.ndarray]:
    """Every parameter as numpy (bf16 through float32, which holds it exactly)."""
    return {
        name: np.array(value.astype(mx.float32) if mx.issubdtype(value.dtype, mx.floating) else value)
        for name, value in tree_flatten(model.parameters())
    }
