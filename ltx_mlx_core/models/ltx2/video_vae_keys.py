"""Checkpoint keys of the LTX-2 video VAE -> our parameter names (pure functions).

Two source layouts:
- official single file: `vae.encoder.*`, `vae.decoder.*` and `vae.per_channel_statistics.*`,
  the reference's (ltx-core's) own module paths under one prefix (standalone files drop it);
- diffusers (`AutoencoderKLLTX2Video`): down/up blocks grouped with their resamplers,
  `mid_block`s, `resnets`, and the statistics as `latents_mean`/`latents_std`.

Our names are the official ones without the prefix (statistics as `mean_of_means`/
`std_of_means`); conv kernels go from torch [O, I, kD, kH, kW] to MLX [O, kD, kH, kW, I].
Any key we do not know raises CheckpointError naming it.
"""

from __future__ import annotations

import re

import mlx.core as mx
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig

OFFICIAL_PREFIX = "vae."
_STATS = {"mean-of-means": "mean_of_means", "std-of-means": "std_of_means"}
# Statistics the official file carries that the reference never reads.
_UNUSED_STATS = {"channel", "mean-of-stds", "mean-of-stds_over_std-of-means"}
_DIFFUSERS_STATS = {"latents_mean": "mean_of_means", "latents_std": "std_of_means"}

_PARAM = r"\.(weight|bias)"
_RES = r"res_blocks\.\d+\."
_KNOWN = [
    re.compile(pattern)
    for pattern in (
        r"(encoder|decoder)\.(conv_in|conv_out)\.conv" + _PARAM,
        r"(encoder|decoder)\.conv_norm_out" + _PARAM,
        r"encoder\.down_blocks\.\d+\.conv\.conv" + _PARAM,
        r"encoder\.down_blocks\.\d+\." + _RES + r"(conv1|conv2)\.conv" + _PARAM,
        r"encoder\.down_blocks\.\d+\." + _RES + r"(norm1|norm2)" + _PARAM,
        r"decoder\.up_blocks\.\d+\.conv\.conv" + _PARAM,
        r"decoder\.up_blocks\.\d+\." + _RES + r"(conv1|conv2)\.conv" + _PARAM,
        r"decoder\.up_blocks\.\d+\." + _RES + r"(norm1|norm2)" + _PARAM,
        r"decoder\.up_blocks\.\d+\." + _RES + r"(per_channel_scale1|per_channel_scale2|scale_shift_table)",
        r"decoder\.(up_blocks\.\d+\.|last_)time_embedder\.timestep_embedder\.linear_[12]" + _PARAM,
        r"decoder\.(last_scale_shift_table|timestep_scale_multiplier)",
        r"(mean_of_means|std_of_means)",
    )
]


def sanitize_official_video_vae(
    weights: dict[str, mx.array], config: VideoVAEConfig | None = None
) -> dict[str, mx.array]:
    """Official `vae.*` tensors -> our parameters; with `config` also checked name by name and shape by shape.

    Standalone VAE files that drop the `vae.` prefix (`decoder.*`, `per_channel_statistics.*`)
    are read the same way.
    """
    renamed: dict[str, mx.array] = {}
    for key, value in weights.items():
        name = key.removeprefix(OFFICIAL_PREFIX)
        stat = re.fullmatch(r"((encoder|decoder)\.)?per_channel_statistics\.(.+)", name)
        if stat:
            if stat.group(3) in _UNUSED_STATS:
                continue
            if stat.group(3) not in _STATS:
                raise CheckpointError(f"The video VAE weights contain an unknown statistic {key!r}.")
            name = _STATS[stat.group(3)]
        renamed[name] = value
    return _finish(renamed, config)


def sanitize_diffusers_video_vae(
    weights: dict[str, mx.array], config: VideoVAEConfig | None = None
) -> dict[str, mx.array]:
    """diffusers `AutoencoderKLLTX2Video` tensors -> our parameters.

    diffusers groups each level's res blocks with the resampler after them (encoder) or
    before them (decoder); the official layout numbers them in one flat list, alternating.
    """
    down_levels = 1 + max(
        (int(m.group(1)) for k in weights if (m := re.match(r"encoder\.down_blocks\.(\d+)\.", k))), default=-1
    )
    rules = [
        (r"encoder\.down_blocks\.(\d+)\.resnets\.", lambda m: f"encoder.down_blocks.{2 * int(m[1])}.res_blocks."),
        (r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", lambda m: f"encoder.down_blocks.{2 * int(m[1]) + 1}."),
        (r"encoder\.mid_block\.resnets\.", lambda m: f"encoder.down_blocks.{2 * down_levels}.res_blocks."),
        (r"decoder\.mid_block\.resnets\.", lambda m: "decoder.up_blocks.0.res_blocks."),
        (r"decoder\.mid_block\.time_embedder\.", lambda m: "decoder.up_blocks.0.time_embedder."),
        (r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.", lambda m: f"decoder.up_blocks.{2 * int(m[1]) + 1}."),
        (r"decoder\.up_blocks\.(\d+)\.resnets\.", lambda m: f"decoder.up_blocks.{2 * int(m[1]) + 2}.res_blocks."),
        (
            r"decoder\.up_blocks\.(\d+)\.time_embedder\.",
            lambda m: f"decoder.up_blocks.{2 * int(m[1]) + 2}.time_embedder.",
        ),
        (r"decoder\.time_embedder\.", lambda m: "decoder.last_time_embedder."),
        (r"decoder\.scale_shift_table$", lambda m: "decoder.last_scale_shift_table"),
    ]
    renamed: dict[str, mx.array] = {}
    for key, value in weights.items():
        name = _DIFFUSERS_STATS.get(key, key)
        for pattern, replacement in rules:
            name, count = re.subn("^" + pattern, replacement, name)
            if count:
                break
        renamed[name] = value
    return _finish(renamed, config)


def _finish(weights: dict[str, mx.array], config: VideoVAEConfig | None) -> dict[str, mx.array]:
    sanitized = {}
    for key, value in weights.items():
        if not any(pattern.fullmatch(key) for pattern in _KNOWN):
            raise CheckpointError(f"The video VAE weights contain an unknown key {key!r}; is this an LTX-2 VAE?")
        sanitized[key] = value.transpose(0, 2, 3, 4, 1) if value.ndim == 5 else value
    if config is not None:
        _check_against_model(sanitized, config)
    return sanitized


def _check_against_model(weights: dict[str, mx.array], config: VideoVAEConfig) -> None:
    # Parameters are lazy: building the model to read names and shapes allocates nothing.
    expected = dict(tree_flatten(VideoAutoencoder(config).parameters()))
    for key, param in expected.items():
        if key not in weights:
            raise CheckpointError(f"The video VAE weights lack {key!r}; the file does not match its VAE config.")
        if tuple(weights[key].shape) != tuple(param.shape):
            raise CheckpointError(
                f"The video VAE weight {key!r} has shape {tuple(weights[key].shape)}, expected {tuple(param.shape)}."
            )
    for key in weights:
        if key not in expected:
            raise CheckpointError(f"The video VAE weights contain {key!r}, which its VAE config does not use.")
