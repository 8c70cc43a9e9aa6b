"""The same tiny model in every source layout loads into numerically identical MLX modules.

The diffusers folder is produced the way diffusers itself would: the official
checkpoint is renamed by diffusers' own single-file converters, loaded strictly
into diffusers' model classes (so the config we give them must fit the weights),
and written with `save_pretrained`. Our loader must undo both renames and configs.
"""

from __future__ import annotations

import json
import shutil

import mlx.core as mx
import numpy as np
import pytest
import torch
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.weights import loader
from ltx_mlx_core.weights.registry import ModelFiles, resolve_model
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.tiny import TINY_VAE, ModelShapes, write_tiny_model
from tests.core.test_weights_loading import step_inputs

# The 0.9.8 VAE's block pattern (space, time, all, all; residual depth-to-space decoder) at toy widths.
VAE_098_PATTERN = dict(
    TINY_VAE,
    encoder_blocks=[
        ["res_x", {"num_layers": 1}],
        ["compress_space_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
        ["compress_time_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 1}],
    ],
    decoder_blocks=[
        ["res_x", {"num_layers": 1, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 2, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 1, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 1, "inject_noise": False}],
    ],
    encoder_base_channels=4,
    decoder_base_channels=4,
)
DIFFUSERS_VAE = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=128,
    block_out_channels=(4, 8, 16, 32, 64),
    down_block_types=("LTXVideo095DownBlock3D",) * 4,
    decoder_block_out_channels=(8, 16, 32),
    layers_per_block=(1, 2, 1, 1, 1),
    decoder_layers_per_block=(1, 2, 1, 1),
    spatio_temporal_scaling=(True,) * 4,
    decoder_spatio_temporal_scaling=(True,) * 3,
    decoder_inject_noise=(False,) * 4,
    downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
    upsample_residual=(True,) * 3,
    upsample_factor=(2,) * 3,
    timestep_conditioning=True,
    patch_size=4,
    patch_size_t=1,
    encoder_causal=True,
    decoder_causal=False,
)
TRANSFORMER = TransformerConfig(
    num_attention_heads=2, attention_head_dim=16, num_layers=2, cross_attention_dim=32, caption_channels=32
)


def _torch_state(arrays: dict[str, mx.array]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.array(v.astype(mx.float32))) for k, v in arrays.items()}


def write_diffusers_folder(official: ModelFiles, root):
    from diffusers import AutoencoderKLLTXVideo, LTXVideoTransformer3DModel
    from diffusers.loaders.single_file_utils import (
        convert_ltx_transformer_checkpoint_to_diffusers,
        convert_ltx_vae_checkpoint_to_diffusers,
    )

    checkpoint = _torch_state(mx.load(str(official.checkpoint)))
    vae_state = {k: v for k, v in checkpoint.items() if k.startswith("vae.")}
    # diffusers picks its 0.9.5+ block renames by the real model's 2048-wide encoder output;
    # show it that width for the choice, then put the tiny tensor back.
    real_conv_out = vae_state["vae.encoder.conv_out.conv.weight"]
    vae_state["vae.encoder.conv_out.conv.weight"] = torch.zeros(1, 2048, 1, 1, 1)
    vae_state = convert_ltx_vae_checkpoint_to_diffusers(vae_state)
    vae_state["encoder.conv_out.conv.weight"] = real_conv_out
    vae = AutoencoderKLLTXVideo(**DIFFUSERS_VAE)
    vae.load_state_dict(vae_state, strict=True)
    vae.save_pretrained(root / "vae")

    transformer_state = convert_ltx_transformer_checkpoint_to_diffusers(
        {k: v for k, v in checkpoint.items() if k.startswith("model.diffusion_model.")}
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=128,
        out_channels=128,
        num_attention_heads=TRANSFORMER.num_attention_heads,
        attention_head_dim=TRANSFORMER.attention_head_dim,
        cross_attention_dim=TRANSFORMER.cross_attention_dim,
        num_layers=TRANSFORMER.num_layers,
        caption_channels=TRANSFORMER.caption_channels,
    )
    transformer.load_state_dict(transformer_state, strict=True)
    # Shards with an index, as the hub's large diffusers checkpoints come.
    transformer.save_pretrained(root / "transformer", max_shard_size="100KB")
    shutil.copytree(official.text_encoder_dir, root / "text_encoder")
    shutil.copytree(official.tokenizer_dir, root / "tokenizer")
    (root / "model_index.json").write_text(json.dumps({"_class_name": "LTXConditionPipeline"}))


@pytest.fixture(scope="module")
def both_layouts(tmp_path_factory):
    official_dir = tmp_path_factory.mktemp("official")
    official = write_tiny_model(official_dir, shapes=ModelShapes(transformer=TRANSFORMER, vae=VAE_098_PATTERN))
    root = tmp_path_factory.mktemp("diffusers")
    write_diffusers_folder(official, root)
    return official, resolve_model(str(root))


def assert_same_parameters(a, b):
    pa, pb = dict(tree_flatten(a.parameters())), dict(tree_flatten(b.parameters()))
    assert sorted(pa) == sorted(pb)
    for name in pa:
        np.testing.assert_array_equal(np.array(pa[name]), np.array(pb[name]), err_msg=name)


def test_diffusers_folder_resolves_with_its_own_components(both_layouts):
    _, diffusers = both_layouts
    assert loader.layout_of(diffusers) == "diffusers"
    assert diffusers.text_encoder_dir.name == "text_encoder" and diffusers.upsampler is None
    assert len(list((diffusers.checkpoint / "transformer").glob("*.safetensors"))) > 1  # really sharded


def test_diffusers_transformer_equals_the_official_one(both_layouts):
    official, diffusers = both_layouts
    assert_same_parameters(
        loader.load_transformer(official, mx.float32), loader.load_transformer(diffusers, mx.float32)
    )


def test_diffusers_vae_equals_the_official_one(both_layouts):
    official, diffusers = both_layouts
    ours, theirs = loader.load_vae(official, mx.float32), loader.load_vae(diffusers, mx.float32)
    assert ours.config == theirs.config
    assert_same_parameters(ours, theirs)


def test_diffusers_text_encoder_equals_the_official_one(both_layouts):
    official, diffusers = both_layouts
    _, a = loader.load_text_encoder(official, mx.float32)
    _, b = loader.load_text_encoder(diffusers, mx.float32)
    assert_same_parameters(a, b)


def test_streamed_blocks_work_from_a_diffusers_folder(both_layouts):
    _, diffusers = both_layouts
    resident = loader.load_transformer(diffusers, mx.float32)
    streamed = loader.load_transformer(diffusers, mx.float32, residency=ResidencyMode.STREAM_BLOCKS)
    np.testing.assert_allclose(
        np.array(streamed(*step_inputs(streamed))), np.array(resident(*step_inputs(resident))), atol=1e-6
    )


def test_a_folder_without_model_index_is_refused_by_name(tmp_path, both_layouts):
    official, _ = both_layouts
    files = ModelFiles(**{**official.__dict__, "checkpoint": tmp_path})
    with pytest.raises(CheckpointError, match=f"'{tmp_path}' is a folder but not a diffusers pipeline"):
        loader.load_transformer(files)


def test_an_old_diffusers_vae_is_refused_with_the_reason(tmp_path, both_layouts):
    _, diffusers = both_layouts
    root = tmp_path / "old"
    shutil.copytree(diffusers.checkpoint, root)
    config = json.loads((root / "vae" / "config.json").read_text())
    config["down_block_types"] = ["LTXVideoDownBlock3D"] * 4
    (root / "vae" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="only the 0.9.5\\+ family"):
        loader.load_vae(resolve_model(str(root)))
