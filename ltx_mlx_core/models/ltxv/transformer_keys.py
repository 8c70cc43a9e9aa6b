"""Transformer checkpoint keys: official single-file / diffusers layouts <-> our module's names.

Official keys (after stripping `model.diffusion_model.`) are the reference `Transformer3DModel`'s
state-dict names. Linear weights are [out, in] in both torch and MLX, so nothing is transposed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError

OFFICIAL_TRANSFORMER_PREFIX = "model.diffusion_model."

# Placeholders of the key templates below and what each may match.
_PLACEHOLDERS = {
    "i": r"\d+",
    "p": r"weight|bias",
    "lin": r"linear_[12]",
    "attn": r"attn[12]",
    "qkv": r"to_[qkv]",
    "qk": r"[qk]_norm",
    "norm": r"norm[12]",
}

_BLOCK = "transformer_blocks.{i}."

# (official name, our name) templates; a key maps by filling the same placeholders on the other side.
_OFFICIAL_NAMES: Sequence[tuple[str, str]] = (
    ("patchify_proj.{p}", "proj_in.{p}"),
    ("adaln_single.emb.timestep_embedder.{lin}.{p}", "timestep_embedder.{lin}.{p}"),
    ("adaln_single.linear.{p}", "adaln_linear.{p}"),
    ("caption_projection.{lin}.{p}", "caption_projection.{lin}.{p}"),
    ("scale_shift_table", "scale_shift_table"),
    ("proj_out.{p}", "proj_out.{p}"),
    (_BLOCK + "{attn}.{qkv}.{p}", _BLOCK + "{attn}.{qkv}.{p}"),
    (_BLOCK + "{attn}.to_out.0.{p}", _BLOCK + "{attn}.to_out.{p}"),
    (_BLOCK + "{attn}.{qk}.{p}", _BLOCK + "{attn}.{qk}.{p}"),
    (_BLOCK + "{norm}.{p}", _BLOCK + "{norm}.{p}"),
    (_BLOCK + "ff.net.0.proj.{p}", _BLOCK + "ff.proj_in.{p}"),
    (_BLOCK + "ff.net.2.{p}", _BLOCK + "ff.proj_out.{p}"),
    (_BLOCK + "scale_shift_table", _BLOCK + "scale_shift_table"),
)

# diffusers' LTXVideoTransformer3DModel names (the reference's TRANSFORMER_KEYS_RENAME_DICT).
_DIFFUSERS_NAMES: Sequence[tuple[str, str]] = (
    ("proj_in.{p}", "proj_in.{p}"),
    ("time_embed.emb.timestep_embedder.{lin}.{p}", "timestep_embedder.{lin}.{p}"),
    ("time_embed.linear.{p}", "adaln_linear.{p}"),
    (_BLOCK + "{attn}.norm_q.{p}", _BLOCK + "{attn}.q_norm.{p}"),
    (_BLOCK + "{attn}.norm_k.{p}", _BLOCK + "{attn}.k_norm.{p}"),
) + tuple(
    names
    for names in _OFFICIAL_NAMES
    if not names[0].startswith(("patchify_proj", "adaln_single", _BLOCK + "{attn}.{qk}"))
)


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.escape(template)
    for name, value in _PLACEHOLDERS.items():
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>{value})")
    return re.compile(pattern)


def _rename(weights: Mapping[str, mx.array], names: Sequence[tuple[str, str]], layout: str) -> dict[str, mx.array]:
    """Rename every key by the first (source template, target template) pair whose source matches."""
    compiled = [(_template_regex(source), target) for source, target in names]
    renamed: dict[str, mx.array] = {}
    for key, value in weights.items():
        for pattern, target in compiled:
            match = pattern.fullmatch(key)
            if match:
                renamed[target.format(**match.groupdict())] = value
                break
        else:
            raise CheckpointError(f"Unknown key {key!r} in the {layout} transformer weights.")
    return renamed


def sanitize_official_transformer(weights: Mapping[str, mx.array]) -> dict[str, mx.array]:
    """Official single-file keys (prefix `model.diffusion_model.` already stripped) -> our names."""
    return _rename(weights, _OFFICIAL_NAMES, "official")


def to_official_transformer(weights: Mapping[str, mx.array]) -> dict[str, mx.array]:
    """Our names -> official single-file keys (without the `model.diffusion_model.` prefix)."""
    return _rename(weights, [(ours, official) for official, ours in _OFFICIAL_NAMES], "MLX")


def sanitize_diffusers_transformer(weights: Mapping[str, mx.array]) -> dict[str, mx.array]:
    """diffusers `transformer/diffusion_pytorch_model*.safetensors` keys -> our names."""
    return _rename(weights, _DIFFUSERS_NAMES, "diffusers")


def strip_official_prefix(checkpoint: Mapping[str, mx.array]) -> dict[str, mx.array]:
    """The transformer's tensors of an official single-file checkpoint, prefix removed."""
    return {
        key[len(OFFICIAL_TRANSFORMER_PREFIX) :]: value
        for key, value in checkpoint.items()
        if key.startswith(OFFICIAL_TRANSFORMER_PREFIX)
    }


def load_transformer_weights(
    model: nn.Module,
    weights: Mapping[str, mx.array],
    cast: Callable[[mx.array], mx.array] | None = None,
) -> None:
    """Load sanitized weights into `model`, naming every missing, extra or mis-shaped key.

    `cast` converts each tensor first (e.g. `lambda w: w.astype(mx.bfloat16)`).
    """
    expected = dict(tree_flatten(model.parameters()))
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing:
        raise CheckpointError(
            f"The transformer checkpoint lacks {len(missing)} weight(s), first: {', '.join(missing[:5])}."
        )
    if extra:
        raise CheckpointError(
            f"The transformer checkpoint has {len(extra)} weight(s) this model does not use, first: "
            f"{', '.join(extra[:5])}; is the embedded config the right one for these weights?"
        )
    for key, value in weights.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"Weight {key!r} has shape {tuple(value.shape)} but the configured model needs "
                f"{tuple(expected[key].shape)}."
            )
    items = [(key, cast(value) if cast is not None else value) for key, value in weights.items()]
    model.load_weights(items, strict=True)
