"""LoRA files placed on a model family's components through the family's checkpoint key maps.

A component is a model plus the key map that loads it from an official checkpoint (`sanitize`:
checkpoint names -> our parameter names); for LTX-2 the transformer and the text path after Gemma
(feature-extractor projection and embeddings connectors). A LoRA layer named after checkpoint
module `M` belongs to the first component whose key map takes `M.weight`, at the module path the
map gives; no renames are repeated here. kohya's flattened names (`lora_unet_...`, dots turned
into underscores) are restored by trying the ways to put the dots back until a component's key
map takes the name and its model has that linear layer (once per name shape: block indices do
not change where the dots go).

Every layer of a file must land in a component, or lie under a prefix the caller leaves out on
purpose: ltx-core fuses LoRAs into the transformer only, so a file's text-path layers do nothing
there (`left_out=LTX2_TEXT_PATH` does the same); ComfyUI also adapts the connectors (pass the
text component). Anything else is a LoraError naming the file and the first such tensor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import CheckpointError, LoraError
from ltx_mlx_core.models.common.lora import (
    AppliedLoras,
    Lora,
    LoraLayer,
    apply_loras,
    find_module,
    linear_shape,
)
from ltx_mlx_core.models.ltx2.embeddings_processor import (
    AUDIO_CONNECTOR_PREFIX,
    PROJECTION_PREFIX,
    VIDEO_CONNECTOR_PREFIX,
    VIDEO_ONLY_CONNECTOR_PREFIX,
    EmbeddingsProcessor,
    sanitize_official,
)
from ltx_mlx_core.models.ltx2.keys import sanitize
from ltx_mlx_core.weights.lora_files import (
    DIFFUSION_MODEL_PREFIX,
    FLATTENED_PREFIX,
    LoraFile,
    LoraFileLayer,
    read_lora_file,
)

logger = logging.getLogger(__name__)

KeyMap = Callable[[Mapping[str, mx.array]], Mapping[str, mx.array]]

# The LTX-2 text path's checkpoint prefixes (its connectors sit under the transformer's prefix):
# leave them out to adapt the transformer only, as ltx-core does.
LTX2_TEXT_PATH: tuple[str, ...] = (
    VIDEO_CONNECTOR_PREFIX,
    AUDIO_CONNECTOR_PREFIX,
    VIDEO_ONLY_CONNECTOR_PREFIX,
    PROJECTION_PREFIX,
)
# More underscores than this in a flattened name is no checkpoint name of ours (2^(n-1) groupings).
_MAX_FLATTENED_TOKENS = 16
_PROBE = mx.zeros((0,))


@dataclass(frozen=True)
class LoraComponent:
    """A model LoRAs may adapt, and the key map that loads it from an official checkpoint."""

    name: str
    model: nn.Module
    key_map: KeyMap


@dataclass(frozen=True)
class LoraSpec:
    path: Path
    strength: float = 1.0


def ltx2_transformer_component(model: nn.Module) -> LoraComponent:
    return LoraComponent("transformer", model, sanitize)


def ltx2_text_component(processor: EmbeddingsProcessor) -> LoraComponent:
    """The text path after Gemma: the feature extractor's projection and the embeddings connectors."""
    return LoraComponent("text connectors", processor, sanitize_official)


def _module_path(component: LoraComponent, checkpoint_module: str, must_exist: bool) -> str | None:
    """Our module path for a checkpoint module path, if the component's key map takes it."""
    try:
        mapped = component.key_map({checkpoint_module + ".weight": _PROBE})
    except (CheckpointError, ValueError, KeyError):
        return None
    if len(mapped) != 1:
        return None
    (name,) = mapped
    if not name.endswith(".weight"):
        return None
    module = name[: -len(".weight")]
    if must_exist:
        found = find_module(component.model, module)
        if found is None or linear_shape(found[2]) is None:
            return None
    return module


class _Placer:
    """Finds each file layer's component and module path; remembers where flattened names' dots go."""

    def __init__(self, components: Sequence[LoraComponent]):
        self.components = components
        self._dots: dict[tuple[str, tuple[str, ...]], int] = {}

    def place(self, layer: LoraFileLayer) -> tuple[LoraComponent, str] | None:
        if layer.flattened:
            return self._place_flattened(layer.stem[len(FLATTENED_PREFIX) :])
        for name in layer.checkpoint_names():
            for component in self.components:
                module = _module_path(component, name, must_exist=False)
                if module is not None:
                    return component, module
        return None

    def _place_flattened(self, flat: str) -> tuple[LoraComponent, str] | None:
        tokens = flat.split("_")
        if len(tokens) > _MAX_FLATTENED_TOKENS:
            return None
        shape = tuple("#" if token.isdigit() else token for token in tokens)
        for component in self.components:
            known = self._dots.get((component.name, shape))
            for mask in [known] if known is not None else range(2 ** (len(tokens) - 1)):
                dotted = tokens[0] + "".join(
                    ("." if mask >> index & 1 else "_") + token for index, token in enumerate(tokens[1:])
                )
                module = _module_path(component, DIFFUSION_MODEL_PREFIX + dotted, must_exist=True)
                if module is not None:
                    self._dots[(component.name, shape)] = mask
                    return component, module
        return None


def _left_out(layer: LoraFileLayer, prefixes: Sequence[str]) -> bool:
    if layer.flattened:
        flat = layer.stem[len(FLATTENED_PREFIX) :]
        return any(
            prefix.startswith(DIFFUSION_MODEL_PREFIX)
            and flat.startswith(prefix[len(DIFFUSION_MODEL_PREFIX) :].replace(".", "_"))
            for prefix in prefixes
        )
    return any(name.startswith(prefix) for name in layer.checkpoint_names() for prefix in prefixes)


def loras_for(
    lora_file: LoraFile, components: Sequence[LoraComponent], left_out: Sequence[str] = ()
) -> dict[str, Lora]:
    """The file's layers per component name (components it does not touch are absent)."""
    placer = _Placer(components)
    layers: dict[str, list[LoraLayer]] = {}
    skipped = 0
    for file_layer in lora_file.layers:
        place = placer.place(file_layer)
        if place is None:
            if _left_out(file_layer, left_out):
                skipped += 1
                continue
            names = ", ".join(component.name for component in components)
            raise LoraError(
                f"The LoRA file '{lora_file.path}' does not fit this model: its tensor '{file_layer.down_name}' "
                f"is for a layer that no part of this model ({names}) has. It may be a LoRA for another model "
                "or version."
            )
        component, module = place
        layers.setdefault(component.name, []).append(
            LoraLayer(
                module,
                file_layer.down,
                file_layer.up,
                file_layer.scale,
                file_layer.down_name,
                file_layer.up_name,
            )
        )
    if skipped:
        logger.info("LoRA '%s': %d layer(s) of parts not adapted here are left out.", lora_file.path, skipped)
    return {name: Lora(lora_file.name, tuple(found)) for name, found in layers.items()}


def read_loras(
    specs: Sequence[LoraSpec], components: Sequence[LoraComponent], left_out: Sequence[str] = ()
) -> dict[str, list[tuple[Lora, float]]]:
    """Every file read and placed (all file errors come here, before any model changes)."""
    per_component: dict[str, list[tuple[Lora, float]]] = {component.name: [] for component in components}
    for spec in specs:
        for name, lora in loras_for(read_lora_file(spec.path), components, left_out).items():
            per_component[name].append((lora, spec.strength))
    return per_component


def apply_lora_files(
    specs: Sequence[LoraSpec], components: Sequence[LoraComponent], left_out: Sequence[str] = ()
) -> AppliedLoras:
    """Apply LoRA files to the components: every layer of every file, or on any error nothing.

    The new weights are evaluated here, one layer at a time, so that the fusion's float32
    temporaries never pile up and its time is spent at load, not inside the first step.
    """
    per_component = read_loras(specs, components, left_out)
    applied: list[AppliedLoras] = []
    try:
        for component in components:
            if per_component[component.name]:
                applied.append(apply_loras(component.model, per_component[component.name]))
        combined = AppliedLoras.combine(applied)
        for array in combined.new_arrays():
            mx.eval(array)
    except BaseException:
        for done in reversed(applied):
            done.remove()
        raise
    return combined


@contextmanager
def lora_files_applied(
    specs: Sequence[LoraSpec], components: Sequence[LoraComponent], left_out: Sequence[str] = ()
) -> Iterator[AppliedLoras]:
    """`with lora_files_applied(specs, components):` adapted inside, exactly restored after."""
    applied = apply_lora_files(specs, components, left_out)
    try:
        yield applied
    finally:
        applied.remove()
