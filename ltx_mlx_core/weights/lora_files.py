"""LoRA files (safetensors) read into down/up pairs per layer, in the namings people ship.

- Official (ltx-core / the LTX trainer, PEFT naming): `diffusion_model.<path>.lora_A.weight` and
  `.lora_B.weight`, `<path>` being the official checkpoint's module path under
  `model.diffusion_model.`; other components' layers carry their own checkpoint prefix
  (e.g. `text_embedding_projection.`).
- ComfyUI: `.lora_down.weight` / `.lora_up.weight` with an optional `.alpha` per layer, under
  `diffusion_model.` or `model.diffusion_model.`, or kohya's flattened `lora_unet_<path with
  dots as underscores>`.
- Without a prefix, a name is tried as a full checkpoint name and then under
  `model.diffusion_model.` (how ltx-core reads it after stripping `diffusion_model.`).

Where a layer has alpha, its scale is alpha / rank, as ComfyUI and kohya apply it; ltx-core
never reads alpha (the official files have none), so the two agree on official files.
Which model layer a name means is the mapping's business (lora_mapping.py); this module only
checks what a file can be checked for by itself: known tensor kinds, complete pairs, ranks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError, LoraError
from ltx_mlx_core.weights.safetensors_io import load_tensors, read_header

DIFFUSION_MODEL_PREFIX = "model.diffusion_model."
_COMFY_PREFIX = "diffusion_model."
FLATTENED_PREFIX = "lora_unet_"

# Tensor-name endings -> role in the pair.
_ROLES = (
    (".lora_A.weight", "down"),
    (".lora_B.weight", "up"),
    (".lora_down.weight", "down"),
    (".lora_up.weight", "up"),
    (".alpha", "alpha"),
)


@dataclass(frozen=True)
class LoraFileLayer:
    """One layer's pair as the file names it (`stem`: the tensor names without their role suffix)."""

    stem: str
    down: mx.array  # [rank, in]
    up: mx.array  # [out, rank]
    scale: float  # alpha / rank, or 1 without alpha
    down_name: str
    up_name: str

    @property
    def flattened(self) -> bool:
        """A kohya name (`lora_unet_...`): module path with its dots turned into underscores."""
        return self.stem.startswith(FLATTENED_PREFIX)

    def checkpoint_names(self) -> tuple[str, ...]:
        """Full checkpoint module paths this layer may mean, most likely first (not for flattened names)."""
        if self.stem.startswith(DIFFUSION_MODEL_PREFIX):
            return (self.stem,)
        if self.stem.startswith(_COMFY_PREFIX):
            return ("model." + self.stem,)
        return (self.stem, DIFFUSION_MODEL_PREFIX + self.stem)


@dataclass(frozen=True)
class LoraFile:
    path: Path
    layers: tuple[LoraFileLayer, ...]  # sorted by stem

    @property
    def name(self) -> str:
        return str(self.path)


def _split(key: str) -> tuple[str, str] | None:
    for ending, role in _ROLES:
        if key.endswith(ending):
            return key[: -len(ending)], role
    return None


def _unfit(path: Path, tensor: str, problem: str) -> LoraError:
    return LoraError(f"The LoRA file '{path}' cannot be used: its tensor '{tensor}' {problem}.")


def _layer(path: Path, stem: str, parts: dict[str, tuple[str, mx.array]]) -> LoraFileLayer:
    missing = [role for role in ("down", "up") if role not in parts]
    if missing:
        present = min(name for name, _ in parts.values())
        raise _unfit(path, present, f"has no matching {' or '.join(missing)} tensor")
    (down_name, down), (up_name, up) = parts["down"], parts["up"]
    for name, tensor in ((down_name, down), (up_name, up)):
        if not mx.issubdtype(tensor.dtype, mx.floating):
            raise _unfit(path, name, f"holds {tensor.dtype} values; LoRA tensors are floating point")
        if tensor.ndim != 2:
            raise _unfit(path, name, f"has shape {tuple(tensor.shape)}; a LoRA tensor is a matrix")
    rank = down.shape[0]
    if up.shape[1] != rank:
        raise _unfit(path, up_name, f"has shape {tuple(up.shape)}, but its down tensor has rank {rank}")
    scale = 1.0
    if "alpha" in parts:
        alpha_name, alpha = parts["alpha"]
        if alpha.size != 1:
            raise _unfit(path, alpha_name, f"has shape {tuple(alpha.shape)}; alpha is one number")
        scale = alpha.astype(mx.float32).item() / rank
    return LoraFileLayer(stem, down, up, scale, down_name, up_name)


def read_lora_file(path: str | Path) -> LoraFile:
    """The file's LoRA layers (tensors loaded lazily); LoraError naming the file and tensor if it is unusable."""
    path = Path(path)
    try:
        header = read_header(path)
        tensors = load_tensors(path, header=header)
    except CheckpointError as error:
        raise LoraError(f"The LoRA file '{path}' cannot be read: {error}") from None
    grouped: dict[str, dict[str, tuple[str, mx.array]]] = {}
    for key in sorted(tensors):
        split = _split(key)
        if split is None:
            raise _unfit(
                path,
                key,
                "is not part of a LoRA this app applies (lora_A/lora_B or lora_down/lora_up pairs, optional alpha)",
            )
        stem, role = split
        grouped.setdefault(stem, {})[role] = (key, tensors[key])
    if not grouped:
        raise LoraError(f"The LoRA file '{path}' holds no tensors.")
    return LoraFile(path, tuple(_layer(path, stem, parts) for stem, parts in sorted(grouped.items())))
