"""The official LTX-2 family layout: every component of a model in one safetensors file, or split.

LTX-2 and 2.3 ship one file per model holding the transformer (`model.diffusion_model.*`, its
text connectors among them), the text feature-extractor projection (`text_embedding_projection.*`),
the video VAE (`vae.*`), the audio VAE (`audio_vae.*`) and the vocoder (`vocoder.*`); the header's
metadata["config"] JSON has a section per component ("transformer", "vae", "audio_vae",
"vocoder"). LTX-2.5 splits the same prefixes over files of their own (transformer, video VAE,
audio VAE with the vocoder); a component file may also drop its prefix. Latent upsamplers are
files of their own with their config as the whole JSON.

Each reader takes the file that holds the component, selects its tensors by name from the
header (lazily mapped by `mx.load`, FP8 dequantised on the way: see safetensors_io), translates
them with the model package's `sanitize` and returns (config, weights); nothing is evaluated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.audio_keys import sanitize_audio_vae, sanitize_vocoder
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.embeddings_processor import PROJECTION_PREFIX
from ltx_mlx_core.models.ltx2.keys import OFFICIAL_PREFIX, TEXT_PATH_PREFIXES, is_transformer_key, sanitize
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.upsampler_keys import sanitize_latent_upsampler
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.models.ltx2.video_vae_keys import sanitize_official_video_vae
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig, vocoder_config_from_dict
from ltx_mlx_core.weights.safetensors_io import SafetensorsHeader, load_tensors, read_header

VAE_PREFIX = "vae."
AUDIO_VAE_PREFIX = "audio_vae."
VOCODER_PREFIX = "vocoder."
SECTIONS = ("transformer", "vae", "audio_vae", "vocoder")
# Prefixes of every component an official file may hold (a file with none is a bare component file).
COMPONENT_PREFIXES = (OFFICIAL_PREFIX, PROJECTION_PREFIX, VAE_PREFIX, AUDIO_VAE_PREFIX, VOCODER_PREFIX)
_TEXT_PATH = tuple(OFFICIAL_PREFIX + p for p in (*TEXT_PATH_PREFIXES, "embeddings_connector."))
_NAMES = {"transformer": "transformer", "vae": "video VAE", "audio_vae": "audio VAE", "vocoder": "vocoder"}


def is_ltx2_checkpoint(header: SafetensorsHeader) -> bool:
    """Whether an official single file (or a component file) belongs to the LTX-2 family."""
    config = header.config()
    if "audio_vae" in config or "vocoder" in config:
        return True
    transformer = config.get("transformer", {})
    if any(key.startswith("audio_") for key in transformer):
        return True
    return any(
        name.startswith((OFFICIAL_PREFIX + "audio_", AUDIO_VAE_PREFIX, VOCODER_PREFIX, PROJECTION_PREFIX))
        for name in header.tensors
    )


def version_of(config: LTX2Config) -> str:
    """The release a transformer config describes: "2" (19B), "2.3" or "2.5" (22B)."""
    if config.use_keyframes_abs_pos_embedding or not config.ff_bias:
        return "2.5"
    return "2.3" if config.cross_attention_adaln else "2"


def section(header: SafetensorsHeader, name: str) -> dict[str, Any]:
    """One component's config section; a bare component file may give its config as the whole JSON."""
    config = header.config()
    if name in config:
        return config[name]
    if config and not any(other in config for other in SECTIONS):
        return config
    raise CheckpointError(
        f"'{header.path.name}' has no '{name}' config in its header, so its {_NAMES[name]} cannot be built "
        "(it is not an LTX-2 checkpoint, or of a version this one does not know)."
    )


def component_keys(header: SafetensorsHeader, prefix: str) -> list[str]:
    """The tensors under `prefix`; in a file holding no official prefix at all, every tensor."""
    keys = header.keys_with_prefix(prefix)
    if keys or any(name.startswith(COMPONENT_PREFIXES) for name in header.tensors):
        return keys
    return list(header.tensors)


def _tensors(path: Path, header: SafetensorsHeader, keys: list[str], what: str) -> dict[str, mx.array]:
    if not keys:
        raise CheckpointError(f"'{path.name}' holds no {what} weights; the file is incomplete or not this component.")
    return load_tensors(path, keys=keys, header=header)


def _config_error(path: Path, what: str, error: Exception) -> CheckpointError:
    return CheckpointError(f"'{path.name}' has a {what} config this version cannot build: {error}")


def transformer_section(path: Path, header: SafetensorsHeader | None = None) -> dict[str, Any]:
    return section(header or read_header(path), "transformer")


def transformer_config(path: Path, header: SafetensorsHeader | None = None) -> LTX2Config:
    header = header or read_header(path)
    raw = section(header, "transformer")
    try:
        return LTX2Config.from_dict(raw, video_only=not _has_audio(header))
    except (TypeError, ValueError) as error:
        raise _config_error(path, "transformer", error) from None


def _has_audio(header: SafetensorsHeader) -> bool:
    """Video-only checkpoints carry no audio stream tensors (the reference configures them apart)."""
    return any(name.startswith(OFFICIAL_PREFIX + "audio_") for name in header.tensors)


def transformer_keys(header: SafetensorsHeader) -> list[str]:
    return [name for name in header.tensors if is_transformer_key(name)]


def read_transformer(path: Path) -> tuple[LTX2Config, dict[str, mx.array]]:
    header = read_header(path)
    config = transformer_config(path, header)
    weights = _tensors(path, header, transformer_keys(header), f"transformer ('{OFFICIAL_PREFIX}*')")
    try:
        return config, sanitize(weights)
    except CheckpointError as error:
        raise CheckpointError(f"'{path.name}': {error}") from None


def text_path_keys(header: SafetensorsHeader) -> list[str]:
    """The text connectors (under the transformer prefix) and the projection, when the file has it."""
    return [name for name in header.tensors if name.startswith(_TEXT_PATH + (PROJECTION_PREFIX,))]


def read_text_path(path: Path) -> tuple[dict[str, Any], dict[str, mx.array]]:
    """(the transformer config section the processor is built from, its official-named tensors)."""
    header = read_header(path)
    keys = text_path_keys(header)
    if not any(name.startswith(_TEXT_PATH) for name in keys):
        raise CheckpointError(f"'{path.name}' holds no text embeddings connectors ('{OFFICIAL_PREFIX}*_connector.*').")
    return section(header, "transformer"), load_tensors(path, keys=keys, header=header)


def read_video_vae(path: Path) -> tuple[VideoVAEConfig, dict[str, mx.array]]:
    header = read_header(path)
    try:
        config = VideoVAEConfig.from_dict(section(header, "vae"))
    except (TypeError, ValueError) as error:
        raise _config_error(path, "video VAE", error) from None
    weights = _tensors(path, header, component_keys(header, VAE_PREFIX), f"video VAE ('{VAE_PREFIX}*')")
    try:
        # Names and shapes are checked against the model by the loader, which names the file's tensor.
        return config, sanitize_official_video_vae(weights)
    except CheckpointError as error:
        raise CheckpointError(f"'{path.name}': {error}") from None


def read_audio_vae(
    path: Path, *, encoder: bool = True, decoder: bool = True
) -> tuple[AudioVAEConfig, dict[str, mx.array]]:
    header = read_header(path)
    try:
        config = AudioVAEConfig.from_dict(section(header, "audio_vae"))
    except (TypeError, ValueError) as error:
        raise _config_error(path, "audio VAE", error) from None
    weights = _tensors(path, header, component_keys(header, AUDIO_VAE_PREFIX), f"audio VAE ('{AUDIO_VAE_PREFIX}*')")
    try:
        return config, sanitize_audio_vae(weights, encoder=encoder, decoder=decoder)
    except CheckpointError as error:
        raise CheckpointError(f"'{path.name}': {error}") from None


def read_vocoder(path: Path) -> tuple[VocoderConfig | BWEConfig, dict[str, mx.array]]:
    header = read_header(path)
    try:
        config = vocoder_config_from_dict(section(header, "vocoder"))
    except (KeyError, TypeError, ValueError) as error:
        raise _config_error(path, "vocoder", error) from None
    weights = _tensors(path, header, component_keys(header, VOCODER_PREFIX), f"vocoder ('{VOCODER_PREFIX}*')")
    try:
        return config, sanitize_vocoder(weights, bwe=isinstance(config, BWEConfig))
    except CheckpointError as error:
        raise CheckpointError(f"'{path.name}': {error}") from None


def upsampler_config(path: Path, header: SafetensorsHeader | None = None) -> LatentUpsamplerConfig:
    header = header or read_header(path)
    raw = header.config()
    if not raw:
        raise CheckpointError(f"'{path.name}' has no embedded config; is it an LTX-2 latent upsampler?")
    try:
        return LatentUpsamplerConfig.from_dict(raw)
    except (TypeError, ValueError) as error:
        raise _config_error(path, "latent upsampler", error) from None


def read_upsampler(path: Path) -> tuple[LatentUpsamplerConfig, dict[str, mx.array]]:
    header = read_header(path)
    config = upsampler_config(path, header)
    try:
        return config, sanitize_latent_upsampler(load_tensors(path, header=header))
    except CheckpointError as error:
        raise CheckpointError(f"'{path.name}': {error}") from None
