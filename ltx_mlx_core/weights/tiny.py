"""`ltx-mlx models make-tiny`: a tiny random-weight LTX-Video model for offline trials and tests.

It has every component and file layout of a real model (official single-file
checkpoint with embedded configs, separate latent upsampler, Hugging Face T5
folder and tokenizer, pipeline YAML) at toy widths, so the whole pipeline runs
in seconds on a CPU. Its weights are random: its output is noise.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltxv.t5 import T5Config, T5Encoder
from ltx_mlx_core.models.ltxv.t5_keys import to_hf_t5
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import to_official_transformer
from ltx_mlx_core.models.ltxv.upsampler import LatentUpsampler, UpsamplerConfig
from ltx_mlx_core.models.ltxv.upsampler_keys import to_official_upsampler
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder
from ltx_mlx_core.models.ltxv.vae.config import LTXV_098_VAE_CONFIG, VAEConfig
from ltx_mlx_core.models.ltxv.vae_keys import to_official_vae
from ltx_mlx_core.paths import configs_dir
from ltx_mlx_core.weights.registry import (
    CHECKSUMS,
    MANIFEST,
    TINY_ID,
    TINY_LABEL,
    ModelFiles,
    checksum_problems,
    checksums,
    tiny_model_dir,
)
from ltx_mlx_core.weights.tiny_tokenizer import tiny_vocabulary, write_tiny_t5_tokenizer

logger = logging.getLogger(__name__)

TEXT_WIDTH = 32
TINY_T5 = T5Config(vocab_size=len(tiny_vocabulary()), d_model=TEXT_WIDTH, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
TINY_TRANSFORMER = TransformerConfig(
    num_attention_heads=2,
    attention_head_dim=16,
    num_layers=2,
    cross_attention_dim=32,
    caption_channels=TEXT_WIDTH,
)
# The 0.9.8 VAE's block structure (32x spatial, 8x temporal, 128 latent channels) at toy widths.
TINY_VAE = dict(
    LTXV_098_VAE_CONFIG,
    encoder_blocks=[
        ["res_x", {"num_layers": 1}],
        ["compress_space_res", {"multiplier": 2}],
        ["compress_time_res", {"multiplier": 2}],
        ["compress_all_res", {"multiplier": 2}],
        ["compress_all_res", {"multiplier": 2}],
    ],
    decoder_blocks=[
        ["res_x", {"num_layers": 1, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["compress_all", {"residual": True, "multiplier": 2}],
    ],
    encoder_base_channels=4,
    decoder_base_channels=4,
)
TINY_UPSAMPLER = UpsamplerConfig(in_channels=128, mid_channels=32, num_blocks_per_stage=1, dims=3)


def _params(module: nn.Module) -> dict[str, mx.array]:
    return dict(tree_flatten(module.parameters()))


def _save(path: Path, tensors: dict[str, mx.array], config: dict | None = None) -> None:
    metadata = {"config": json.dumps(config)} if config is not None else {}
    mx.eval(list(tensors.values()))
    mx.save_safetensors(str(path), tensors, metadata=metadata)


@dataclass(frozen=True)
class ModelShapes:
    """Component shapes of a generated test model (the tiny model's by default)."""

    transformer: TransformerConfig = field(default_factory=lambda: TINY_TRANSFORMER)
    t5: T5Config = field(default_factory=lambda: TINY_T5)
    vae: dict = field(default_factory=lambda: dict(TINY_VAE))
    upsampler: UpsamplerConfig = field(default_factory=lambda: TINY_UPSAMPLER)


def write_tiny_model(folder: Path, seed: int = 0, shapes: ModelShapes | None = None) -> ModelFiles:
    """Write every file of a random-weight model into `folder` (which must exist)."""
    shapes = shapes or ModelShapes()
    mx.random.seed(seed)
    transformer = LTXVideoTransformer(shapes.transformer)
    vae_config = VAEConfig.from_dict(shapes.vae)
    vae = CausalVideoAutoencoder(vae_config)
    # Statistics that are not the identity, so normalisation is exercised.
    vae.mean_of_means = mx.random.normal((128,)) * 0.1
    vae.std_of_means = mx.random.uniform(0.5, 1.5, (128,))
    checkpoint = {f"model.diffusion_model.{k}": v for k, v in to_official_transformer(_params(transformer)).items()}
    checkpoint.update({f"vae.{k}": v for k, v in to_official_vae(_params(vae)).items()})
    configs = {"transformer": shapes.transformer.to_dict(), "vae": vae_config.to_dict()}
    _save(folder / "tiny.safetensors", checkpoint, configs)

    upsampler = LatentUpsampler(shapes.upsampler)
    upsampler_weights = to_official_upsampler(_params(upsampler))
    _save(folder / "tiny-spatial-upscaler.safetensors", upsampler_weights, shapes.upsampler.to_dict())

    text_dir = folder / "text_encoder"
    text_dir.mkdir()
    encoder = T5Encoder(shapes.t5)
    encoder.relative_attention_bias.weight = mx.random.normal(encoder.relative_attention_bias.weight.shape) * 0.1
    _save(text_dir / "model.safetensors", to_hf_t5(_params(encoder)))
    hf_config = {
        **shapes.t5.__dict__,
        "architectures": ["T5EncoderModel"],
        "model_type": "t5",
        "is_encoder_decoder": True,
    }
    (text_dir / "config.json").write_text(json.dumps(hf_config, indent=2))
    write_tiny_t5_tokenizer(folder / "tokenizer")

    shutil.copyfile(configs_dir() / "tiny.yaml", folder / "tiny.yaml")
    (folder / "README.txt").write_text(
        f"{TINY_LABEL}\n\nMade by `ltx-mlx models make-tiny` for offline trials and tests. Every weight is random,\n"
        "so generated videos are coloured noise. Delete this folder to remove it.\n"
    )
    files = ModelFiles(
        model_id=TINY_ID,
        checkpoint=folder / "tiny.safetensors",
        text_encoder_dir=text_dir,
        tokenizer_dir=folder / "tokenizer",
        upsampler=folder / "tiny-spatial-upscaler.safetensors",
        config="tiny.yaml",
        label=TINY_LABEL,
        is_test_model=True,
    )
    manifest = {**files.to_manifest(folder), CHECKSUMS: checksums(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return files


def tiny_model_problems(folder: Path) -> list[str] | None:
    """None when no model was made in `folder`; else what is wrong with it ([] = every file as made)."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return [f"{MANIFEST} is unreadable"]
    if not isinstance(data, dict) or not isinstance(data.get(CHECKSUMS), dict):
        return [f"{MANIFEST} holds no checksums to check its files by"]
    return checksum_problems(folder, data[CHECKSUMS])


def make_tiny_model(dest_dir: Path | None = None, overwrite: bool = False) -> Path:
    """Create the tiny model (atomically: built in a temporary folder, then renamed into place)."""
    dest = Path(dest_dir) if dest_dir is not None else tiny_model_dir()
    problems = tiny_model_problems(dest)
    if problems == [] and not overwrite:
        logger.info("tiny model already at %s", dest)
        return dest
    if problems:
        logger.info("the tiny model at %s is not intact (%s); writing it again", dest, "; ".join(problems))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tiny-", dir=dest.parent))
    except OSError as error:
        raise InvalidRequest(
            f"the tiny model cannot be written in '{dest.parent}': {error.strerror or error}."
        ) from None
    try:
        write_tiny_model(staging)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.info("tiny test model written to %s", dest)
    return dest
