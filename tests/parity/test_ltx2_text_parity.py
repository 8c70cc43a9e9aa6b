"""The LTX-2 text feature extractors, embeddings connectors and processor against ltx-core (and diffusers).

Tiny random weights, float32 on the CPU; error = max|ours - ref| / max|ref|. Measured: V1 5.8e-7,
V2 4.7e-7; connectors 4.8e-7..8.2e-7 (float64 and float32 frequency grids, interleaved and split
RoPE, gated or not); diffusers' connector on a batch 7.4e-7; the processor from an official
checkpoint 6.1e-7 (V1, LTX-2) and 9.6e-7 (V2, LTX-2.3). Bound 1e-4 throughout.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from diffusers.pipelines.ltx2.connectors import LTX2ConnectorTransformer1d

from ltx_mlx_core.models.ltx2.connectors import (
    ConnectorConfig,
    EmbeddingsConnector,
    sanitize_diffusers_connector,
    sanitize_official_connector,
)
from ltx_mlx_core.models.ltx2.embeddings_processor import (
    EmbeddingsProcessor,
    has_audio_connector,
    sanitize_official,
)
from ltx_mlx_core.models.ltx2.feature_extractor import FeatureExtractorV1 as OursV1
from ltx_mlx_core.models.ltx2.feature_extractor import FeatureExtractorV2 as OursV2
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_text_reference import (
    AudioEmbeddings1DConnectorConfigurator,
    Embeddings1DConnector,
    Embeddings1DConnectorConfigurator,
    FeatureExtractorV1,
    FeatureExtractorV2,
    LTXRopeType,
    convert_to_additive_mask,
    randomize_,
)
from tests.parity.ltx2_text_reference import EmbeddingsProcessor as ReferenceProcessor

TOLERANCE = 1e-4
WIDTH, STATES = 64, 4  # Gemma hidden size and hidden-state count of the tiny extractors


def to_mlx_weights(module: torch.nn.Module) -> dict[str, mx.array]:
    return {key: mx.array(value.float().numpy()) for key, value in module.state_dict().items()}


def hidden_states(batch: int, length: int, seed: int = 0) -> list[torch.Tensor]:
    """Per-layer states of different scales and offsets, as a real Gemma's grow with depth."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, length, WIDTH, generator=generator) * (1 + 3 * layer) + layer for layer in range(STATES)]


def left_padded_mask(lengths: list[int], length: int) -> torch.Tensor:
    mask = torch.zeros(len(lengths), length, dtype=torch.long)
    for row, count in enumerate(lengths):
        mask[row, length - count :] = 1
    return mask


def as_mlx(states: list[torch.Tensor]) -> list[mx.array]:
    return [mx.array(state.numpy()) for state in states]


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_feature_extractor_v1_matches_ltx_core(padding_side):
    reference = randomize_(FeatureExtractorV1(torch.nn.Linear(WIDTH * STATES, WIDTH, bias=False), is_av=True), 1, 0.05)
    ours = OursV1(WIDTH * STATES, WIDTH)
    ours.load_weights(list(to_mlx_weights(reference).items()), strict=True)
    states, mask = hidden_states(2, 12), left_padded_mask([9, 4], 12)
    if padding_side == "right":
        mask = mask.flip(1)
    with torch.no_grad():
        expected, expected_audio = reference(states, mask, padding_side)
    got, got_audio = ours(as_mlx(states), mx.array(mask.numpy()), padding_side)
    assert got_audio is got and expected_audio is expected
    assert relative_max_error(got, expected) <= TOLERANCE


@pytest.mark.parametrize("with_audio", [True, False])
def test_feature_extractor_v2_matches_ltx_core(with_audio):
    audio = torch.nn.Linear(WIDTH * STATES, 32, bias=True) if with_audio else None
    reference = randomize_(FeatureExtractorV2(torch.nn.Linear(WIDTH * STATES, 96, bias=True), WIDTH, audio), 2, 0.05)
    ours = OursV2(WIDTH, WIDTH * STATES, 96, 32 if with_audio else None)
    ours.load_weights(list(to_mlx_weights(reference).items()), strict=True)
    states, mask = hidden_states(2, 12), left_padded_mask([9, 4], 12)
    with torch.no_grad():
        expected_video, expected_audio = reference(states, mask)
    got_video, got_audio = ours(as_mlx(states), mx.array(mask.numpy()))
    assert relative_max_error(got_video, expected_video) <= TOLERANCE
    if with_audio:
        assert relative_max_error(got_audio, expected_audio) <= TOLERANCE
    else:
        assert got_audio is None and expected_audio is None


CONNECTOR_VARIANTS = {
    # LTX-2: 2 plain blocks, interleaved RoPE; LTX-2.3/2.5: 8 gated blocks, split RoPE; both float64 grids.
    "ltx2": dict(num_layers=2, rope_type="interleaved", double_precision_rope=True, gated_attention=False, max_pos=64),
    "ltx23": dict(num_layers=8, rope_type="split", double_precision_rope=True, gated_attention=True, max_pos=64),
    # The float32 grid, and the default max_pos of 1 that turns positions into angles of up to ~5e5 rad.
    "float32_grid": dict(num_layers=2, rope_type="interleaved", double_precision_rope=False, max_pos=64),
    "float32_grid_max_pos_1": dict(num_layers=2, rope_type="split", double_precision_rope=False, max_pos=1),
}


@pytest.mark.parametrize("variant", list(CONNECTOR_VARIANTS))
def test_connector_matches_ltx_core_per_prompt(variant):
    config = ConnectorConfig(num_heads=4, head_dim=16, num_registers=8, **CONNECTOR_VARIANTS[variant])
    reference = randomize_(
        Embeddings1DConnector(
            attention_head_dim=16,
            num_attention_heads=4,
            num_layers=config.num_layers,
            positional_embedding_max_pos=[config.max_pos],
            num_learnable_registers=8,
            rope_type=LTXRopeType(config.rope_type),
            double_precision_rope=config.double_precision_rope,
            apply_gated_attention=config.gated_attention,
        ),
        3,
    )
    ours = EmbeddingsConnector(config)
    ours.load_weights(list(sanitize_official_connector(to_mlx_weights(reference)).items()), strict=True)
    features = torch.randn(2, 16, 64, generator=torch.Generator().manual_seed(4))
    mask = left_padded_mask([10, 3], 16)
    got = ours(mx.array(features.numpy()), mx.array(mask.numpy()))
    # ltx-core's register replacement handles one prompt at a time; ours takes the batch.
    for row in range(2):
        with torch.no_grad():
            expected, _ = reference(
                features[row : row + 1], convert_to_additive_mask(mask[row : row + 1], torch.float32)
            )
        assert relative_max_error(got[row : row + 1], expected) <= TOLERANCE, row


def test_connector_matches_diffusers_on_a_batch():
    reference = randomize_(
        LTX2ConnectorTransformer1d(
            num_attention_heads=4,
            attention_head_dim=16,
            num_layers=3,
            num_learnable_registers=8,
            rope_base_seq_len=64,
            rope_type="split",
            gated_attention=True,
        ),
        5,
    )
    config = ConnectorConfig(
        num_heads=4,
        head_dim=16,
        num_layers=3,
        num_registers=8,
        max_pos=64,
        rope_type="split",
        double_precision_rope=True,
        gated_attention=True,
    )
    ours = EmbeddingsConnector(config)
    ours.load_weights(list(sanitize_diffusers_connector(to_mlx_weights(reference)).items()), strict=True)
    features = torch.randn(2, 16, 64, generator=torch.Generator().manual_seed(6))
    mask = left_padded_mask([10, 3], 16)
    with torch.no_grad():
        expected, _ = reference(features, convert_to_additive_mask(mask, torch.float32))
    assert relative_max_error(ours(mx.array(features.numpy()), mx.array(mask.numpy())), expected) <= TOLERANCE


LTX2_TRANSFORMER = {  # the text-path keys of an LTX-2 checkpoint's transformer config, shrunk
    "connector_num_attention_heads": 4,
    "connector_attention_head_dim": 16,
    "connector_num_layers": 2,
    "connector_positional_embedding_max_pos": [512],
    "rope_type": "interleaved",
    "frequencies_precision": "float64",
}
LTX23_TRANSFORMER = {
    **LTX2_TRANSFORMER,
    "connector_num_attention_heads": 6,
    "connector_num_layers": 8,
    "rope_type": "split",
    "connector_apply_gated_attention": True,
    "num_attention_heads": 6,
    "attention_head_dim": 16,
    "audio_num_attention_heads": 2,
    "audio_attention_head_dim": 16,
    "audio_connector_num_attention_heads": 2,
    "audio_connector_attention_head_dim": 16,
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}


def reference_processor(transformer: dict, v2: bool) -> ReferenceProcessor:
    """ltx-core's processor with its own connector configurators; the extractor shrunk by hand
    (ltx-core's factory hard-codes Gemma 3 12B's 3840 x 49 input)."""
    if v2:
        extractor = FeatureExtractorV2(torch.nn.Linear(WIDTH * STATES, 96), WIDTH, torch.nn.Linear(WIDTH * STATES, 32))
    else:
        extractor = FeatureExtractorV1(torch.nn.Linear(WIDTH * STATES, WIDTH, bias=False), is_av=True)
    return randomize_(
        ReferenceProcessor(
            feature_extractor=extractor,
            video_connector=Embeddings1DConnectorConfigurator.from_config({"transformer": transformer}),
            audio_connector=AudioEmbeddings1DConnectorConfigurator.from_config({"transformer": transformer}),
        ),
        7,
        0.05,
    )


def official_checkpoint_tensors(reference: ReferenceProcessor, video_only: bool = False) -> dict[str, mx.array]:
    """The processor's weights under an official single-file checkpoint's keys."""
    prefixes = {
        "feature_extractor.": "text_embedding_projection.",
        "video_connector.": "model.diffusion_model."
        + ("embeddings_connector." if video_only else "video_embeddings_connector."),
        "audio_connector.": "model.diffusion_model.audio_embeddings_connector.",
    }
    tensors = {}
    for key, value in to_mlx_weights(reference).items():
        prefix = next(p for p in prefixes if key.startswith(p))
        if video_only and (prefix == "audio_connector." or key.startswith("feature_extractor.audio_")):
            continue
        tensors[prefixes[prefix] + key[len(prefix) :]] = value
    # Other components of the checkpoint, which the text path must leave alone.
    tensors["model.diffusion_model.patchify_proj.weight"] = mx.zeros((2, 2))
    return tensors


@pytest.mark.parametrize("version", ["ltx2", "ltx23", "ltx23_video_only"])
def test_processor_from_official_checkpoint_matches_ltx_core(version):
    transformer = LTX2_TRANSFORMER if version == "ltx2" else LTX23_TRANSFORMER
    reference = reference_processor(transformer, v2=version != "ltx2")
    tensors = official_checkpoint_tensors(reference, video_only=version.endswith("video_only"))
    ours = EmbeddingsProcessor.from_transformer_config(
        transformer, WIDTH, STATES, with_audio=has_audio_connector(tensors)
    )
    ours.load_weights(list(sanitize_official(tensors).items()), strict=True)

    states, mask = hidden_states(1, 128), left_padded_mask([37], 128)  # ltx-core: 128 registers, one prompt
    with torch.no_grad():
        expected = reference.process_hidden_states(tuple(states), mask)
    got = ours(as_mlx(states), mx.array(mask.numpy()))
    assert relative_max_error(got.video, expected.video_encoding) <= TOLERANCE
    assert np.array_equal(np.array(got.attention_mask), expected.attention_mask.numpy())
    if version.endswith("video_only"):
        assert got.audio is None
    else:
        assert relative_max_error(got.audio, expected.audio_encoding) <= TOLERANCE
