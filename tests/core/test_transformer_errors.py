"""Bad inputs and bad checkpoints fail with a message naming the shape or key at fault."""

from __future__ import annotations

import json

import mlx.core as mx
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, SkipLayerStrategy, TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import (
    load_transformer_weights,
    sanitize_diffusers_transformer,
    sanitize_official_transformer,
    to_official_transformer,
)

TINY = TransformerConfig(
    num_attention_heads=2,
    attention_head_dim=6,
    in_channels=8,
    out_channels=8,
    num_layers=2,
    cross_attention_dim=12,
    caption_channels=10,
)
BATCH, TOKENS, TEXT = 2, 6, 4


@pytest.fixture(scope="module")
def model() -> LTXVideoTransformer:
    return LTXVideoTransformer(TINY)


def _inputs(**changes):
    inputs = {
        "latents": mx.zeros((BATCH, TOKENS, 8)),
        "indices_grid": mx.zeros((BATCH, 3, TOKENS)),
        "text_embeds": mx.zeros((BATCH, TEXT, 10)),
        "text_mask": mx.ones((BATCH, TEXT)),
        "timestep": mx.ones((BATCH,)),
    }
    inputs.update(changes)
    return inputs


def _weights(model: LTXVideoTransformer) -> dict[str, mx.array]:
    return dict(tree_flatten(model.parameters()))


def test_valid_inputs_give_output_shaped_like_latents(model: LTXVideoTransformer) -> None:
    for timestep in (mx.ones((BATCH,)), mx.ones((BATCH, 1)), mx.ones((BATCH, TOKENS))):
        assert model(**_inputs(timestep=timestep)).shape == (BATCH, TOKENS, 8)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"latents": mx.zeros((BATCH, TOKENS, 7))}, "(2, 6, 7)"),
        ({"latents": mx.zeros((TOKENS, 8))}, "(6, 8)"),
        ({"indices_grid": mx.zeros((BATCH, 3, TOKENS + 1))}, "(2, 3, 7)"),
        ({"text_embeds": mx.zeros((BATCH, TEXT, 11))}, "(2, 4, 11)"),
        ({"text_embeds": mx.zeros((1, TEXT, 10))}, "(1, 4, 10)"),
        ({"text_mask": mx.ones((BATCH, TEXT + 1))}, "(2, 5)"),
        ({"timestep": mx.ones((BATCH + 1,))}, "(3,)"),
        ({"timestep": mx.ones((BATCH, TOKENS - 1))}, "(2, 5)"),
        ({"skip_layer_mask": mx.ones((3, BATCH)), "skip_layer_strategy": SkipLayerStrategy.AttentionValues}, "(3, 2)"),
    ],
)
def test_wrong_input_shape_is_an_invalid_request_naming_it(model, changes, fragment) -> None:
    with pytest.raises(InvalidRequest, match=rf"got {fragment.replace('(', '[(]').replace(')', '[)]')}"):
        model(**_inputs(**changes))


def test_official_keys_round_trip(model: LTXVideoTransformer) -> None:
    ours = _weights(model)
    official = to_official_transformer(ours)
    assert "transformer_blocks.1.ff.net.0.proj.weight" in official
    assert "transformer_blocks.0.attn2.to_out.0.bias" in official
    assert "adaln_single.emb.timestep_embedder.linear_2.weight" in official
    assert "patchify_proj.weight" in official
    assert set(sanitize_official_transformer(official)) == set(ours)


def test_unknown_checkpoint_key_is_named(model: LTXVideoTransformer) -> None:
    official = to_official_transformer(_weights(model))
    official["transformer_blocks.0.attn1.rotary.weight"] = mx.zeros((1,))
    with pytest.raises(CheckpointError, match=r"transformer_blocks\.0\.attn1\.rotary\.weight"):
        sanitize_official_transformer(official)


def test_missing_weight_is_named(model: LTXVideoTransformer) -> None:
    weights = _weights(model)
    del weights["transformer_blocks.1.attn2.k_norm.weight"]
    with pytest.raises(CheckpointError, match=r"lacks 1 weight.*transformer_blocks\.1\.attn2\.k_norm\.weight"):
        load_transformer_weights(LTXVideoTransformer(TINY), weights)


def test_extra_weight_is_named(model: LTXVideoTransformer) -> None:
    weights = _weights(model)
    weights["transformer_blocks.2.scale_shift_table"] = mx.zeros((6, 12))
    with pytest.raises(CheckpointError, match=r"transformer_blocks\.2\.scale_shift_table"):
        load_transformer_weights(LTXVideoTransformer(TINY), weights)


def test_mis_shaped_weight_is_named(model: LTXVideoTransformer) -> None:
    weights = _weights(model)
    weights["proj_in.weight"] = mx.zeros((12, 9))
    with pytest.raises(CheckpointError, match=r"'proj_in\.weight' has shape \(12, 9\).*\(12, 8\)"):
        load_transformer_weights(LTXVideoTransformer(TINY), weights)


def test_loaded_weights_take_the_requested_dtype(model: LTXVideoTransformer) -> None:
    fresh = LTXVideoTransformer(TINY)
    load_transformer_weights(fresh, _weights(model), cast=lambda weight: weight.astype(mx.bfloat16))
    assert fresh.dtype == mx.bfloat16
    assert fresh(**_inputs()).dtype == mx.bfloat16


def test_diffusers_keys_map_to_our_names(model: LTXVideoTransformer) -> None:
    official = to_official_transformer(_weights(model))
    renames = {"patchify_proj": "proj_in", "adaln_single": "time_embed", "q_norm": "norm_q", "k_norm": "norm_k"}
    diffusers = {}
    for key, value in official.items():
        for old, new in renames.items():
            key = key.replace(old, new)
        diffusers[key] = value
    assert set(sanitize_diffusers_transformer(diffusers)) == set(_weights(model))


def test_checkpoint_metadata_without_transformer_config_is_rejected() -> None:
    with pytest.raises(CheckpointError, match="no embedded 'config'"):
        TransformerConfig.from_checkpoint_metadata({"format": "pt"})
    with pytest.raises(CheckpointError, match="no 'transformer' section"):
        TransformerConfig.from_checkpoint_metadata({"config": json.dumps({"vae": {}})})


def test_config_ignores_unknown_keys_and_rejects_unsupported_variants() -> None:
    config = TransformerConfig.from_dict({"num_layers": 3, "_class_name": "Transformer3DModel", "dropout": 0.0})
    assert config.num_layers == 3
    with pytest.raises(CheckpointError, match="positional_embedding_type 'absolute'"):
        TransformerConfig.from_dict({"positional_embedding_type": "absolute"})
    with pytest.raises(CheckpointError, match="activation_fn 'swiglu'"):
        TransformerConfig.from_dict({"activation_fn": "swiglu"})
    with pytest.raises(CheckpointError, match="cross_attention_dim 1024"):
        TransformerConfig.from_dict({"cross_attention_dim": 1024})


def test_stg_mode_names_map_to_strategies() -> None:
    assert SkipLayerStrategy.from_stg_mode("attention_values") is SkipLayerStrategy.AttentionValues
    assert SkipLayerStrategy.from_stg_mode("transformer_block") is SkipLayerStrategy.TransformerBlock
    with pytest.raises(ValueError, match="attention_skip"):
        SkipLayerStrategy.from_stg_mode("skip_everything")


def test_skip_layer_mask_for_a_missing_block_is_an_invalid_request(model: LTXVideoTransformer) -> None:
    with pytest.raises(InvalidRequest, match="STG block 2 does not exist: the model has 2 blocks"):
        model.create_skip_layer_mask(1, 2, 1, [2])
