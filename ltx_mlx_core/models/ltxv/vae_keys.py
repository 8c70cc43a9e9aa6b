"""Key translation between the official LTX-Video VAE weights and our MLX VAE.

Input keys come WITHOUT the single-file checkpoint's `vae.` prefix. Parameter
paths are the reference's; only the per-channel statistics are renamed and the
conv kernels are transposed from torch [O, I, kD, kH, kW] to MLX [O, kD, kH, kW, I].
"""

from __future__ import annotations

import logging
import re

import mlx.core as mx
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder, VAEConfig

logger = logging.getLogger(__name__)

_STATS_PREFIX = "per_channel_statistics."
_STATS_RENAMES = {"mean-of-means": "mean_of_means", "std-of-means": "std_of_means"}
# Statistics the checkpoint carries that the reference loads but never uses.
_UNUSED_STATS = {"channel", "mean-of-stds", "mean-of-stds_over_std-of-means"}
# Older layouts the reference renames in its own load_state_dict.
_LEGACY_RENAMES = {".resnets.": ".res_blocks.", "downsamplers.0": "downsample", "upsamplers.0": "upsample"}

_BLOCK = r"(encoder\.down_blocks|decoder\.up_blocks)\.\d+\."
_RESNET = r"(res_blocks\.\d+\.)?"
_PARAM = r"\.(weight|bias)"
_KNOWN_KEY_PATTERNS = [
    re.compile(p)
    for p in (
        r"(encoder|decoder)\.(conv_in|conv_out)\.conv" + _PARAM,
        r"(encoder|decoder)\.conv_norm_out" + _PARAM,
        _BLOCK + r"conv\.conv" + _PARAM,
        _BLOCK + _RESNET + r"(conv1|conv2)\.conv" + _PARAM,
        _BLOCK + _RESNET + r"(norm1|norm2|conv_shortcut|norm3\.norm)" + _PARAM,
        _BLOCK + _RESNET + r"(per_channel_scale1|per_channel_scale2|scale_shift_table)",
        _BLOCK + r"time_embedder\.timestep_embedder\.linear_[12]" + _PARAM,
        r"decoder\.last_time_embedder\.timestep_embedder\.linear_[12]" + _PARAM,
        r"decoder\.(last_scale_shift_table|timestep_scale_multiplier)",
        r"(mean_of_means|std_of_means)",
    )
]


def _is_known(key: str) -> bool:
    return any(pattern.fullmatch(key) for pattern in _KNOWN_KEY_PATTERNS)


def sanitize_official_vae(weights: dict[str, mx.array], config: VAEConfig | None = None) -> dict[str, mx.array]:
    """Official VAE weights (no `vae.` prefix) -> our parameter dict.

    With `config` the result is also checked against the model's parameter names
    and shapes, so a missing key or a wrong shape names itself; norm weights the
    model has no use for (pixel-norm models) are dropped, as the reference does.
    """
    sanitized: dict[str, mx.array] = {}
    for key, value in weights.items():
        if key.startswith(_STATS_PREFIX):
            stat = key[len(_STATS_PREFIX) :]
            if stat in _UNUSED_STATS:
                continue
            if stat not in _STATS_RENAMES:
                raise CheckpointError(f"The VAE weights contain an unknown statistic {key!r}.")
            sanitized[_STATS_RENAMES[stat]] = value
            continue
        for old, new in _LEGACY_RENAMES.items():
            key = key.replace(old, new)
        if not _is_known(key):
            raise CheckpointError(f"The VAE weights contain an unknown key {key!r}; is this an LTX-Video VAE?")
        if value.ndim == 5:
            value = value.transpose(0, 2, 3, 4, 1)
        sanitized[key] = value
    if config is not None:
        sanitized = _check_against_model(sanitized, config)
    return sanitized


def _check_against_model(weights: dict[str, mx.array], config: VAEConfig) -> dict[str, mx.array]:
    # Parameters are lazy: building the model to read names and shapes allocates nothing.
    expected = dict(tree_flatten(CausalVideoAutoencoder(config).parameters()))
    unused_norms = [k for k in weights if k not in expected and "norm" in k]
    for key in unused_norms:
        logger.info("dropping VAE weight %s: the model's norm layers have no parameters", key)
    weights = {k: v for k, v in weights.items() if k not in unused_norms}
    for key, param in expected.items():
        if key not in weights:
            raise CheckpointError(f"The VAE weights lack {key!r}; the file does not match its VAE config.")
        if tuple(weights[key].shape) != tuple(param.shape):
            raise CheckpointError(
                f"The VAE weight {key!r} has shape {tuple(weights[key].shape)}, expected {tuple(param.shape)}."
            )
    for key in weights:
        if key not in expected:
            raise CheckpointError(f"The VAE weights contain {key!r}, which its VAE config does not use.")
    return weights


def to_official_vae(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Inverse of `sanitize_official_vae` (keys without the `vae.` prefix)."""
    inverse_stats = {ours: theirs for theirs, ours in _STATS_RENAMES.items()}
    official: dict[str, mx.array] = {}
    for key, value in weights.items():
        if key in inverse_stats:
            official[_STATS_PREFIX + inverse_stats[key]] = value
            continue
        if value.ndim == 5:
            value = value.transpose(0, 4, 1, 2, 3)
        official[key] = value
    return official
