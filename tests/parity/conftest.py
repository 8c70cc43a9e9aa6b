"""Shared helpers for parity tests against the PyTorch reference.

Import them as `from tests.parity.conftest import save_official_checkpoint, ...`
(the repository root is on sys.path through pytest's `pythonpath`).

The official single-file checkpoint layout: one safetensors file whose keys carry a
component prefix (`model.diffusion_model.` for the transformer, `vae.` for the VAE)
and whose metadata holds `{"config": json.dumps({"transformer": {...}, "vae": {...}})}`,
exactly what the reference `Transformer3DModel.from_pretrained(file)` reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import torch
from safetensors.torch import save_file

TRANSFORMER_PREFIX = "model.diffusion_model."
VAE_PREFIX = "vae."

_TORCH_TO_MLX_DTYPE = {
    torch.float32: mx.float32,
    torch.float16: mx.float16,
    torch.bfloat16: mx.bfloat16,
}


def torch_to_mlx(tensor: torch.Tensor, dtype: mx.Dtype | None = None) -> mx.array:
    """Exact copy of a torch tensor (bf16 goes through float32, which holds it exactly)."""
    source = tensor.detach().cpu()
    target_dtype = dtype if dtype is not None else _TORCH_TO_MLX_DTYPE.get(source.dtype)
    if source.dtype in (torch.bfloat16, torch.float16):
        source = source.float()
    array = mx.array(source.numpy())
    return array.astype(target_dtype) if target_dtype is not None else array


def mlx_to_numpy(array: mx.array) -> np.ndarray:
    """float32 numpy copy of an MLX array of any float dtype."""
    return np.array(array.astype(mx.float32)) if mx.issubdtype(array.dtype, mx.floating) else np.array(array)


def mlx_to_torch(array: mx.array, dtype: torch.dtype | None = None) -> torch.Tensor:
    tensor = torch.from_numpy(mlx_to_numpy(array))
    return tensor.to(dtype) if dtype is not None else tensor


ArrayLike = mx.array | np.ndarray | torch.Tensor


def relative_max_error(ours: ArrayLike, reference: ArrayLike) -> float:
    """max|ours - reference| / max|reference|: an error measured against the output's scale."""
    ours_np, reference_np = _as_float64(ours), _as_float64(reference)
    if ours_np.shape != reference_np.shape:
        raise AssertionError(f"shape mismatch: ours {ours_np.shape} vs reference {reference_np.shape}")
    scale = float(np.max(np.abs(reference_np)))
    return float(np.max(np.abs(ours_np - reference_np))) / max(scale, 1e-12)


def _as_float64(value: ArrayLike) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    if isinstance(value, mx.array):
        return mlx_to_numpy(value).astype(np.float64)
    return np.asarray(value, dtype=np.float64)


def save_official_checkpoint(
    state_dict_by_prefix: Mapping[str, Mapping[str, torch.Tensor]],
    config: Mapping[str, Any],
    path: Path,
) -> Path:
    """Write reference state dicts as one official single-file checkpoint.

    `state_dict_by_prefix` maps a key prefix (e.g. TRANSFORMER_PREFIX) to a reference module's
    state_dict; `config` is the dict stored as JSON under the metadata key "config"
    (e.g. {"transformer": transformer.config, "vae": ...}).
    """
    tensors: dict[str, torch.Tensor] = {}
    for prefix, state_dict in state_dict_by_prefix.items():
        for key, tensor in state_dict.items():
            tensors[prefix + key] = tensor.detach().cpu().contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"config": json.dumps(_json_safe(config))})
    return path


def _json_safe(value: Any) -> Any:
    """Reference configs are FrozenDicts holding tuples; JSON wants dicts and lists."""
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def load_official_component(path: Path, prefix: str) -> tuple[dict[str, mx.array], dict[str, Any]]:
    """Read one component of an official single-file checkpoint with MLX.

    Returns the component's tensors with `prefix` stripped and the parsed metadata config dict.
    """
    weights, metadata = mx.load(str(path), return_metadata=True)
    component = {key[len(prefix) :]: value for key, value in weights.items() if key.startswith(prefix)}
    config = json.loads(metadata["config"]) if "config" in metadata else {}
    return component, config
