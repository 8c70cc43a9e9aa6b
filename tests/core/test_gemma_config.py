"""Gemma config.json spellings → mlx-lm arguments, and Gemma weight layouts → one key set."""

from __future__ import annotations

import mlx.core as mx
import pytest

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.text.gemma import GemmaTextModel, language_model_weights
from ltx_mlx_core.text.gemma_config import gemma_spec

# google/gemma-3-12b-it's config.json as saved by transformers 4.x: defaults left out.
GEMMA3_12B_HUB = {
    "architectures": ["Gemma3ForConditionalGeneration"],
    "model_type": "gemma3",
    "text_config": {
        "hidden_size": 3840,
        "intermediate_size": 15360,
        "model_type": "gemma3_text",
        "num_attention_heads": 16,
        "num_hidden_layers": 48,
        "num_key_value_heads": 8,
        "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
        "sliding_window": 1024,
    },
    "vision_config": {"model_type": "siglip_vision_model"},
}
# The same model in transformers 5.x spelling.
GEMMA3_12B_V5 = {
    "model_type": "gemma3",
    "text_config": {
        "hidden_size": 3840,
        "intermediate_size": 15360,
        "model_type": "gemma3_text",
        "num_attention_heads": 16,
        "num_hidden_layers": 48,
        "num_key_value_heads": 8,
        "head_dim": 256,
        "query_pre_attn_scalar": 256,
        "sliding_window": 1024,
        "vocab_size": 262208,
        "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(48)],
        "rope_parameters": {
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
            "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
        },
    },
}
# LTX-2.5's Gemma 4 12B text config (transformers 4.x field names).
GEMMA4_12B_LTX25 = {
    "model_type": "gemma4_unified",
    "text_config": {
        "hidden_size": 3840,
        "num_hidden_layers": 48,
        "intermediate_size": 15360,
        "num_attention_heads": 16,
        "head_dim": 256,
        "global_head_dim": 512,
        "num_key_value_heads": 8,
        "num_global_key_value_heads": 1,
        "attention_k_eq_v": True,
        "sliding_window": 1024,
        "vocab_size": 262144,
        "final_logit_softcapping": 30.0,
        "hidden_size_per_layer_input": 0,
        "num_kv_shared_layers": 0,
    },
}


def test_gemma3_hub_config_fills_transformers_defaults():
    args = gemma_spec(GEMMA3_12B_HUB).args
    assert (args.hidden_size, args.num_hidden_layers, args.head_dim, args.query_pre_attn_scalar) == (3840, 48, 256, 256)
    assert (args.vocab_size, args.sliding_window, args.sliding_window_pattern) == (262208, 1024, 6)
    assert (args.rope_theta, args.rope_local_base_freq) == (1e6, 1e4)
    assert args.rope_scaling["rope_type"] == "linear" and args.rope_scaling["factor"] == 8.0


def test_gemma3_transformers_4_and_5_spellings_give_the_same_arguments():
    old, new = gemma_spec(GEMMA3_12B_HUB).args, gemma_spec(GEMMA3_12B_V5).args
    assert {k: v for k, v in vars(old).items() if k != "rope_scaling"} == {
        k: v for k, v in vars(new).items() if k != "rope_scaling"
    }
    assert (old.rope_scaling["factor"], new.rope_scaling["factor"]) == (8.0, 8.0)


def test_gemma4_ltx25_config_keeps_the_global_layer_shape_and_disables_per_layer_inputs():
    spec = gemma_spec(GEMMA4_12B_LTX25)
    args = spec.args
    assert (args.global_head_dim, args.num_global_key_value_heads, args.attention_k_eq_v) == (512, 1, True)
    assert (args.hidden_size_per_layer_input, args.num_kv_shared_layers, args.use_double_wide_mlp) == (0, 0, False)
    assert args.layer_types[5] == "full_attention" and args.layer_types[4] == "sliding_attention"
    assert spec.num_hidden_states == 49 and not spec.bidirectional


def test_gemma4_per_layer_config_spelling_equals_the_global_keys():
    text = dict(GEMMA4_12B_LTX25["text_config"])
    head_dim, kv_heads = text.pop("global_head_dim"), text.pop("num_global_key_value_heads")
    text["per_layer_config"] = {
        str(i): {"head_dim": head_dim, "num_key_value_heads": kv_heads} for i in range(5, 48, 6)
    }
    assert gemma_spec({"model_type": "gemma4_unified", "text_config": text}).args == gemma_spec(GEMMA4_12B_LTX25).args


@pytest.mark.parametrize(
    "model_type,change,message",
    [
        ("gemma3", {"attn_logit_softcapping": 50.0}, "attn_logit_softcapping"),
        ("gemma3", {"use_bidirectional_attention": True}, "use_bidirectional_attention"),
        ("gemma3", {"layer_types": ["full_attention", "sliding_attention"] + ["sliding_attention"] * 46}, "periodic"),
        ("gemma4_unified", {"hidden_size_per_layer_input": 256}, "per-layer inputs"),
        ("gemma4_unified", {"enable_moe_block": True}, "enable_moe_block"),
        ("llama", {}, "model_type 'llama'"),
    ],
)
def test_unsupported_gemma_configs_are_refused_by_name(model_type, change, message):
    base = GEMMA3_12B_HUB if model_type == "gemma3" else GEMMA4_12B_LTX25
    config = {**base, "model_type": model_type, "text_config": {**base["text_config"], **change}}
    with pytest.raises(CheckpointError, match=message):
        gemma_spec(config)


def test_every_gemma_weight_layout_maps_to_the_text_model_keys():
    tensor = mx.zeros((2,))
    layouts = [
        {
            "language_model.model.norm.weight": tensor,
            "language_model.lm_head.weight": tensor,
            "vision_tower.vision_model.x": tensor,
            "multi_modal_projector.y": tensor,
        },  # transformers 4.x
        {
            "model.language_model.norm.weight": tensor,
            "lm_head.weight": tensor,
            "model.vision_tower.x": tensor,
            "model.embed_vision.y": tensor,
        },  # transformers 5.x
        {
            "model.norm.weight": tensor,
            "text_embedding_projection.video_aggregate_embed.weight": tensor,
            "audio_projector.embedding_projection.weight": tensor,
        },  # text-only, LTX-2.5 bundle
    ]
    for weights in layouts:
        assert list(language_model_weights(weights)) == ["model.norm.weight"]
    with pytest.raises(CheckpointError, match="no known layout"):
        language_model_weights({"encoder.block.0.weight": tensor})


def test_gemma3_model_keeps_no_logits_head():
    text = {
        **GEMMA3_12B_HUB["text_config"],
        "hidden_size": 8,
        "intermediate_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 1,
        "num_key_value_heads": 1,
        "head_dim": 8,
        "vocab_size": 4,
    }
    model = GemmaTextModel(gemma_spec({"model_type": "gemma3", "text_config": text}))
    assert "lm_head" not in model.language_model
