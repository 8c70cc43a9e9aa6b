"""Low-rank adapters (LoRA) on any MLX module tree, addressed by module path.

A LoRA layer adds `strength * scale * up @ down` to a linear layer's weight (`down` [rank, in],
`up` [out, rank], `scale` = alpha / rank where the file gives alpha). Several LoRAs may target
the same layer; their terms add.

- Float layers (nn.Linear in bf16/f16/f32) get the sum fused into their weight, computed in
  float32 and rounded once to the weight's dtype. The original weight array is kept, so removal
  puts back the very same array: bit for bit, nothing is subtracted. This holds the touched
  weights twice in memory while the LoRAs are applied.
- Quantised layers (nn.QuantizedLinear) keep their packed weights untouched: the module is
  wrapped in `LoraSidePath`, y = layer(x) + (x @ down'.T) @ up'.T with strengths and scales
  folded into down', and removal puts the original module object back. Nothing is dequantised
  and requantised, so the quantisation error does not grow.

Every layer of every LoRA is checked against the model (module present, linear, shapes) before
anything changes; if applying still fails part way, what was done is undone before the error
propagates, so a model is never left half adapted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import LoraError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoraLayer:
    """One adapted linear layer: weight += strength * scale * up @ down."""

    module: str  # dotted path of the linear layer in the model, e.g. "transformer_blocks.0.attn1.to_q"
    down: mx.array  # [rank, in] (lora_A / lora_down)
    up: mx.array  # [out, rank] (lora_B / lora_up)
    scale: float = 1.0  # alpha / rank when the file gives alpha
    down_name: str = ""  # the tensors' names in their file, for messages
    up_name: str = ""


@dataclass(frozen=True)
class Lora:
    """A LoRA's layers under a model's module paths; `name` (its file) appears in messages."""

    name: str
    layers: tuple[LoraLayer, ...]


class LoraSidePath(nn.Module):
    """A layer plus low-rank terms beside it: y = layer(x) + (x @ down.T) @ up.T."""

    def __init__(self, base: nn.Module, down: mx.array, up: mx.array):
        super().__init__()
        self.base = base
        self.lora_down = down  # [total rank, in], strengths and scales folded in
        self.lora_up = up  # [out, total rank]

    def __call__(self, x: mx.array) -> mx.array:
        return self.base(x) + (x @ self.lora_down.T) @ self.lora_up.T


Owner = nn.Module | list


def find_module(model: nn.Module, path: str) -> tuple[Owner, str | int, nn.Module] | None:
    """(owner, key, module) at a dotted module path (list items by index); None if there is none."""
    owner: Owner | None = None
    key: str | int = ""
    node: object = model
    for part in path.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return None
            owner, key, node = node, int(part), node[int(part)]
        elif isinstance(node, nn.Module) and part in node:
            owner, key, node = node, part, node[part]
        else:
            return None
    if owner is None or not isinstance(node, nn.Module):
        return None
    return owner, key, node


def linear_shape(module: nn.Module) -> tuple[int, int] | None:
    """(out, in) features of a LoRA-adaptable layer; None for any other module."""
    if isinstance(module, LoraSidePath):
        return linear_shape(module.base)
    if isinstance(module, nn.QuantizedLinear):
        out_features, packed = module.weight.shape
        return out_features, packed * 32 // module.bits
    if isinstance(module, nn.Linear) and mx.issubdtype(module.weight.dtype, mx.floating):
        out_features, in_features = module.weight.shape
        return out_features, in_features
    return None


@dataclass(frozen=True)
class LayerPlan:
    """A layer to adapt (checked) and the LoRA terms (layer, strength) it receives."""

    module: str
    owner: Owner
    key: str | int
    layer: nn.Module
    terms: tuple[tuple[LoraLayer, float], ...]


@dataclass(frozen=True)
class _Swap:
    """One replacement made: `owner[key]` was `original` and is now `replacement`."""

    owner: Owner
    key: str | int
    original: object
    replacement: object


def _get(owner: Owner, key: str | int) -> object:
    return owner[key]


def _put(owner: Owner, key: str | int, value: object) -> None:
    if isinstance(owner, list):
        owner[key] = value
    else:
        setattr(owner, key, value)


def _misfit(lora: Lora, tensor: str, problem: str) -> LoraError:
    return LoraError(f"The LoRA '{lora.name}' does not fit this model: its tensor '{tensor}' {problem}.")


def _check_layer(lora: Lora, layer: LoraLayer, module: nn.Module | None) -> None:
    if module is None:
        raise _misfit(lora, layer.down_name, f"is for '{layer.module}', which this model does not have")
    shape = linear_shape(module)
    if shape is None:
        raise _misfit(lora, layer.down_name, f"is for '{layer.module}', which is not a linear layer")
    out_features, in_features = shape
    if layer.down.ndim != 2 or layer.down.shape[1] != in_features:
        raise _misfit(
            lora,
            layer.down_name,
            f"has shape {tuple(layer.down.shape)}, but '{layer.module}' takes {in_features} inputs "
            f"(expected [rank, {in_features}])",
        )
    if layer.up.ndim != 2 or layer.up.shape[0] != out_features or layer.up.shape[1] != layer.down.shape[0]:
        raise _misfit(
            lora,
            layer.up_name,
            f"has shape {tuple(layer.up.shape)}, but '{layer.module}' gives {out_features} outputs "
            f"and the rank is {layer.down.shape[0]} (expected [{out_features}, {layer.down.shape[0]}])",
        )


def plan(model: nn.Module, loras: Sequence[tuple[Lora, float]]) -> list[LayerPlan]:
    """Every adapted layer with its terms, after checking all of them; raises LoraError on the first misfit."""
    terms: dict[str, list[tuple[LoraLayer, float]]] = {}
    places: dict[str, tuple[Owner, str | int, nn.Module]] = {}
    for lora, strength in loras:
        seen: dict[str, str] = {}
        for layer in lora.layers:
            found = find_module(model, layer.module)
            _check_layer(lora, layer, None if found is None else found[2])
            if layer.module in seen:
                raise _misfit(
                    lora,
                    layer.down_name,
                    f"adapts '{layer.module}' a second time (after '{seen[layer.module]}')",
                )
            seen[layer.module] = layer.down_name
            places[layer.module] = found
            terms.setdefault(layer.module, []).append((layer, float(strength)))
    return [LayerPlan(path, *places[path], tuple(layer_terms)) for path, layer_terms in terms.items()]


def fused_weight(weight: mx.array, terms: Sequence[tuple[LoraLayer, float]]) -> mx.array:
    """weight + sum of strength * scale * up @ down, in float32, rounded once to the weight's dtype."""
    total = weight.astype(mx.float32)
    for layer, strength in terms:
        total = total + (strength * layer.scale) * (layer.up.astype(mx.float32) @ layer.down.astype(mx.float32))
    return total.astype(weight.dtype)


def side_path(layer: nn.Module, terms: Sequence[tuple[LoraLayer, float]]) -> LoraSidePath:
    """`layer` with the terms beside it, their ranks stacked, in the layer's compute dtype."""
    innermost = layer
    while isinstance(innermost, LoraSidePath):
        innermost = innermost.base
    dtype = innermost.scales.dtype if isinstance(innermost, nn.QuantizedLinear) else mx.float32
    downs = [(strength * lora.scale) * lora.down.astype(mx.float32) for lora, strength in terms]
    ups = [lora.up.astype(mx.float32) for lora, _ in terms]
    return LoraSidePath(layer, mx.concatenate(downs).astype(dtype), mx.concatenate(ups, axis=1).astype(dtype))


def apply_to_layer(target: LayerPlan) -> _Swap:
    """Adapt one layer: fuse into a float weight, or put a side path around anything else."""
    if isinstance(target.layer, nn.Linear):
        original = target.layer.weight
        fused = fused_weight(original, target.terms)
        target.layer.weight = fused
        return _Swap(target.layer, "weight", original, fused)
    wrapped = side_path(target.layer, target.terms)
    _put(target.owner, target.key, wrapped)
    return _Swap(target.owner, target.key, target.layer, wrapped)


def _undo(swaps: Sequence[_Swap]) -> None:
    for swap in reversed(swaps):
        _put(swap.owner, swap.key, swap.original)


class AppliedLoras:
    """LoRAs applied to a model; `remove()` restores exactly what was there."""

    def __init__(self, swaps: list[_Swap]):
        self._swaps = swaps

    @classmethod
    def combine(cls, parts: Sequence[AppliedLoras]) -> AppliedLoras:
        """One handle for several applications (e.g. to several models), removed last-applied first."""
        return cls([swap for part in parts for swap in part._swaps])

    @property
    def layers(self) -> int:
        return len(self._swaps)

    @property
    def active(self) -> bool:
        return bool(self._swaps)

    def new_arrays(self) -> list[mx.array]:
        """The arrays put in (fused weights, side-path factors), for a caller to evaluate when it chooses."""
        arrays = []
        for swap in self._swaps:
            if isinstance(swap.replacement, LoraSidePath):
                arrays += [swap.replacement.lora_down, swap.replacement.lora_up]
            else:
                arrays.append(swap.replacement)
        return arrays

    def remove(self) -> None:
        """Put back every original weight and module; LoRAs applied later must be removed first."""
        for swap in self._swaps:
            if _get(swap.owner, swap.key) is not swap.replacement:
                raise RuntimeError(
                    "The model changed since these LoRAs were applied (LoRAs applied later must be removed "
                    "first); nothing was restored."
                )
        _undo(self._swaps)
        self._swaps = []


def apply_loras(model: nn.Module, loras: Sequence[tuple[Lora, float]]) -> AppliedLoras:
    """Apply (LoRA, strength) pairs to `model`: all layers or, on any error, none."""
    targets = plan(model, loras)
    swaps: list[_Swap] = []
    try:
        for target in targets:
            swaps.append(apply_to_layer(target))
    except BaseException:
        _undo(swaps)
        raise
    fused = sum(isinstance(swap.original, mx.array) for swap in swaps)
    logger.info(
        "Applied %d LoRA(s) to %d layers (%d fused, %d as side paths on quantised layers).",
        len(loras),
        len(swaps),
        fused,
        len(swaps) - fused,
    )
    return AppliedLoras(swaps)


@contextmanager
def fused_loras(model: nn.Module, loras: Sequence[tuple[Lora, float]]) -> Iterator[AppliedLoras]:
    """`with fused_loras(model, [(lora, strength), ...]):` the model is adapted inside, restored after."""
    applied = apply_loras(model, loras)
    try:
        yield applied
    finally:
        applied.remove()
