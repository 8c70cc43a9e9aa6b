"""The 2B and 13B 0.9.8 presets have exactly the reference model's parameters.

The reference is built on torch's `meta` device and ours from lazy MLX arrays, so neither
allocates the 2-13 billion weights.
"""

from __future__ import annotations

import mlx.core as mx
import pytest
import torch
from ltx_video.models.transformers.transformer3d import Transformer3DModel
from mlx.utils import tree_flatten

from ltx_mlx_core.models.ltxv.transformer import (
    LTXV_2B_098,
    LTXV_13B_098,
    LTXVideoTransformer,
    TransformerConfig,
)
from ltx_mlx_core.models.ltxv.transformer_keys import to_official_transformer

# preset, number of blocks, model width
EXPECTED = {
    "2b": (LTXV_2B_098, 28, 2048),
    "13b": (LTXV_13B_098, 48, 4096),
}


def _reference_parameter_shapes(config: TransformerConfig) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        reference = Transformer3DModel(**config.to_dict())
    return {name: tuple(parameter.shape) for name, parameter in reference.named_parameters()}


@pytest.mark.parametrize("preset_name", sorted(EXPECTED))
def test_preset_parameter_count_matches_reference(preset_name: str) -> None:
    config, layers, width = EXPECTED[preset_name]
    reference_shapes = _reference_parameter_shapes(config)
    active_before = mx.get_active_memory()

    model = LTXVideoTransformer(config)
    ours = dict(tree_flatten(model.parameters()))
    our_count = sum(parameter.size for parameter in ours.values())

    reference_count = sum(int(torch.Size(shape).numel()) for shape in reference_shapes.values())
    assert our_count == reference_count
    # Name by name: our parameters, renamed to the official layout, have the reference's shapes.
    our_shapes = {name: tuple(parameter.shape) for name, parameter in to_official_transformer(ours).items()}
    assert our_shapes == reference_shapes
    assert config.num_layers == layers and config.inner_dim == width
    # Building the model must not materialise weights (lazy arrays): well under 1 MiB here.
    assert mx.get_active_memory() - active_before < 2**20


def test_presets_match_the_published_parameter_sizes() -> None:
    billions = {
        name: sum(p.size for _, p in tree_flatten(LTXVideoTransformer(config).parameters())) / 1e9
        for name, (config, _, _) in EXPECTED.items()
    }
    assert 1.8 < billions["2b"] < 2.1
    assert 12.5 < billions["13b"] < 13.5
