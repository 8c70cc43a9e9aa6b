"""Gemma 3 / Gemma 4 `config.json` → mlx-lm model arguments.

Hugging Face configs come in several spellings: the multimodal wrapper (a `text_config` inside) or a
text-only model; transformers 4.x fields (`rope_scaling`, `rope_local_base_freq`,
`sliding_window_pattern`, `global_head_dim`) or 5.x ones (`rope_parameters` per layer type,
`layer_types`, `per_layer_config`); and files saved by older transformers omit every value equal
to the class default. mlx-lm's argument classes have their own defaults, which differ from
transformers' (e.g. Gemma 4's `num_kv_shared_layers` 20 and `hidden_size_per_layer_input` 256), so
every field is filled from transformers' defaults first and then translated.

Only what the LTX encoders use is accepted: no attention-logit soft-capping, no attention bias,
no Gemma-3n per-layer inputs, no mixture of experts. Anything else is refused with its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ltx_mlx_core.errors import CheckpointError

if TYPE_CHECKING:
    from mlx_lm.models import gemma3_text, gemma4_text

GEMMA3_TYPES = ("gemma3", "gemma3_text")
GEMMA4_TYPES = ("gemma4", "gemma4_text", "gemma4_unified", "gemma4_unified_text")

# transformers 5.24's Gemma3TextConfig defaults (the ones a diff-saved config.json leaves out).
_GEMMA3_DEFAULTS: dict[str, Any] = {
    "vocab_size": 262208,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "rms_norm_eps": 1e-6,
    "query_pre_attn_scalar": 256,
    "sliding_window": 4096,
    "sliding_window_pattern": 6,
    "max_position_embeddings": 131072,
    "hidden_activation": "gelu_pytorch_tanh",
    "attn_logit_softcapping": None,
    "attention_bias": False,
    "use_bidirectional_attention": False,
    "rope_theta": 1_000_000.0,
    "rope_local_base_freq": 10_000.0,
}

# Gemma4TextConfig / Gemma4UnifiedTextConfig defaults; the two differ where noted below.
_GEMMA4_DEFAULTS: dict[str, Any] = {
    "vocab_size": 262144,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 30,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "global_head_dim": 512,
    "rms_norm_eps": 1e-6,
    "max_position_embeddings": 262144,
    "hidden_activation": "gelu_pytorch_tanh",
    "attention_bias": False,
    "attention_k_eq_v": False,
    "num_kv_shared_layers": 0,
    "use_double_wide_mlp": False,
    "enable_moe_block": False,
    "final_logit_softcapping": None,
}
_GEMMA4_FAMILY_DEFAULTS = {
    "gemma4_text": {"sliding_window": 512, "hidden_size_per_layer_input": 256, "use_bidirectional_attention": None},
    "gemma4_unified_text": {
        "sliding_window": 1024,
        "hidden_size_per_layer_input": 0,
        "use_bidirectional_attention": "vision",
    },
}
_GEMMA4_ROPE_DEFAULTS = {
    "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
    "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1_000_000.0},
}
_SLIDING_PATTERN = 6  # five sliding-window layers, then one global one


def mlx_lm_gemma() -> tuple[ModuleType, ModuleType]:
    """mlx-lm's `gemma3_text` and `gemma4_text` modules.

    Imported on first use: mlx_lm's package __init__ imports transformers, which takes seconds
    (and imports torch wherever torch is installed).
    """
    from mlx_lm.models import gemma3_text, gemma4_text

    return gemma3_text, gemma4_text


@dataclass(frozen=True)
class GemmaSpec:
    """What the hidden-state pass needs besides mlx-lm's arguments."""

    family: str  # "gemma3" or "gemma4"
    args: gemma3_text.ModelArgs | gemma4_text.ModelArgs
    sliding_window: int
    bidirectional: bool  # every token attends both ways (Gemma 4's use_bidirectional_attention "all")

    @property
    def hidden_size(self) -> int:
        return self.args.hidden_size

    @property
    def num_hidden_states(self) -> int:
        """The embedding output plus one state per layer."""
        return self.args.num_hidden_layers + 1


def gemma_spec(config: dict[str, Any]) -> GemmaSpec:
    """The spec for a Gemma config.json (multimodal wrapper or text-only)."""
    model_type = config.get("model_type")
    text = dict(config.get("text_config") or {}) if "text_config" in config else dict(config)
    if "vocab_size" not in text and "vocab_size" in config:
        text["vocab_size"] = config["vocab_size"]
    if model_type in GEMMA3_TYPES:
        return _gemma3_spec(text)
    if model_type in GEMMA4_TYPES:
        unified = model_type.startswith("gemma4_unified")
        return _gemma4_spec(text, "gemma4_unified_text" if unified else "gemma4_text")
    raise CheckpointError(
        f"The text encoder's config.json says model_type '{model_type}'; "
        f"expected one of {', '.join(GEMMA3_TYPES + GEMMA4_TYPES)}."
    )


def _refuse(text: dict[str, Any], key: str, allowed: Any) -> None:
    if text.get(key) != allowed:
        raise CheckpointError(f"Gemma text config: {key}={text.get(key)!r} is not supported (only {allowed!r}).")


def _layer_types(text: dict[str, Any], layers: int, pattern: int) -> list[str]:
    types = text.get("layer_types")
    if types is None:
        types = ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(layers)]
    if len(types) != layers or set(types) - {"full_attention", "sliding_attention"}:
        raise CheckpointError(f"Gemma text config: layer_types {types} do not describe {layers} layers.")
    return list(types)


def _gemma3_spec(text: dict[str, Any]) -> GemmaSpec:
    text = {**_GEMMA3_DEFAULTS, **{k: v for k, v in text.items() if v is not None}}
    _refuse(text, "hidden_activation", "gelu_pytorch_tanh")
    _refuse(text, "attn_logit_softcapping", None)
    _refuse(text, "attention_bias", False)
    _refuse(text, "use_bidirectional_attention", False)  # EmbeddingGemma's mode, not a Gemma 3 LLM's
    layers = text["num_hidden_layers"]
    types = _layer_types(text, layers, text["sliding_window_pattern"])
    # mlx-lm's Gemma 3 places global layers by one period; an irregular list has no such period.
    candidates = [text["sliding_window_pattern"]] + (
        [types.index("full_attention") + 1] if "full_attention" in types else []
    )
    pattern = next((p for p in candidates if types == _layer_types({}, layers, p)), None)
    if pattern is None:
        raise CheckpointError(f"Gemma 3 text config: layer_types {types} are not periodic.")

    full_rope, local_rope = _gemma3_rope(text)
    gemma3_text, _ = mlx_lm_gemma()
    args = gemma3_text.ModelArgs(
        model_type="gemma3_text",
        hidden_size=text["hidden_size"],
        num_hidden_layers=layers,
        intermediate_size=text["intermediate_size"],
        num_attention_heads=text["num_attention_heads"],
        head_dim=text["head_dim"],
        rms_norm_eps=text["rms_norm_eps"],
        vocab_size=text["vocab_size"],
        num_key_value_heads=text["num_key_value_heads"],
        rope_theta=full_rope.get("rope_theta", _GEMMA3_DEFAULTS["rope_theta"]),
        rope_local_base_freq=local_rope.get("rope_theta", _GEMMA3_DEFAULTS["rope_local_base_freq"]),
        query_pre_attn_scalar=text["query_pre_attn_scalar"],
        sliding_window=text["sliding_window"],
        sliding_window_pattern=pattern,
        max_position_embeddings=text["max_position_embeddings"],
        rope_scaling=None if full_rope.get("rope_type", "default") == "default" else full_rope,
    )
    return GemmaSpec("gemma3", args, text["sliding_window"], bidirectional=False)


def _gemma3_rope(text: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(global, local) RoPE parameters from either spelling."""
    parameters = text.get("rope_parameters")
    if parameters and "full_attention" in parameters:
        full = dict(parameters["full_attention"] or {})
        local = dict(parameters.get("sliding_attention") or {})
    else:
        full = {"rope_theta": text["rope_theta"], **(text.get("rope_scaling") or {})}
        local = {"rope_theta": text["rope_local_base_freq"]}
    if "type" in full:
        full.setdefault("rope_type", full.pop("type"))
    if full.get("rope_type", "default") not in ("default", "linear"):
        raise CheckpointError(f"Gemma 3 text config: global RoPE type {full['rope_type']!r} is not supported.")
    if local.get("rope_type", "default") != "default":
        raise CheckpointError(f"Gemma 3 text config: local RoPE type {local['rope_type']!r} is not supported.")
    return full, local


def _gemma4_spec(text: dict[str, Any], family: str) -> GemmaSpec:
    text = {**_GEMMA4_DEFAULTS, **_GEMMA4_FAMILY_DEFAULTS[family], **{k: v for k, v in text.items() if v is not None}}
    _refuse(text, "hidden_activation", "gelu_pytorch_tanh")
    _refuse(text, "attention_bias", False)
    _refuse(text, "enable_moe_block", False)
    if text.get("hidden_size_per_layer_input"):
        raise CheckpointError("Gemma 4 text config: per-layer inputs (hidden_size_per_layer_input) are not supported.")
    layers = text["num_hidden_layers"]
    types = _layer_types(text, layers, _SLIDING_PATTERN)
    types[-1] = "full_attention"  # transformers forces the last layer global, with a warning
    global_head_dim, global_kv_heads = _gemma4_global_layer_shape(text, types)
    rope = {**_GEMMA4_ROPE_DEFAULTS, **(text.get("rope_parameters") or {})}
    _, gemma4_text = mlx_lm_gemma()
    args = gemma4_text.ModelArgs(
        model_type="gemma4_text",
        hidden_size=text["hidden_size"],
        num_hidden_layers=layers,
        intermediate_size=text["intermediate_size"],
        num_attention_heads=text["num_attention_heads"],
        head_dim=text["head_dim"],
        global_head_dim=global_head_dim,
        rms_norm_eps=text["rms_norm_eps"],
        vocab_size=text["vocab_size"],
        num_key_value_heads=text["num_key_value_heads"],
        num_global_key_value_heads=global_kv_heads,
        num_kv_shared_layers=text["num_kv_shared_layers"],
        hidden_size_per_layer_input=0,
        rope_parameters=rope,
        sliding_window=text["sliding_window"],
        max_position_embeddings=text["max_position_embeddings"],
        attention_k_eq_v=text["attention_k_eq_v"],
        final_logit_softcapping=text["final_logit_softcapping"],
        use_double_wide_mlp=text["use_double_wide_mlp"],
        enable_moe_block=False,
        layer_types=types,
        tie_word_embeddings=True,  # logits are never computed here, so no lm_head is kept
    )
    bidirectional = text["use_bidirectional_attention"] == "all"
    return GemmaSpec("gemma4", args, text["sliding_window"], bidirectional)


def _gemma4_global_layer_shape(text: dict[str, Any], types: list[str]) -> tuple[int, int | None]:
    """(head_dim, key/value heads) of the global layers: explicit keys (4.x) or per_layer_config (5.x)."""
    head_dim = text["global_head_dim"]
    kv_heads = text.get("num_global_key_value_heads")
    per_layer = text.get("per_layer_config") or {}
    if per_layer:
        overrides = {
            str(index): per_layer.get(str(index), per_layer.get(index, {}))
            for index, kind in enumerate(types)
            if kind == "full_attention"
        }
        if any(set(override) - {"head_dim", "num_key_value_heads"} for override in overrides.values()):
            raise CheckpointError("Gemma 4 text config: per_layer_config overrides other fields than the head shape.")
        head_dims = {override.get("head_dim", text["head_dim"]) for override in overrides.values()}
        kv_counts = {override.get("num_key_value_heads") for override in overrides.values()}
        if len(head_dims) != 1 or len(kv_counts) != 1:
            raise CheckpointError("Gemma 4 text config: the global layers differ in shape.")
        head_dim, kv_heads = head_dims.pop(), kv_counts.pop()
    if kv_heads is not None and not text["attention_k_eq_v"]:
        # mlx-lm (like transformers' attention) uses the global key/value head count only with K = V.
        raise CheckpointError("Gemma 4 text config: global key/value heads without attention_k_eq_v.")
    return head_dim, kv_heads
