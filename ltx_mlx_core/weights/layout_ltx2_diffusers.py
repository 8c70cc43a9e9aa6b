"""The diffusers folder layout of an LTX-2 family pipeline (LTX2Pipeline and its relatives).

    model_index.json
    transformer/   config.json + diffusion_pytorch_model[-0000k-of-0000n].safetensors (+ index)
    vae/ audio_vae/ vocoder/ connectors/ latent_upsampler/   config.json + weights
    text_encoder/  a Hugging Face Gemma folder;  tokenizer/

Transformer names are translated to the official ones (the inverse of diffusers'
`convert_ltx2_transformer_to_diffusers`), so the official key map and its checks apply; its
config.json becomes the official "transformer" section. The video VAE's diffusers config (channel
lists per level) becomes the official block list; the audio VAE, vocoder, connectors and
upsampler readers in the model package take diffusers' own names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.audio_keys import sanitize_audio_vae, sanitize_vocoder
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.keys import OFFICIAL_PREFIX, sanitize
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.upsampler_keys import sanitize_latent_upsampler
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.models.ltx2.video_vae_keys import sanitize_diffusers_video_vae
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig, vocoder_config_from_dict
from ltx_mlx_core.weights.layout_hf_t5 import sharded_files
from ltx_mlx_core.weights.safetensors_io import load_tensors

WEIGHTS_INDEX = "diffusion_pytorch_model.safetensors.index.json"
# diffusers' LTX2VideoTransformer3DModel names -> official: leading modules, then names inside blocks.
_TOP = {
    "proj_in": "patchify_proj",
    "audio_proj_in": "audio_patchify_proj",
    "time_embed": "adaln_single",
    "audio_time_embed": "audio_adaln_single",
    "prompt_adaln": "prompt_adaln_single",
    "audio_prompt_adaln": "audio_prompt_adaln_single",
    "av_cross_attn_video_scale_shift": "av_ca_video_scale_shift_adaln_single",
    "av_cross_attn_video_a2v_gate": "av_ca_a2v_gate_adaln_single",
    "av_cross_attn_audio_scale_shift": "av_ca_audio_scale_shift_adaln_single",
    "av_cross_attn_audio_v2a_gate": "av_ca_v2a_gate_adaln_single",
}
_INNER = {
    "norm_q": "q_norm",
    "norm_k": "k_norm",
    "video_a2v_cross_attn_scale_shift_table": "scale_shift_table_a2v_ca_video",
    "audio_a2v_cross_attn_scale_shift_table": "scale_shift_table_a2v_ca_audio",
}
_DOWN = {"spatial": "compress_space_res", "temporal": "compress_time_res", "spatiotemporal": "compress_all_res"}
_UP = {"spatial": "compress_space", "temporal": "compress_time", "spatiotemporal": "compress_all"}


def _config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"'{path}' is missing or not JSON: {error}") from None


def _weights(folder: Path) -> dict[str, mx.array]:
    weights: dict[str, mx.array] = {}
    for path in sharded_files(folder, WEIGHTS_INDEX):
        weights.update(load_tensors(path))
    return weights


def official_transformer_section(raw: dict[str, Any]) -> dict[str, Any]:
    """A diffusers LTX2VideoTransformer3DModel config.json -> the official "transformer" section."""
    if raw.get("patch_size", 1) != 1 or raw.get("patch_size_t", 1) != 1:
        raise CheckpointError("The diffusers LTX-2 transformer patchifies in blocks; only patch size 1 exists.")
    if raw.get("qk_norm", "rms_norm_across_heads") != "rms_norm_across_heads":
        raise CheckpointError(f"The diffusers LTX-2 transformer uses qk_norm {raw['qk_norm']!r}; not supported.")
    section = {
        key: raw[key]
        for key in (
            "in_channels",
            "out_channels",
            "num_attention_heads",
            "attention_head_dim",
            "cross_attention_dim",
            "caption_channels",
            "audio_in_channels",
            "audio_out_channels",
            "audio_num_attention_heads",
            "audio_attention_head_dim",
            "audio_cross_attention_dim",
            "num_layers",
            "norm_eps",
            "rope_type",
            "timestep_scale_multiplier",
            "ff_bias",
            "audio_ff_bias",
            "use_prompt_adaln_single",
            "use_keyframes_abs_pos_embedding",
        )
        if key in raw
    }
    section.update(
        caption_proj_before_connector=not raw.get("use_prompt_embeddings", True),
        apply_gated_attention=raw.get("gated_attn", False),
        cross_attention_adaln=raw.get("cross_attn_mod", False),
        frequencies_precision="float64" if raw.get("rope_double_precision", True) else "float32",
        av_ca_timestep_scale_multiplier=raw.get("cross_attn_timestep_scale_multiplier", 1000),
        positional_embedding_theta=raw.get("rope_theta", 10000.0),
        positional_embedding_max_pos=[
            raw.get("pos_embed_max_pos", 20),
            raw.get("base_height", 2048),
            raw.get("base_width", 2048),
        ],
        audio_positional_embedding_max_pos=[raw.get("audio_pos_embed_max_pos", 20)],
    )
    if raw.get("out_channels") is None:
        section["out_channels"] = section.get("in_channels", 128)
    if raw.get("audio_out_channels") is None:
        section["audio_out_channels"] = section.get("audio_in_channels", 128)
    return section


def official_transformer_keys(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    renamed = {}
    for name, value in weights.items():
        first, *rest = name.split(".")
        parts = [_TOP.get(first, first)] + [_INNER.get(part, part) for part in rest]
        renamed[OFFICIAL_PREFIX + ".".join(parts)] = value
    return renamed


def transformer_config(root: Path) -> LTX2Config:
    raw = _config(Path(root) / "transformer")
    try:
        return LTX2Config.from_dict(official_transformer_section(raw))
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"'{root}/transformer/config.json' is not a config this version can build: {error}"
        ) from None


def read_transformer(root: Path) -> tuple[LTX2Config, dict[str, mx.array]]:
    folder = Path(root) / "transformer"
    config = transformer_config(root)
    try:
        return config, sanitize(official_transformer_keys(_weights(folder)))
    except CheckpointError as error:
        raise CheckpointError(f"'{folder}': {error}") from None


def official_video_vae_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A diffusers AutoencoderKLLTX2Video config.json -> the official "vae" section.

    diffusers gives the encoder's widths after each level and the decoder's before each level's
    upsampler, both in the encoder's order; `upsample_type` alone is listed from the lowest level up.
    """

    def listed(key: str, count: int, default: Any) -> list[Any]:
        value = raw.get(key, default)
        return [value] * count if isinstance(value, bool) else list(value)

    widths = [raw.get("latent_channels", 128), *raw["block_out_channels"]]
    layers = list(raw["layers_per_block"])
    levels = len(widths) - 1
    scaling = listed("spatio_temporal_scaling", levels, True)
    kinds = list(raw.get("downsample_type", ("spatial", "temporal", "spatiotemporal", "spatiotemporal")))
    encoder: list[list[Any]] = []
    for level in range(levels):
        encoder.append(["res_x", {"num_layers": layers[level]}])
        if scaling[level]:
            encoder.append([_DOWN[kinds[level]], {"multiplier": widths[level + 1] // widths[level]}])
    encoder.append(["res_x", {"num_layers": layers[-1]}])

    decoder_widths = list(raw["decoder_block_out_channels"])
    decoder_layers = list(raw["decoder_layers_per_block"])
    ups = len(decoder_widths)
    up_scaling = listed("decoder_spatio_temporal_scaling", ups, True)
    up_kinds = list(reversed(raw.get("upsample_type", ["spatiotemporal"] * ups)))
    residual = listed("upsample_residual", ups, True)
    factors = list(raw.get("upsample_factor", [2] * ups))
    noise = listed("decoder_inject_noise", ups + 1, False)
    decoder: list[list[Any]] = []
    for level in range(ups):
        decoder.append(["res_x", {"num_layers": decoder_layers[level], "inject_noise": bool(noise[level])}])
        if up_scaling[level]:
            params = {"multiplier": factors[level]}
            if up_kinds[level] == "spatiotemporal":
                params["residual"] = bool(residual[level])
            decoder.append([_UP[up_kinds[level]], params])
    decoder.append(["res_x", {"num_layers": decoder_layers[-1], "inject_noise": bool(noise[-1])}])
    return {
        "_class_name": "CausalVideoAutoencoder",
        "dims": 3,
        "in_channels": raw.get("in_channels", 3),
        "out_channels": raw.get("out_channels", 3),
        "latent_channels": raw.get("latent_channels", 128),
        "encoder_blocks": encoder,
        "decoder_blocks": decoder,
        "patch_size": raw.get("patch_size", 4),
        "norm_layer": "pixel_norm",
        "latent_log_var": "uniform",
        "causal_decoder": bool(raw.get("decoder_causal", False)),
        "timestep_conditioning": bool(raw.get("timestep_conditioning", False)),
        "decoder_base_channels": decoder_widths[-1] // 8,
        "encoder_spatial_padding_mode": raw.get("encoder_spatial_padding_mode", "zeros"),
        "decoder_spatial_padding_mode": raw.get("decoder_spatial_padding_mode", "reflect"),
    }


def read_video_vae(root: Path) -> tuple[VideoVAEConfig, dict[str, mx.array]]:
    folder = Path(root) / "vae"
    try:
        config = VideoVAEConfig.from_dict(official_video_vae_config(_config(folder)))
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        raise CheckpointError(
            f"'{folder / 'config.json'}' is not a VAE config this version can build: {error}"
        ) from None
    try:
        return config, sanitize_diffusers_video_vae(_weights(folder), config)
    except CheckpointError as error:
        raise CheckpointError(f"'{folder}': {error}") from None


def read_audio_vae(
    root: Path, *, encoder: bool = True, decoder: bool = True
) -> tuple[AudioVAEConfig, dict[str, mx.array]]:
    folder = Path(root) / "audio_vae"
    try:
        config = AudioVAEConfig.from_dict(_config(folder))
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"'{folder / 'config.json'}' is not an audio VAE config this version can build: {error}"
        ) from None
    try:
        return config, sanitize_audio_vae(_weights(folder), encoder=encoder, decoder=decoder)
    except CheckpointError as error:
        raise CheckpointError(f"'{folder}': {error}") from None


def read_vocoder(root: Path) -> tuple[VocoderConfig | BWEConfig, dict[str, mx.array]]:
    folder = Path(root) / "vocoder"
    try:
        config = vocoder_config_from_dict(_config(folder))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"'{folder / 'config.json'}' is not a vocoder config this version can build: {error}"
        ) from None
    try:
        return config, sanitize_vocoder(_weights(folder), bwe=isinstance(config, BWEConfig))
    except CheckpointError as error:
        raise CheckpointError(f"'{folder}': {error}") from None


def read_connectors(root: Path) -> tuple[dict[str, Any], dict[str, mx.array]]:
    """The `connectors/` folder's LTX2TextConnectors config and tensors (diffusers names)."""
    folder = Path(root) / "connectors"
    return _config(folder), _weights(folder)


def read_upsampler(folder: Path) -> tuple[LatentUpsamplerConfig, dict[str, mx.array]]:
    """A `latent_upsampler/` folder (LTX2LatentUpsamplerModel)."""
    try:
        config = LatentUpsamplerConfig.from_dict(_config(folder))
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"'{folder / 'config.json'}' is not an upsampler config this version can build: {error}"
        ) from None
    try:
        return config, sanitize_latent_upsampler(_weights(folder))
    except CheckpointError as error:
        raise CheckpointError(f"'{folder}': {error}") from None
