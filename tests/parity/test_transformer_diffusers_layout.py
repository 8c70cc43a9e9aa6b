"""A diffusers-layout transformer (config.json + weights) loads into our model unchanged in shape."""

from __future__ import annotations

import mlx.core as mx
from diffusers.models.transformers.transformer_ltx import LTXVideoTransformer3DModel

from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import load_transformer_weights, sanitize_diffusers_transformer
from tests.parity.conftest import relative_max_error, torch_to_mlx


def test_diffusers_checkpoint_loads_every_weight_into_place() -> None:
    diffusers_model = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        num_attention_heads=2,
        attention_head_dim=6,
        cross_attention_dim=12,
        num_layers=2,
        caption_channels=10,
    )
    config = TransformerConfig.from_diffusers_dict(dict(diffusers_model.config))
    state_dict = {key: torch_to_mlx(value) for key, value in diffusers_model.state_dict().items()}
    model = LTXVideoTransformer(config)

    load_transformer_weights(model, sanitize_diffusers_transformer(state_dict))

    assert config.inner_dim == 12 and config.qk_norm == "rms_norm"
    loaded = model.transformer_blocks[1].attn2.to_k.weight
    expected = state_dict["transformer_blocks.1.attn2.to_k.weight"]
    assert loaded.dtype == mx.float32 and relative_max_error(loaded, expected) == 0.0
