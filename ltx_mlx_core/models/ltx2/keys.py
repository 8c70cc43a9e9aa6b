"""Official single-file checkpoint names of the LTX-2 transformer -> ours, and the loader.

The official file holds every component; the transformer's tensors are those under
`model.diffusion_model.`, except the text path's embeddings connectors (loaded by the text
side). Our parameter paths are the reference's state-dict names with four renames:
`to_out.0` -> `to_out`, `ff.net.0.proj` -> `ff.proj_in`, `ff.net.2` -> `ff.proj_out`,
`emb.timestep_embedder` -> `embedder`. Linear weights are [out, in] in torch and MLX alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer

OFFICIAL_PREFIX = "model.diffusion_model."
# Under the transformer prefix but part of the text path (Gemma feature connectors).
TEXT_PATH_PREFIXES = ("video_embeddings_connector.", "audio_embeddings_connector.")

_P = r"(?:weight|bias)"
_STREAM = r"(?:audio_)?"
_ADALN = (
    rf"(?:{_STREAM}adaln_single|{_STREAM}prompt_adaln_single|"
    r"av_ca_(?:video_scale_shift|audio_scale_shift|a2v_gate|v2a_gate)_adaln_single)"
)
_ATTN = r"(?:attn[12]|audio_attn[12]|audio_to_video_attn|video_to_audio_attn)"
_BLOCK = r"transformer_blocks\.\d+\."

# (official-name pattern, replacement); a name matching none of them is not a transformer parameter.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (rf"({_STREAM}patchify_proj\.{_P})", r"\1"),
        (rf"({_ADALN})\.emb\.timestep_embedder\.(linear_[12]\.{_P})", r"\1.embedder.\2"),
        (rf"({_ADALN}\.linear\.{_P})", r"\1"),
        (rf"({_STREAM}caption_projection\.linear_[12]\.{_P})", r"\1"),
        (rf"({_STREAM}scale_shift_table)", r"\1"),
        (rf"({_STREAM}proj_out\.{_P})", r"\1"),
        (r"(keyframes_abs_pos_embedding)", r"\1"),
        (rf"({_BLOCK}{_ATTN}\.(?:to_[qkv]|to_gate_logits)\.{_P})", r"\1"),
        (rf"({_BLOCK}{_ATTN})\.to_out\.0\.({_P})", r"\1.to_out.\2"),
        (rf"({_BLOCK}{_ATTN}\.[qk]_norm\.weight)", r"\1"),
        (rf"({_BLOCK}{_STREAM}ff)\.net\.0\.proj\.({_P})", r"\1.proj_in.\2"),
        (rf"({_BLOCK}{_STREAM}ff)\.net\.2\.({_P})", r"\1.proj_out.\2"),
        (
            rf"({_BLOCK}(?:{_STREAM}(?:prompt_)?scale_shift_table|scale_shift_table_a2v_ca_(?:audio|video)))",
            r"\1",
        ),
    )
)


def is_transformer_key(name: str) -> bool:
    """Whether an official checkpoint key is one of the transformer's tensors."""
    if not name.startswith(OFFICIAL_PREFIX):
        return False
    return not name[len(OFFICIAL_PREFIX) :].startswith(TEXT_PATH_PREFIXES)


def sanitize(weights: Mapping[str, mx.array]) -> dict[str, mx.array]:
    """The transformer's tensors of an official checkpoint, under our parameter names.

    Other components' keys (VAEs, vocoder, text path) are left out; a key under the
    transformer prefix that names no known parameter raises CheckpointError.
    """
    renamed: dict[str, mx.array] = {}
    unknown: list[str] = []
    for name, value in weights.items():
        if not is_transformer_key(name):
            continue
        local = name[len(OFFICIAL_PREFIX) :]
        for pattern, replacement in _RULES:
            match = pattern.fullmatch(local)
            if match:
                renamed[match.expand(replacement)] = value
                break
        else:
            unknown.append(name)
    if unknown:
        shown = ", ".join(sorted(unknown)[:8])
        raise CheckpointError(
            f"The checkpoint has {len(unknown)} transformer tensor(s) this LTX-2 transformer does not know "
            f"(e.g. {shown}); it may be a newer model version."
        )
    return renamed


def load_transformer(
    weights: Mapping[str, mx.array], config: LTX2Config, dtype: mx.Dtype | None = None
) -> LTX2Transformer:
    """Build the transformer for `config` and fill it from official checkpoint tensors (all must fit)."""
    model = LTX2Transformer(config)
    ours = sanitize(weights)
    if dtype is not None:
        ours = {name: value.astype(dtype) for name, value in ours.items()}
    try:
        model.load_weights(list(ours.items()), strict=True)
    except ValueError as error:
        raise CheckpointError(f"The checkpoint's transformer does not match its config: {error}") from None
    return model
