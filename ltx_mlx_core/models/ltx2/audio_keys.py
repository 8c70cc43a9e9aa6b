"""Key translation for the LTX-2 audio VAE and vocoders: official single file or diffusers folders.

Official keys carry the component prefix (``audio_vae.``, ``vocoder.``); it may be given
or already stripped. diffusers renames the statistics (``latents_mean``) and the
vocoder's layers (``conv_in``, ``upsamplers``, ``resnets``, ``act_out``, ``conv_out``,
``downsample.filter``). The result uses the official paths, conv kernels are moved to
MLX's channels-last layout, and an unknown key raises `CheckpointError`.
"""

from __future__ import annotations

import re

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError

AUDIO_VAE_PREFIX = "audio_vae."
VOCODER_PREFIX = "vocoder."

_STATS = {
    "per_channel_statistics.mean-of-means": "per_channel_statistics.mean_of_means",
    "per_channel_statistics.std-of-means": "per_channel_statistics.std_of_means",
    "latents_mean": "per_channel_statistics.mean_of_means",
    "latents_std": "per_channel_statistics.std_of_means",
}
# Aggregates some LTX checkpoints carry beside the two statistics the model reads.
_UNUSED_STATS = {"channel", "mean-of-stds", "mean-of-stds_over_std-of-means"}

_P = r"\.(weight|bias)"
_RESNET = rf"((norm1|norm2){_P}|(conv1|conv2|nin_shortcut)\.conv{_P})"
_ATTN = rf"(norm|q|k|v|proj_out){_P}"
_AUDIO_VAE_PARTS = (
    rf"(conv_in|conv_out)\.conv{_P}",
    rf"norm_out{_P}",
    rf"mid\.(block_1|block_2)\.{_RESNET}",
    rf"mid\.attn_1\.{_ATTN}",
    rf"(down|up)\.\d+\.block\.\d+\.{_RESNET}",
    rf"(down|up)\.\d+\.attn\.\d+\.{_ATTN}",
    rf"down\.\d+\.downsample\.conv{_P}",
    rf"up\.\d+\.upsample\.conv\.conv{_P}",
)
_AUDIO_VAE_KEY = re.compile(r"(encoder|decoder)\.(" + "|".join(_AUDIO_VAE_PARTS) + ")")


def sanitize_audio_vae(
    weights: dict[str, mx.array], *, encoder: bool = True, decoder: bool = True
) -> dict[str, mx.array]:
    """Audio VAE weights -> `AudioVAE` parameters; `encoder`/`decoder` False drops that half."""
    sanitized: dict[str, mx.array] = {}
    for key, value in weights.items():
        key = key.removeprefix(AUDIO_VAE_PREFIX)
        if key in _STATS:
            sanitized[_STATS[key]] = value
            continue
        if key.startswith("per_channel_statistics.") and key.split(".", 1)[1] in _UNUSED_STATS:
            continue
        if not _AUDIO_VAE_KEY.fullmatch(key):
            raise CheckpointError(f"The audio VAE weights contain an unknown key {key!r}; is this an LTX-2 audio VAE?")
        if (key.startswith("encoder.") and not encoder) or (key.startswith("decoder.") and not decoder):
            continue
        sanitized[key] = value.transpose(0, 2, 3, 1) if value.ndim == 4 else value
    return sanitized


# diffusers -> official, applied in order to each dotted key.
_DIFFUSERS_VOCODER = (
    (re.compile(r"(^|\.)conv_in\."), r"\1conv_pre."),
    (re.compile(r"(^|\.)conv_out\."), r"\1conv_post."),
    (re.compile(r"(^|\.)act_out\."), r"\1act_post."),
    (re.compile(r"(^|\.)upsamplers\."), r"\1ups."),
    (re.compile(r"(^|\.)resnets\."), r"\1resblocks."),
    (re.compile(r"\.downsample\.filter$"), r".downsample.lowpass.filter"),
)
_ACT = r"\.(act\.(alpha|beta)|upsample\.filter|downsample\.lowpass\.filter)"
_GENERATOR_PARTS = (
    rf"conv_pre{_P}",
    rf"conv_post{_P}",
    rf"ups\.\d+{_P}",
    rf"resblocks\.\d+\.(convs1|convs2)\.\d+{_P}",
    rf"resblocks\.\d+\.(acts1|acts2)\.\d+{_ACT}",
    rf"act_post{_ACT}",
)
_GENERATOR_KEY = "(" + "|".join(_GENERATOR_PARTS) + ")"
_VOCODER_KEY = re.compile(_GENERATOR_KEY)
_BWE_KEY = re.compile(r"(vocoder|bwe_generator)\." + _GENERATOR_KEY + r"|mel_stft\.(mel_basis|stft_fn\.forward_basis)")
# Stored by both layouts, used by neither: the inverse STFT basis.
_UNUSED_VOCODER_KEYS = {"mel_stft.stft_fn.inverse_basis"}
_BWE_PARTS = ("vocoder.", "bwe_generator.", "mel_stft.")
_TRANSPOSED_CONV = re.compile(r"(^|\.)ups\.\d+\.weight$")


def sanitize_vocoder(weights: dict[str, mx.array], *, bwe: bool) -> dict[str, mx.array]:
    """Vocoder weights -> `Vocoder` (bwe False) or `VocoderWithBWE` (bwe True) parameters."""
    pattern = _BWE_KEY if bwe else _VOCODER_KEY
    sanitized: dict[str, mx.array] = {}
    for key, value in weights.items():
        key = _strip_prefix(key, bwe)
        if key in _UNUSED_VOCODER_KEYS:
            continue
        if not pattern.fullmatch(key):
            key = _from_diffusers(key)
        if not pattern.fullmatch(key):
            kind = "LTX-2.3 vocoder with bandwidth extension" if bwe else "LTX-2 vocoder"
            raise CheckpointError(f"The vocoder weights contain an unknown key {key!r} for an {kind}.")
        sanitized[key] = _to_mlx_layout(key, value)
    return sanitized


def _strip_prefix(key: str, bwe: bool) -> str:
    """Remove the file's `vocoder.` prefix exactly once (LTX-2.3's parts are themselves `vocoder.*`)."""
    if not bwe or key.startswith(tuple(VOCODER_PREFIX + part for part in _BWE_PARTS)):
        return key.removeprefix(VOCODER_PREFIX)
    return key


def _from_diffusers(key: str) -> str:
    for pattern, replacement in _DIFFUSERS_VOCODER:
        key = pattern.sub(replacement, key)
    return key


def _to_mlx_layout(key: str, value: mx.array) -> mx.array:
    if key.endswith(".filter"):
        return value.reshape(-1)
    if key.endswith("forward_basis"):
        return value.transpose(0, 2, 1)
    if value.ndim == 3:
        # torch ConvTranspose1d is [in, out, k]; Conv1d is [out, in, k]; MLX wants [out, k, in] for both.
        transposed = _TRANSPOSED_CONV.search(key) is not None
        return value.transpose(1, 2, 0) if transposed else value.transpose(0, 2, 1)
    return value
