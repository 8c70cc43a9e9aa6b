"""The LTX-2 transformer's config reader, key map, loader and perturbation bookkeeping (no reference needed)."""

from __future__ import annotations

import dataclasses
import json

import mlx.core as mx
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.config import LTX23_22B, LTX25_22B, LTX2Config
from ltx_mlx_core.models.ltx2.keys import OFFICIAL_PREFIX, load_transformer, sanitize
from ltx_mlx_core.models.ltx2.perturbations import ISOLATE_MODALITIES, Perturbations, Skip, stg
from ltx_mlx_core.models.ltx2.positions import audio_positions, video_positions
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer, ModalityInput

TINY = dict(
    num_attention_heads=2,
    attention_head_dim=8,
    in_channels=4,
    out_channels=4,
    num_layers=2,
    cross_attention_dim=16,
    caption_channels=6,
    audio_num_attention_heads=2,
    audio_attention_head_dim=4,
    audio_in_channels=3,
    audio_out_channels=3,
    audio_cross_attention_dim=8,
    rope_type="split",
    frequencies_precision="float64",
)


def _official(config: LTX2Config) -> dict[str, mx.array]:
    """Our model's parameters under the official names (the inverse renames)."""
    official = {}
    for name, value in tree_flatten(LTX2Transformer(config).parameters()):
        name = name.replace(".to_out.", ".to_out.0.").replace("ff.proj_in.", "ff.net.0.proj.")
        name = name.replace("ff.proj_out.", "ff.net.2.").replace(".embedder.", ".emb.timestep_embedder.")
        official[OFFICIAL_PREFIX + name] = value
    return official


def test_config_reads_the_transformer_section_and_ignores_unknown_keys() -> None:
    config = LTX2Config.from_dict(
        {"transformer": {**TINY, "connector_num_layers": 8, "_class_name": "AVTransformer3DModel"}}
    )
    assert (config.inner_dim, config.audio_inner_dim, config.adaln_coefficient) == (16, 8, 6)
    assert config.double_precision_rope and config.has_caption_projection
    metadata = {"config": json.dumps({"transformer": {**TINY, "cross_attention_adaln": True}, "vae": {}})}
    assert LTX2Config.from_checkpoint_metadata(metadata).adaln_coefficient == 9


def test_config_without_frequency_precision_uses_float32() -> None:
    assert not LTX2Config.from_dict({**TINY, "frequencies_precision": None}).double_precision_rope


@pytest.mark.parametrize(
    "change",
    [{"qk_norm": "layer_norm"}, {"rope_type": "complex"}, {"share_ff": True}, {"cross_attention_dim": 12}],
)
def test_config_rejects_variants_it_does_not_compute(change: dict) -> None:
    with pytest.raises(CheckpointError, match="not supported"):
        LTX2Config.from_dict({**TINY, **change})


def test_presets_differ_by_the_version_switches() -> None:
    assert LTX23_22B.apply_gated_attention and LTX23_22B.cross_attention_adaln and not LTX23_22B.has_caption_projection
    assert dataclasses.replace(LTX25_22B, ff_bias=True, use_keyframes_abs_pos_embedding=False) == LTX23_22B


def test_key_map_keeps_the_transformer_and_skips_other_components() -> None:
    config = LTX2Config.from_dict(TINY)
    official = _official(config)
    others = {
        "vae.decoder.conv_in.conv.weight": mx.zeros((1,)),
        "audio_vae.decoder.conv_in.weight": mx.zeros((1,)),
        "vocoder.conv_pre.weight": mx.zeros((1,)),
        OFFICIAL_PREFIX + "video_embeddings_connector.learnable_registers": mx.zeros((1,)),
    }
    ours = sanitize({**official, **others})
    assert set(ours) == {name for name, _ in tree_flatten(LTX2Transformer(config).parameters())}
    assert "transformer_blocks.0.attn1.to_out.weight" in ours
    assert "av_ca_a2v_gate_adaln_single.embedder.linear_1.weight" in ours


def test_key_map_fails_loudly_on_an_unknown_transformer_key() -> None:
    weights = {OFFICIAL_PREFIX + "transformer_blocks.0.attn3.to_q.weight": mx.zeros((2, 2))}
    with pytest.raises(CheckpointError, match="attn3"):
        sanitize(weights)


def test_loader_fails_when_the_tensors_do_not_fit_the_config() -> None:
    with_biases = LTX2Config.from_dict({**TINY, "caption_proj_before_connector": True})
    without = dataclasses.replace(with_biases, ff_bias=False)
    with pytest.raises(CheckpointError, match="does not match"):
        load_transformer(_official(with_biases), without)
    load_transformer(_official(without), without)


def test_perturbations_give_masks_per_entry() -> None:
    mixed = Perturbations(((), stg([1], audio=False), ISOLATE_MODALITIES))
    assert mixed.keep_mask(Skip.VIDEO_SELF_ATTENTION, 0, mx.float32) is None
    assert mixed.keep_mask(Skip.VIDEO_SELF_ATTENTION, 1, mx.float32).reshape(-1).tolist() == [1.0, 0.0, 1.0]
    assert mixed.keep_mask(Skip.AUDIO_SELF_ATTENTION, 1, mx.float32) is None
    assert mixed.keep_mask(Skip.AUDIO_TO_VIDEO, 5, mx.float32).reshape(-1).tolist() == [1.0, 1.0, 0.0]
    assert not mixed.all_skipped(Skip.VIDEO_TO_AUDIO, 0)
    assert Perturbations.uniform(3, ISOLATE_MODALITIES).all_skipped(Skip.VIDEO_TO_AUDIO, 7)
    with pytest.raises(ValueError, match="batch"):
        mixed.check_batch(2)


def _video_input(config: LTX2Config) -> ModalityInput:
    return ModalityInput(
        latent=mx.random.normal((1, 8, config.in_channels)),
        sigma=mx.array([0.5]),
        timesteps=mx.array([0.5]),
        positions=video_positions(1, 2, 2, 2, fps=24.0),
        context=mx.random.normal((1, 3, config.caption_channels)),
    )


def test_video_only_model_has_no_audio_and_refuses_audio() -> None:
    config = LTX2Config.from_dict(TINY, video_only=True)
    model = LTX2Transformer(config)
    assert not any("audio" in name or "av_ca" in name for name, _ in tree_flatten(model.parameters()))
    video, audio = model(_video_input(config))
    assert video.shape == (1, 8, 4) and audio is None
    audio_input = ModalityInput(
        latent=mx.zeros((1, 5, 3)), sigma=mx.array([0.5]), timesteps=mx.array([0.5]),
        positions=audio_positions(1, 5), context=mx.zeros((1, 3, 6)),
    )  # fmt: skip
    with pytest.raises(ValueError, match="video-only"):
        model(_video_input(config), audio_input)
