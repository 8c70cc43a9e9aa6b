"""Hugging Face `T5EncoderModel` state-dict keys ↔ our `T5Encoder` parameter names."""
from __future__ import annotations

import re

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError

# (Hugging Face pattern, ours); block index in group 1 where present.
_RULES: list[tuple[str, str]] = [
    (r"encoder\.block\.(\d+)\.layer\.0\.SelfAttention\.(q|k|v|o)\.weight", r"blocks.\1.self_attn.\2.weight"),
    (r"encoder\.block\.(\d+)\.layer\.0\.layer_norm\.weight", r"blocks.\1.attn_norm.weight"),
    (r"encoder\.block\.(\d+)\.layer\.1\.DenseReluDense\.(wi_0|wi_1|wo)\.weight", r"blocks.\1.ffn.\2.weight"),
    (r"encoder\.block\.(\d+)\.layer\.1\.layer_norm\.weight", r"blocks.\1.ffn_norm.weight"),
    (r"encoder\.final_layer_norm\.weight", "final_norm.weight"),
]
_BIAS_KEY = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
_EMBED_KEYS = ("shared.weight", "encoder.embed_tokens.weight")


def sanitize_hf_t5(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Rename HF keys to ours; the tied embedding may appear under either name. Unknown keys fail."""
    out: dict[str, mx.array] = {}
    for key, value in weights.items():
        if key in _EMBED_KEYS:
            out["embed_tokens.weight"] = value
            continue
        if key == _BIAS_KEY:
            out["relative_attention_bias.weight"] = value
            continue
        for pattern, replacement in _RULES:
            if re.fullmatch(pattern, key):
                out[re.sub(pattern, replacement, key)] = value
                break
        else:
            raise CheckpointError(f"Unexpected key '{key}' in the T5 text encoder weights.")
    if "embed_tokens.weight" not in out:
        raise CheckpointError("The T5 text encoder weights have no token embedding ('shared.weight').")
    return out


def to_hf_t5(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Our names back to Hugging Face's (for writing tiny test encoders)."""
    out: dict[str, mx.array] = {}
    for key, value in weights.items():
        if key == "embed_tokens.weight":
            out["shared.weight"] = value
            out["encoder.embed_tokens.weight"] = value
        elif key == "relative_attention_bias.weight":
            out[_BIAS_KEY] = value
        elif key == "final_norm.weight":
            out["encoder.final_layer_norm.weight"] = value
        else:
            match = re.fullmatch(r"blocks\.(\d+)\.(self_attn|attn_norm|ffn|ffn_norm)\.(?:(\w+)\.)?weight", key)
            if match is None:
                raise CheckpointError(f"Unexpected T5 parameter '{key}'.")
            index, part, leaf = match.groups()
            hf = {
                "self_attn": f"encoder.block.{index}.layer.0.SelfAttention.{leaf}.weight",
                "attn_norm": f"encoder.block.{index}.layer.0.layer_norm.weight",
                "ffn": f"encoder.block.{index}.layer.1.DenseReluDense.{leaf}.weight",
                "ffn_norm": f"encoder.block.{index}.layer.1.layer_norm.weight",
            }[part]
            out[hf] = value
    return out
