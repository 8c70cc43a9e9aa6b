"""`ltx-mlx models make-tiny --family ltx2`: a tiny random-weight LTX-2 model, for trials and tests.

It has every component and file layout of a released LTX-2.3 model at toy widths: one official
single file (transformer with its text connectors, text projection, video VAE, audio VAE and the
vocoder with bandwidth extension, each under its prefix, the configs in the header), the spatial
and temporal x2 latent upsamplers as files of their own, and a Hugging Face Gemma 3 folder with a
tokenizer built here. Its weights are random: its picture and its sound are noise.

Writing is the inverse of the loaders' key maps (our names back to the official ones, MLX kernels
back to torch's layouts), so loading the result proves both directions.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten

from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor
from ltx_mlx_core.models.ltx2.mel import hann_window, mel_filter_bank
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler, LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.models.ltx2.vocoder_config import vocoder_config_from_dict
from ltx_mlx_core.text.gemma import GemmaTextModel
from ltx_mlx_core.text.gemma_config import gemma_spec
from ltx_mlx_core.weights.layout_ltx2 import AUDIO_VAE_PREFIX, VOCODER_PREFIX
from ltx_mlx_core.weights.loader_ltx2 import text_path_name, transformer_name, video_vae_name
from ltx_mlx_core.weights.model_files import LTX2, MANIFEST, ModelFiles
from ltx_mlx_core.weights.registry_ltx2 import TINY_LTX2_ID, TINY_LTX2_LABEL
from ltx_mlx_core.weights.tiny_tokenizer import tiny_gemma_vocabulary, write_tiny_gemma_tokenizer

logger = logging.getLogger(__name__)

CHECKPOINT = "tiny-ltx2.safetensors"
GEMMA_WIDTH = 64
TINY_GEMMA: dict[str, Any] = {
    "model_type": "gemma3_text",
    "architectures": ["Gemma3ForCausalLM"],
    "hidden_size": GEMMA_WIDTH,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 16,
    "sliding_window": 64,
    "vocab_size": len(tiny_gemma_vocabulary()),
}
# LTX-2.3's switches (gated attention, prompt AdaLN, projections in the text path) at toy widths
# the split RoPE accepts; the text connectors' keys are the checkpoint's own.
TINY_LTX2_TRANSFORMER: dict[str, Any] = {
    "num_attention_heads": 4,
    "attention_head_dim": 14,
    "in_channels": 8,
    "out_channels": 8,
    "num_layers": 2,
    "cross_attention_dim": 56,
    "caption_channels": GEMMA_WIDTH,
    "audio_num_attention_heads": 2,
    "audio_attention_head_dim": 16,
    "audio_in_channels": 16,
    "audio_out_channels": 16,
    "audio_cross_attention_dim": 32,
    "av_ca_timestep_scale_multiplier": 1000.0,
    "rope_type": "split",
    "frequencies_precision": "float64",
    "apply_gated_attention": True,
    "cross_attention_adaln": True,
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
    "connector_num_attention_heads": 4,
    "connector_attention_head_dim": 14,
    "connector_num_layers": 2,
    "audio_connector_num_attention_heads": 2,
    "audio_connector_attention_head_dim": 16,
    "connector_num_learnable_registers": 8,
    "connector_positional_embedding_max_pos": [64],
    "connector_apply_gated_attention": True,
}
# The LTX-2.3 VAE's level structure (space-only, time-only and x1 decoder levels) with 8 latent channels.
TINY_LTX2_VAE: dict[str, Any] = {
    "latent_channels": 8,
    "patch_size": 4,
    "norm_layer": "pixel_norm",
    "latent_log_var": "uniform",
    "encoder_blocks": [
        ["res_x", {"num_layers": 1}],
        ["compress_space_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_time_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all_res", {"multiplier": 1}],
        ["res_x", {"num_layers": 1}],
    ],
    "decoder_blocks": [
        ["res_x", {"num_layers": 1}],
        ["compress_space", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_time", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all", {"multiplier": 1}],
        ["res_x", {"num_layers": 1}],
        ["compress_all", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
    ],
    "decoder_base_channels": 4,
    "spatial_padding_mode": "zeros",
}
# The released audio VAE's structure at toy width: ch = z_channels x mel_bins / 4.
TINY_AUDIO_VAE: dict[str, Any] = {
    "model": {
        "params": {
            "sampling_rate": 16000,
            "ddconfig": {
                "ch": 16,
                "out_ch": 2,
                "in_channels": 2,
                "ch_mult": [1, 2, 4],
                "num_res_blocks": 1,
                "attn_resolutions": [],
                "resolution": 256,
                "z_channels": 4,
                "double_z": True,
                "norm_type": "pixel",
                "causality_axis": "height",
                "mid_block_add_attention": False,
                "mel_bins": 16,
            },
        }
    },
    "preprocessing": {"stft": {"hop_length": 160, "filter_length": 1024, "causal": True}, "mel": {}},
}
_BIGVGAN = {
    "resblock_kernel_sizes": [3, 7],
    "resblock_dilation_sizes": [[1, 3], [1, 3]],
    "resblock": "AMP1",
    "activation": "snakebeta",
    "stereo": True,
    "use_tanh_at_final": False,
    "use_bias_at_final": False,
    "upsample_initial_channel": 32,
}
# LTX-2.3's vocoder: BigVGAN to 16 kHz (hop 160), then the bandwidth extension to 48 kHz.
TINY_VOCODER: dict[str, Any] = {
    "vocoder": {**_BIGVGAN, "in_channels": 32, "upsample_rates": [8, 4, 5], "upsample_kernel_sizes": [16, 8, 11]},
    "bwe": {
        **_BIGVGAN,
        "in_channels": 32,
        "upsample_rates": [6, 5, 8],
        "upsample_kernel_sizes": [12, 11, 16],
        "input_sampling_rate": 16000,
        "output_sampling_rate": 48000,
        "n_fft": 512,
        "hop_length": 80,
        "num_mels": 16,
    },
}
TINY_UPSAMPLERS = {
    "spatial": LatentUpsamplerConfig(in_channels=8, mid_channels=32, num_blocks_per_stage=1),
    "temporal": LatentUpsamplerConfig(
        in_channels=8, mid_channels=32, num_blocks_per_stage=1, spatial_upsample=False, temporal_upsample=True
    ),
}


@dataclass(frozen=True)
class LTX2ModelShapes:
    """Component configs of a generated LTX-2 test model (the tiny model's by default)."""

    transformer: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(TINY_LTX2_TRANSFORMER))
    gemma: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(TINY_GEMMA))
    vae: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(TINY_LTX2_VAE))
    audio_vae: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(TINY_AUDIO_VAE))
    vocoder: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(TINY_VOCODER))


def _params(module: nn.Module) -> dict[str, mx.array]:
    return dict(tree_flatten(module.parameters()))


def _save(path: Path, tensors: dict[str, mx.array], config: dict | None = None) -> None:
    metadata = {"config": json.dumps(config)} if config is not None else {}
    mx.eval(list(tensors.values()))
    mx.save_safetensors(str(path), tensors, metadata=metadata)


def _torch_conv_layout(name: str, value: mx.array, transposed: bool = False) -> mx.array:
    """MLX channels-last kernels back to torch's [out, in, k...] ([in, out, k] for a transposed conv)."""
    if value.ndim == 5:
        return value.transpose(0, 4, 1, 2, 3)
    if value.ndim == 4:
        return value.transpose(0, 3, 1, 2)
    if value.ndim == 3:
        return value.transpose(2, 0, 1) if transposed else value.transpose(0, 2, 1)
    return value


def official_transformer(model: LTX2Transformer) -> dict[str, mx.array]:
    return {transformer_name(k): v for k, v in _params(model).items()}


def official_text_path(processor: EmbeddingsProcessor) -> dict[str, mx.array]:
    return {text_path_name(k): v for k, v in _params(processor).items()}


def official_video_vae(vae: VideoAutoencoder) -> dict[str, mx.array]:
    return {video_vae_name(k): _torch_conv_layout(k, v) for k, v in _params(vae).items()}


def official_audio_vae(vae: AudioVAE) -> dict[str, mx.array]:
    names = {"mean_of_means": "mean-of-means", "std_of_means": "std-of-means"}
    out = {}
    for name, value in _params(vae).items():
        for ours, theirs in names.items():
            name = name.replace(ours, theirs)
        out[AUDIO_VAE_PREFIX + name] = _torch_conv_layout(name, value)
    return out


def official_vocoder(vocoder: nn.Module) -> dict[str, mx.array]:
    out = {}
    for name, value in _params(vocoder).items():
        if name.endswith("forward_basis"):
            value = value.transpose(0, 2, 1)
        elif not name.endswith(".filter"):
            value = _torch_conv_layout(name, value, transposed=".ups." in f".{name}")
        out[VOCODER_PREFIX + name] = value
    return out


def official_upsampler(upsampler: LatentUpsampler) -> dict[str, mx.array]:
    return {k: mx.moveaxis(v, -1, 1) if v.ndim in (4, 5) else v for k, v in _params(upsampler).items()}


def _audio_bases(vocoder: VocoderWithBWE) -> None:
    """A real windowed DFT and mel filter bank for the extension's mel (random ones would be meaningless)."""
    config = vocoder.config
    n = np.arange(config.n_fft)
    k = np.arange(config.n_fft // 2 + 1)[:, None]
    window = hann_window(config.n_fft)
    basis = np.concatenate(
        [np.cos(2 * np.pi * k * n / config.n_fft) * window, -np.sin(2 * np.pi * k * n / config.n_fft) * window]
    )
    vocoder.mel_stft.stft_fn.forward_basis = mx.array(basis[:, :, None].astype(np.float32))
    filters = mel_filter_bank(config.n_fft // 2 + 1, config.num_mels, config.input_sampling_rate)
    vocoder.mel_stft.mel_basis = mx.array(filters.T.astype(np.float32))


def write_tiny_ltx2_model(folder: Path, seed: int = 0, shapes: LTX2ModelShapes | None = None) -> ModelFiles:
    """Write every file of a random-weight LTX-2 model into `folder` (which must exist)."""
    shapes = shapes or LTX2ModelShapes()
    mx.random.seed(seed)
    gemma_dir = folder / "gemma"
    gemma_dir.mkdir()
    spec = gemma_spec(shapes.gemma)
    gemma = GemmaTextModel(spec)
    _save(gemma_dir / "model.safetensors", {k.removeprefix("language_model."): v for k, v in _params(gemma).items()})
    (gemma_dir / "config.json").write_text(json.dumps(shapes.gemma, indent=2))
    write_tiny_gemma_tokenizer(gemma_dir)

    transformer = LTX2Transformer(LTX2Config.from_dict(shapes.transformer))
    processor = EmbeddingsProcessor.from_transformer_config(
        shapes.transformer, spec.hidden_size, spec.num_hidden_states
    )
    vae_config = VideoVAEConfig.from_dict(shapes.vae)
    vae = VideoAutoencoder(vae_config)
    vae.mean_of_means = mx.random.normal((vae_config.latent_channels,)) * 0.1
    vae.std_of_means = mx.random.uniform(0.5, 1.5, (vae_config.latent_channels,))
    audio_vae = AudioVAE(AudioVAEConfig.from_dict(shapes.audio_vae))
    features = audio_vae.config.latent_features
    audio_vae.per_channel_statistics.mean_of_means = mx.random.normal((features,)) * 0.1
    audio_vae.per_channel_statistics.std_of_means = mx.random.uniform(0.5, 1.5, (features,))
    vocoder = VocoderWithBWE(vocoder_config_from_dict(shapes.vocoder))
    _audio_bases(vocoder)
    checkpoint = {
        **official_transformer(transformer),
        **official_text_path(processor),
        **official_video_vae(vae),
        **official_audio_vae(audio_vae),
        **official_vocoder(vocoder),
    }
    configs = {
        "transformer": shapes.transformer,
        "vae": vae_config.to_dict(),
        "audio_vae": shapes.audio_vae,
        "vocoder": shapes.vocoder,
    }
    _save(folder / CHECKPOINT, checkpoint, configs)

    upsamplers = {}
    for kind, config in TINY_UPSAMPLERS.items():
        path = folder / f"tiny-ltx2-{kind}-upscaler-x2.safetensors"
        _save(path, official_upsampler(LatentUpsampler(config)), config.to_dict())
        upsamplers[kind] = path
    (folder / "README.txt").write_text(
        f"{TINY_LTX2_LABEL}\n\nMade by `ltx-mlx models make-tiny --family ltx2` for offline trials and tests. "
        "Every weight is\nrandom, so generated videos are coloured noise with a noise sound track. "
        "Delete this folder to remove it.\n"
    )
    files = ModelFiles(
        model_id=TINY_LTX2_ID,
        checkpoint=folder / CHECKPOINT,
        text_encoder_dir=gemma_dir,
        tokenizer_dir=gemma_dir,
        upsampler=upsamplers["spatial"],
        temporal_upsampler=upsamplers["temporal"],
        label=TINY_LTX2_LABEL,
        is_test_model=True,
        family=LTX2,
        version="2.3",
        variant="distilled",
    )
    (folder / MANIFEST).write_text(json.dumps(files.to_manifest(folder), indent=2))
    return files


def make_tiny_ltx2_model(dest_dir: Path, overwrite: bool = False) -> Path:
    """Create the tiny LTX-2 model in `dest_dir` (atomically: built in a temporary folder, then renamed)."""
    dest = Path(dest_dir)
    if (dest / MANIFEST).is_file() and not overwrite:
        logger.info("tiny LTX-2 model already at %s", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-ltx2-", dir=dest.parent))
    try:
        write_tiny_ltx2_model(staging)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.info("tiny LTX-2 test model written to %s", dest)
    return dest
