"""A diffusers LTX-2 pipeline folder (as diffusers 0.42 saves one) resolves and loads component by component.

The folder is written by the reference classes' `save_pretrained`; ours reads it through
`resolve_model` and the ModelComponents interface, translating the transformer's and the video
VAE's diffusers configs. The transformer and VAE come out equal, parameter for parameter, to the
official layout's (itself proven against ltx-core); the vocoder and upsampler match diffusers' outputs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLLTX2Audio, LTX2VideoTransformer3DModel
from diffusers.pipelines.ltx2.connectors import LTX2TextConnectors
from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel
from mlx.utils import tree_flatten

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.keys import load_transformer
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.pipeline.memory_estimate import estimate_memory
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.components import components_of
from ltx_mlx_core.weights.layout_ltx2_diffusers import official_video_vae_config
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.tiny_tokenizer import write_tiny_gemma_tokenizer
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_text_reference import randomize_ as randomize_text_
from tests.parity.ltx2_transformer_helpers import (
    TINY_LTX25,
    diffusers_config,
    diffusers_to_official,
    official_weights,
    randomize,
)
from tests.parity.ltx2_vae_reference import (
    TINY_VAES,
    channels_first,
    channels_last,
    diffusers_video_vae,
    mlx_vae_from_diffusers,
)
from tests.parity.test_gemma_parity import gemma3_reference
from tests.parity.test_ltx2_audio_parity import _diffusers_vocoder
from tests.parity.test_ltx2_prompt_parity import LTX25_CONNECTORS
from tests.parity.vae_helpers import randomize_

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("ltx2-diffusers") / "LTX-2.5-Diffusers-tiny"
    transformer = LTX2VideoTransformer3DModel(**diffusers_config(TINY_LTX25)).eval()
    randomize(transformer, seed=3)
    vae = diffusers_video_vae("ltx23", seed=4)
    torch.manual_seed(5)
    audio_vae = AutoencoderKLLTX2Audio(base_channels=16, latent_channels=4, mel_bins=16, attn_resolutions=None)
    randomize_(audio_vae, 5)
    vocoder = _diffusers_vocoder(True, seed=6)
    connectors = randomize_text_(LTX2TextConnectors(**LTX25_CONNECTORS), 7, 0.05)
    torch.manual_seed(8)
    upsampler = LTX2LatentUpsamplerModel(in_channels=8, mid_channels=32, num_blocks_per_stage=1)
    randomize_(upsampler, 8)
    parts = {
        "transformer": transformer,
        "vae": vae,
        "audio_vae": audio_vae,
        "vocoder": vocoder,
        "connectors": connectors,
        "latent_upsampler": upsampler,
        "text_encoder": gemma3_reference(seed=9, hidden_size=64, num_hidden_layers=3),
    }
    for name, module in parts.items():
        module.save_pretrained(root / name)
    write_tiny_gemma_tokenizer(root / "tokenizer")
    (root / "model_index.json").write_text(json.dumps({"_class_name": "LTX2Pipeline", "_diffusers_version": "0.42.0"}))
    return root, parts


def test_the_folder_resolves_as_an_ltx2_model(folder):
    root, _ = folder
    files = resolve_model(str(root))
    assert (files.family, files.checkpoint, files.upsampler) == ("ltx2", root, root / "latent_upsampler")


def test_transformer_equals_the_official_layouts(folder):
    root, parts = folder
    ours = components_of(resolve_model(str(root))).load_transformer(mx.float32, None, ResidencyMode.RESIDENT)
    assert ours.config == LTX2Config.from_dict(TINY_LTX25)
    official = load_transformer(
        official_weights(diffusers_to_official(parts["transformer"].state_dict())), LTX2Config.from_dict(TINY_LTX25)
    )
    a, b = dict(tree_flatten(ours.parameters())), dict(tree_flatten(official.parameters()))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(np.array(a[name]), np.array(b[name]), err_msg=name)


def test_video_vae_config_and_weights_equal_the_official_layouts(folder):
    root, parts = folder
    ours = components_of(resolve_model(str(root))).load_vae(mx.float32)
    assert _canonical(ours.config) == _canonical(VideoVAEConfig.from_dict(TINY_VAES["ltx23"]))
    reference = mlx_vae_from_diffusers(parts["vae"], "ltx23")
    a, b = dict(tree_flatten(ours.parameters())), dict(tree_flatten(reference.parameters()))
    assert a.keys() == b.keys() and all(mx.array_equal(a[k], b[k]).item() for k in a)


def _canonical(config: VideoVAEConfig) -> VideoVAEConfig:
    """Block flags that are off dropped: `{"residual": False}` and no flag build the same block."""

    def blocks(specs):
        return [(name, {k: v for k, v in params.items() if v is not False}) for name, params in specs]

    return dataclasses.replace(
        config, encoder_blocks=blocks(config.encoder_blocks), decoder_blocks=blocks(config.decoder_blocks)
    )


def test_audio_decoders_and_upsampler_match_diffusers(folder):
    root, parts = folder
    components = components_of(resolve_model(str(root)))
    audio_vae = components.load_audio_vae(mx.float32)
    assert (audio_vae.config.ch, audio_vae.config.z_channels, audio_vae.config.mel_bins) == (16, 4, 16)
    mel = torch.randn(1, 2, 11, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = parts["vocoder"](mel)
    assert relative_max_error(components.load_vocoder(mx.float32)(mx.array(mel.numpy())), expected) <= TOLERANCE
    latents = torch.randn(1, 8, 2, 4, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = parts["latent_upsampler"](latents)
    upsampled = components.load_upsampler(mx.float32)(channels_last(latents))
    assert relative_max_error(channels_first(upsampled), expected) <= TOLERANCE


def test_text_path_loads_and_the_plan_reads_the_folder(folder):
    root, _ = folder
    files = resolve_model(str(root))
    components = components_of(files)
    tokenizer, gemma = components.load_text_encoder(mx.float32, None)
    processor = components.load_embeddings_processor(mx.float32)
    assert gemma.num_hidden_states == 4 and processor.has_audio and len(tokenizer) > 4
    estimate = estimate_memory(
        GenerationRequest(prompt="x", model=str(root), width=256, height=256, num_frames=17), files
    )
    assert estimate.transformer > 0 and estimate.text_encoder > 0 and estimate.vae > 0


@pytest.mark.parametrize("generation", ["ltx2", "ltx23"])
def test_both_vae_generations_translate_from_their_diffusers_configs(generation):
    reference = diffusers_video_vae(generation, seed=1)
    translated = VideoVAEConfig.from_dict(official_video_vae_config(dict(reference.config)))
    assert _canonical(translated) == _canonical(VideoVAEConfig.from_dict(TINY_VAES[generation]))
