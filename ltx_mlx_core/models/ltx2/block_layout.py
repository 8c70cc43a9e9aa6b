"""An LTX-2 block's inputs as flat arrays plus a hashable layout, so a block can run compiled.

mx.compile takes arrays; a block reads two `StreamState`s (block.py; any frozen dataclass here) (arrays, rotary tables, optional masks
and a few plain settings) and the guidance pass's perturbations. The layout holds everything that
is not an array (which fields are absent, the settings, which attentions each batch entry skips
in this block), and one compiled graph serves each layout.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import mlx.core as mx

from ltx_mlx_core.models.common.rope import RotaryAngles
from ltx_mlx_core.models.ltx2.perturbations import Perturbation, Perturbations, Skip
from ltx_mlx_core.models.ltx2.rope import SplitRotary

_ROTARY_TYPES = {"interleaved": RotaryAngles, "split": SplitRotary}

Layout = tuple[Any, ...]


def _flatten_state(state: Any, arrays: list[mx.array]) -> Layout | None:
    if state is None:
        return None
    layout: list[Any] = [type(state)]
    for field in dataclasses.fields(state):
        value = getattr(state, field.name)
        if isinstance(value, mx.array):
            arrays.append(value)
            layout.append("array")
        elif isinstance(value, (RotaryAngles, SplitRotary)):
            arrays.extend((value.cos, value.sin))
            layout.append("interleaved" if isinstance(value, RotaryAngles) else "split")
        else:
            layout.append(("value", value))  # None, or a plain setting
    return tuple(layout)


def _unflatten_state(layout: Layout | None, arrays: list[mx.array]) -> Any:
    if layout is None:
        return None
    state_type, *kinds = layout
    values = {}
    for field, kind in zip(dataclasses.fields(state_type), kinds):
        if kind == "array":
            values[field.name] = arrays.pop(0)
        elif kind in _ROTARY_TYPES:
            values[field.name] = _ROTARY_TYPES[kind](arrays.pop(0), arrays.pop(0))
        else:
            values[field.name] = kind[1]
    return state_type(**values)


def skip_pattern(perturbations: Perturbations, block: int) -> tuple[tuple[Skip, ...], ...]:
    """Per batch entry, the attentions it skips in `block` (all the block reads of the perturbations)."""
    return tuple(
        tuple(kind for kind in Skip if any(p.applies(kind, block) for p in entry)) for entry in perturbations.per_entry
    )


def perturbations_for(pattern: tuple[tuple[Skip, ...], ...], block: int) -> Perturbations:
    """Perturbations that decide as the pattern says in `block`."""
    only_here = frozenset((block,))
    return Perturbations(tuple(tuple(Perturbation(kind, only_here) for kind in entry) for entry in pattern))


def flatten(video: Any, audio: Any, perturbations: Perturbations, block: int) -> tuple[Layout, list[mx.array]]:
    """(layout, arrays) of a block's inputs: `video`/`audio` are StreamStates or None."""
    arrays: list[mx.array] = []
    layout = (_flatten_state(video, arrays), _flatten_state(audio, arrays), skip_pattern(perturbations, block))
    return layout, arrays


def unflatten(layout: Layout, arrays: tuple[mx.array, ...], block: int) -> tuple[Any, Any, Perturbations]:
    """The block's (video, audio, perturbations) back from `flatten`'s layout and arrays."""
    remaining = list(arrays)
    video = _unflatten_state(layout[0], remaining)
    audio = _unflatten_state(layout[1], remaining)
    return video, audio, perturbations_for(layout[2], block)
