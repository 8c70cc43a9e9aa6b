"""Full-size LTX-2 transformers: our parameters are the reference's, name for name and shape for shape.

The references are built on torch's meta device (no memory); ours is built with lazy MLX
arrays that are never evaluated. The official names of the reference's tensors go through our
key map and must give exactly our parameter tree.

Parameter counts (ours = reference):
  LTX-2 19B     18,876,174,592 (3,510 tensors); video-only 13,041,520,768
  LTX-2.3 22B   18,988,838,144 (4,186 tensors); video-only 13,124,316,288
  LTX-2.5 22B   18,987,859,200 (4,091 tensors: 2.3 less 96 video feed-forward biases, plus
                the keyframe embedding)
The "22B" of the 2.3/2.5 names counts the text path's connectors and projections as well.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from diffusers import LTX2VideoTransformer3DModel
from ltx_core.model.transformer import LTXModelConfigurator, LTXVideoOnlyModelConfigurator
from mlx.utils import tree_flatten

from ltx_mlx_core.models.ltx2.config import LTX2_19B, LTX23_22B, LTX25_22B, LTX2Config
from ltx_mlx_core.models.ltx2.keys import sanitize
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from tests.parity.ltx2_transformer_helpers import (
    _CHECKED,
    OFFICIAL_PREFIX,
    TINY_LTX25,
    diffusers_config,
    diffusers_to_official,
)

# The released checkpoints' transformer config sections (the keys the reference reads).
SECTION_19B: dict[str, Any] = dict(
    _CHECKED,
    num_attention_heads=32,
    attention_head_dim=128,
    audio_num_attention_heads=32,
    audio_attention_head_dim=64,
    caption_channels=3840,
    av_ca_timestep_scale_multiplier=1000.0,
    rope_type="split",
    frequencies_precision="float64",
)
SECTION_22B = dict(
    SECTION_19B, apply_gated_attention=True, cross_attention_adaln=True, caption_proj_before_connector=True
)

EXPECTED_COUNTS = {
    ("19B", False): 18_876_174_592,
    ("19B", True): 13_041_520_768,
    ("22B", False): 18_988_838_144,
    ("22B", True): 13_124_316_288,
}


def _ours(config: LTX2Config) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in tree_flatten(LTX2Transformer(config).parameters())}


def _through_key_map(state_dict: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    official = {OFFICIAL_PREFIX + name: tensor for name, tensor in state_dict.items()}
    return {name: tuple(tensor.shape) for name, tensor in sanitize(official).items()}


def _count(shapes: dict[str, tuple[int, ...]]) -> int:
    total = 0
    for shape in shapes.values():
        size = 1
        for dim in shape:
            size *= dim
        total += size
    return total


@pytest.mark.parametrize("video_only", [False, True], ids=["audio_video", "video_only"])
@pytest.mark.parametrize(
    "name, section, preset",
    [("19B", SECTION_19B, LTX2_19B), ("22B", SECTION_22B, LTX23_22B)],
    ids=["ltx2", "ltx23"],
)
def test_full_size_model_matches_ltx_core(name: str, section: dict, preset: LTX2Config, video_only: bool) -> None:
    configurator = LTXVideoOnlyModelConfigurator if video_only else LTXModelConfigurator
    with torch.device("meta"):
        reference = configurator.from_config({"transformer": section})
    config = LTX2Config.from_dict({"transformer": section}, video_only=video_only)
    assert config == dataclasses.replace(preset, video_only=video_only)
    ours = _ours(config)
    assert _through_key_map(reference.state_dict()) == ours
    assert _count(ours) == sum(p.numel() for p in reference.parameters()) == EXPECTED_COUNTS[name, video_only]


def test_full_size_ltx25_matches_diffusers() -> None:
    full_size = dict(
        TINY_LTX25,
        **{k: SECTION_22B[k] for k in ("num_attention_heads", "attention_head_dim", "caption_channels")},
        audio_num_attention_heads=32,
        audio_attention_head_dim=64,
        in_channels=128,
        out_channels=128,
        audio_in_channels=128,
        audio_out_channels=128,
        cross_attention_dim=4096,
        audio_cross_attention_dim=2048,
        num_layers=48,
    )
    with torch.device("meta"):
        reference = LTX2VideoTransformer3DModel(**diffusers_config(full_size))
    ours = _ours(LTX25_22B)
    assert _through_key_map(diffusers_to_official(reference.state_dict())) == ours
    assert len(ours) == 4091
    assert _count(ours) == sum(p.numel() for p in reference.parameters()) == 18_987_859_200
