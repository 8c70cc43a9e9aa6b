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
_BLOCK_PARAMS = (
    "self_attn.q.weight",
    "self_attn.k.weight",
    "self_attn.v.weight",
    "self_attn.o.weight",
    "attn_norm.weight",
    "ffn.wi_0.weight",
    "ffn.wi_1.weight",
    "ffn.wo.weight",
    "ffn_norm.weight",
)


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
    missing = _missing_parameters(out)
    if missing:
        shown = ", ".join(f"'{hf_names(key)[0]}'" for key in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CheckpointError(f"The T5 text encoder weights are incomplete: missing {shown}{more}.")
    return out


def _missing_parameters(ours: dict[str, mx.array]) -> list[str]:
    """Our names that a complete encoder of as many blocks as the highest block index present needs."""
    indices = [int(key.split(".")[1]) for key in ours if key.startswith("blocks.")]
    expected = ["relative_attention_bias.weight", "final_norm.weight"]
    expected += [f"blocks.{i}.{name}" for i in range(max(indices, default=-1) + 1) for name in _BLOCK_PARAMS]
    return [key for key in expected if key not in ours]


def hf_names(key: str) -> list[str]:
    """Hugging Face's name(s) of one of our parameters (the tied embedding has two)."""
    if key == "embed_tokens.weight":
        return ["shared.weight", "encoder.embed_tokens.weight"]
    if key == "relative_attention_bias.weight":
        return [_BIAS_KEY]
    if key == "final_norm.weight":
        return ["encoder.final_layer_norm.weight"]
    match = re.fullmatch(r"blocks\.(\d+)\.(self_attn|attn_norm|ffn|ffn_norm)\.(?:(\w+)\.)?weight", key)
    if match is None:
        raise CheckpointError(f"Unexpected T5 parameter '{key}'.")
    index, part, leaf = match.groups()
    return [
        {
            "self_attn": f"encoder.block.{index}.layer.0.SelfAttention.{leaf}.weight",
            "attn_norm": f"encoder.block.{index}.layer.0.layer_norm.weight",
            "ffn": f"encoder.block.{index}.layer.1.DenseReluDense.{leaf}.weight",
            "ffn_norm": f"encoder.block.{index}.layer.1.layer_norm.weight",
        }[part]
    ]


def to_hf_t5(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Our names back to Hugging Face's (for writing tiny test encoders)."""
    return {hf: value for key, value in weights.items() for hf in hf_names(key)}
