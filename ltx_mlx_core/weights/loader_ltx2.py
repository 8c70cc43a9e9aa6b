"""Load each LTX-2 family component into an MLX module, one at a time, from what `resolve_model` found.

The layout decides the reader: official files (layout_ltx2: one file, or LTX-2.5's split files)
or a diffusers folder (layout_ltx2_diffusers, when `files.checkpoint` is that folder). Readers
return configs and lazily loaded, renamed weights; here every tensor is checked against the
module its config builds, by name and shape, and a mismatch names the tensor as the file has it.
Modules come out in the compute dtype, optionally quantised (quantize.py, with its MLX cache) and/or
with streamed transformer blocks (residency.py; a quantised transformer's blocks stream from its cache
file, so streaming needs the cache), and evaluated, so each load is one component.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.embeddings_processor import (
    PROJECTION_PREFIX,
    EmbeddingsProcessor,
    has_audio_connector,
    sanitize_diffusers,
    sanitize_official,
)
from ltx_mlx_core.models.ltx2.keys import OFFICIAL_PREFIX
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig
from ltx_mlx_core.text.gemma import GemmaTextModel, quantize_gemma
from ltx_mlx_core.text.gemma_config import gemma_spec
from ltx_mlx_core.text.gemma_tokenizer import GemmaTokenizer
from ltx_mlx_core.weights import layout_ltx2, layout_ltx2_diffusers
from ltx_mlx_core.weights.layout_gemma import (
    GemmaSource,
    bundled_projection_keys,
    gemma_source,
    tokenizer_folder,
)
from ltx_mlx_core.weights.model_files import ModelFiles
from ltx_mlx_core.weights.quantize import cache_path, load_or_quantize
from ltx_mlx_core.weights.residency import (
    ResidencyMode,
    block_weights_in_file,
    split_block_weights,
    stream_transformer_blocks,
)
from ltx_mlx_core.weights.safetensors_io import load_tensors

logger = logging.getLogger(__name__)
Weights = dict[str, mx.array]


def is_diffusers(files: ModelFiles) -> bool:
    return Path(files.checkpoint).is_dir()


# ---- the file's own name of one of our parameters, for error messages ---------------------------


def transformer_name(name: str) -> str:
    name = name.replace(".to_out.", ".to_out.0.").replace("ff.proj_in.", "ff.net.0.proj.")
    return OFFICIAL_PREFIX + name.replace("ff.proj_out.", "ff.net.2.").replace(".embedder.", ".emb.timestep_embedder.")


def _statistics(name: str) -> str:
    return name.replace("mean_of_means", "mean-of-means").replace("std_of_means", "std-of-means")


def video_vae_name(name: str) -> str:
    if name in ("mean_of_means", "std_of_means"):
        return layout_ltx2.VAE_PREFIX + "per_channel_statistics." + _statistics(name)
    return layout_ltx2.VAE_PREFIX + name


def text_path_name(name: str) -> str:
    kind, _, rest = name.partition(".")
    rest = (
        rest.replace(".to_out.", ".to_out.0.")
        .replace("ff.proj_in.", "ff.net.0.proj.")
        .replace("ff.proj_out.", "ff.net.2.")
    )
    if kind == "feature_extractor":
        return PROJECTION_PREFIX + rest
    return f"{OFFICIAL_PREFIX}{kind.replace('_connector', '')}_embeddings_connector.{rest}"


def check_and_load(
    module: nn.Module, weights: Weights, dtype: mx.Dtype, what: str, source: Path, file_name: Callable[[str], str] = str
) -> None:
    """Fill `module` from `weights` after checking every tensor's presence and shape, naming the tensor."""
    expected = {name: tuple(value.shape) for name, value in tree_flatten(module.parameters())}
    missing = [name for name in expected if name not in weights]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointError(
            f"'{source.name}' lacks the {what} tensor '{file_name(missing[0])}'{more}: the file is incomplete "
            "or does not match its config."
        )
    for name, value in weights.items():
        if name not in expected:
            raise CheckpointError(f"'{source.name}' has a {what} tensor '{file_name(name)}' its config does not use.")
        if tuple(value.shape) != expected[name]:
            raise CheckpointError(
                f"'{source.name}': the {what} tensor '{file_name(name)}' has shape {tuple(value.shape)}, but its "
                f"config needs {expected[name]}."
            )
    cast = [(k, v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) else v) for k, v in weights.items()]
    module.load_weights(cast, strict=True)


# ---- transformer -------------------------------------------------------------------------------


def load_transformer(
    files: ModelFiles,
    dtype: mx.Dtype = mx.bfloat16,
    quantize_bits: int | None = None,
    residency: ResidencyMode = ResidencyMode.RESIDENT,
    cache_quantized: bool = True,
) -> LTX2Transformer:
    layout = layout_ltx2_diffusers if is_diffusers(files) else layout_ltx2
    source = Path(files.checkpoint)
    streamed = residency is ResidencyMode.STREAM_BLOCKS

    def build_full() -> LTX2Transformer:
        config, weights = layout.read_transformer(source)
        model = LTX2Transformer(config)
        check_and_load(model, weights, dtype, "transformer", source, transformer_name)
        return model

    if quantize_bits:
        component = "ltx2-transformer"
        config = layout.transformer_config(source)
        model = load_or_quantize(
            lambda: LTX2Transformer(config),
            build_full,
            source,
            component,
            quantize_bits,
            dtype,
            use_cache=cache_quantized,
            cache_required=streamed,
        )
        if streamed:
            cached = cache_path(source, component, quantize_bits, dtype)
            stream_transformer_blocks(model, lambda: block_weights_in_file(cached, dtype))
    else:
        model = build_full()
        if streamed:

            def read_blocks() -> dict[int, Weights]:
                _, fresh = layout.read_transformer(source)
                return split_block_weights(
                    {k: v for k, v in fresh.items() if k.startswith("transformer_blocks.")}, dtype
                )

            stream_transformer_blocks(model, read_blocks)
    mx.eval(model.parameters())
    c = model.config
    logger.info(
        "LTX-2 transformer loaded from %s: %d layers, widths %d/%d%s, %s, %s%s",
        source.name,
        c.num_layers,
        c.inner_dim,
        c.audio_inner_dim,
        "" if c.has_audio else " (video only)",
        dtype,
        residency.description,
        f", {quantize_bits}-bit" if quantize_bits else "",
    )
    return model


# ---- VAEs, vocoder, upsamplers -----------------------------------------------------------------


def load_video_vae(files: ModelFiles, dtype: mx.Dtype = mx.bfloat16) -> VideoAutoencoder:
    if is_diffusers(files):
        source = Path(files.checkpoint) / "vae"
        config, weights = layout_ltx2_diffusers.read_video_vae(files.checkpoint)
    else:
        source = Path(files.video_vae or files.checkpoint)
        config, weights = layout_ltx2.read_video_vae(source)
    vae = VideoAutoencoder(config)
    check_and_load(vae, weights, dtype, "video VAE", source, video_vae_name)
    mx.eval(vae.parameters())
    return vae


def load_audio_vae(
    files: ModelFiles, dtype: mx.Dtype = mx.bfloat16, *, encoder: bool = True, decoder: bool = True
) -> AudioVAE:
    """The audio VAE; `encoder=False` for generation (only audio-to-video and extension encode sound)."""
    if is_diffusers(files):
        source = Path(files.checkpoint) / "audio_vae"
        config, weights = layout_ltx2_diffusers.read_audio_vae(files.checkpoint, encoder=encoder, decoder=decoder)
    else:
        source = Path(files.audio_vae or files.checkpoint)
        config, weights = layout_ltx2.read_audio_vae(source, encoder=encoder, decoder=decoder)
    vae = AudioVAE(config, encoder=encoder, decoder=decoder)
    check_and_load(
        vae, weights, dtype, "audio VAE", source, lambda name: layout_ltx2.AUDIO_VAE_PREFIX + _statistics(name)
    )
    mx.eval(vae.parameters())
    return vae


def load_vocoder(files: ModelFiles, dtype: mx.Dtype = mx.bfloat16) -> Vocoder | VocoderWithBWE:
    if is_diffusers(files):
        source = Path(files.checkpoint) / "vocoder"
        config, weights = layout_ltx2_diffusers.read_vocoder(files.checkpoint)
    else:
        source = Path(files.vocoder or files.audio_vae or files.checkpoint)
        config, weights = layout_ltx2.read_vocoder(source)
    vocoder = VocoderWithBWE(config) if isinstance(config, BWEConfig) else Vocoder(config)
    check_and_load(vocoder, weights, dtype, "vocoder", source, lambda name: layout_ltx2.VOCODER_PREFIX + name)
    mx.eval(vocoder.parameters())
    return vocoder


def load_upsampler(files: ModelFiles, dtype: mx.Dtype = mx.bfloat16, temporal: bool = False) -> LatentUpsampler:
    """The spatial x2 latent upsampler, or with `temporal` the temporal x2 one."""
    path = files.temporal_upsampler if temporal else files.upsampler
    kind = "temporal" if temporal else "spatial"
    if path is None:
        raise CheckpointError(f"Model '{files.model_id}' has no {kind} latent upsampler, which this generation needs.")
    path = Path(path)
    reader = layout_ltx2_diffusers.read_upsampler if path.is_dir() else layout_ltx2.read_upsampler
    config, weights = reader(path)
    if temporal != (config.temporal_upsample and not config.spatial_upsample):
        raise CheckpointError(f"'{path.name}' is not a {kind} latent upsampler (its config says otherwise).")
    upsampler = LatentUpsampler(config)
    check_and_load(upsampler, weights, dtype, f"{kind} upsampler", path)
    mx.eval(upsampler.parameters())
    return upsampler


# ---- text path ---------------------------------------------------------------------------------


def text_encoder_source(files: ModelFiles) -> GemmaSource:
    return gemma_source(files.text_encoder_dir)


def _build_gemma(source: GemmaSource, dtype: mx.Dtype) -> GemmaTextModel:
    model = GemmaTextModel(gemma_spec(source.config))
    weights: Weights = {}
    for path in source.weight_files:
        weights.update(load_tensors(path))
    check_and_load(
        model, model.sanitize(weights), dtype, "Gemma", source.path, lambda name: name.removeprefix("language_model.")
    )
    return model


def load_text_encoder(
    files: ModelFiles, dtype: mx.Dtype = mx.bfloat16, quantize_bits: int | None = None, cache_quantized: bool = True
) -> tuple[GemmaTokenizer, GemmaTextModel]:
    """(tokenizer, Gemma text model); quantised Gemmas come from the MLX cache after their first load."""
    source = text_encoder_source(files)
    if quantize_bits:
        spec = gemma_spec(source.config)
        gemma = load_or_quantize(
            lambda: GemmaTextModel(spec),
            lambda: _build_gemma(source, dtype),
            source.path,
            "gemma",
            quantize_bits,
            dtype,
            use_cache=cache_quantized,
            quantize=quantize_gemma,
        )
    else:
        gemma = _build_gemma(source, dtype)
    mx.eval(gemma.parameters())
    tokenizer = GemmaTokenizer.from_folder(tokenizer_folder(Path(files.tokenizer_dir), source.path))
    logger.info(
        "Gemma (%s) loaded from %s%s",
        gemma.spec.family,
        source.path.name,
        f", {quantize_bits}-bit" if quantize_bits else "",
    )
    return tokenizer, gemma


def load_embeddings_processor(files: ModelFiles, dtype: mx.Dtype = mx.bfloat16) -> EmbeddingsProcessor:
    """The feature extractor and the video/audio connectors (the projection may be in the Gemma file, LTX-2.5)."""
    if is_diffusers(files):
        config, raw = layout_ltx2_diffusers.read_connectors(files.checkpoint)
        processor = EmbeddingsProcessor.from_diffusers_config(config)
        try:
            weights = sanitize_diffusers(raw)
        except ValueError as error:
            raise CheckpointError(f"'{files.checkpoint}/connectors': {error}") from None
        check_and_load(processor, weights, dtype, "text connectors", Path(files.checkpoint) / "connectors")
    else:
        source = Path(files.checkpoint)
        section, tensors = layout_ltx2.read_text_path(source)
        gemma = text_encoder_source(files)
        if not any(key.startswith(PROJECTION_PREFIX) for key in tensors):
            for path, keys in bundled_projection_keys(gemma).items():
                tensors.update(load_tensors(path, keys=keys))
        spec = gemma_spec(gemma.config)
        try:
            processor = EmbeddingsProcessor.from_transformer_config(
                section, spec.hidden_size, spec.num_hidden_states, with_audio=has_audio_connector(tensors)
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"'{source.name}' has a text-path config this version cannot build: {error}"
            ) from None
        check_and_load(processor, sanitize_official(tensors), dtype, "text path", source, text_path_name)
    mx.eval(processor.parameters())
    return processor
