"""LoRA files: every naming lands on the same layers, bad files are refused by name, nothing half applied."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_map

from ltx_mlx_core.errors import InvalidRequest, LoraError
from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor
from ltx_mlx_core.weights.lora_files import read_lora_file
from ltx_mlx_core.weights.lora_mapping import (
    LTX2_TEXT_PATH,
    LoraSpec,
    apply_lora_files,
    lora_files_applied,
    loras_for,
    ltx2_text_component,
    ltx2_transformer_component,
)
from tests.core.lora_helpers import (
    TINY,
    TINY_GATED,
    layer_shape,
    linear_paths,
    official_module,
    parameters,
    random_pair,
    tiny_transformer,
    write_lora_file,
)

NAMINGS = ["official", "comfy", "comfy_full", "kohya"]


def _pairs(model: nn.Module, paths: list[str], rank: int = 3, seed: int = 0) -> dict[str, tuple]:
    rng = np.random.default_rng(seed)
    return {official_module(path): random_pair(*layer_shape(model, path), rank, rng) for path in paths}


def _fused(model: nn.Module, specs: list[LoraSpec], **options) -> dict[str, np.ndarray]:
    with lora_files_applied(specs, [ltx2_transformer_component(model)], **options):
        return parameters(model)


def test_every_naming_adapts_the_same_layers_with_the_same_values(tmp_path: Path) -> None:
    model = tiny_transformer()
    before = parameters(model)
    pairs = _pairs(model, linear_paths(model))
    results = {}
    for naming in NAMINGS:
        path = write_lora_file(tmp_path / f"{naming}.safetensors", pairs, naming)
        results[naming] = _fused(model, [LoraSpec(path, 0.6)])
    changed = {name for name, value in results["official"].items() if not np.array_equal(value, before[name])}
    assert changed == {f"{path}.weight" for path in linear_paths(model)}
    for naming in NAMINGS[1:]:
        assert all(np.array_equal(results[naming][name], results["official"][name]) for name in before), naming
    assert all(np.array_equal(value, before[name]) for name, value in parameters(model).items())


def test_alpha_scales_by_alpha_over_rank(tmp_path: Path) -> None:
    model = tiny_transformer()
    module = "transformer_blocks.1.audio_ff.net.2"
    ((down, up),) = _pairs(model, ["transformer_blocks.1.audio_ff.proj_out"], rank=4).values()
    with_alpha = write_lora_file(tmp_path / "alpha.safetensors", {module: (down, up)}, "comfy", alphas={module: 2.0})
    halved = write_lora_file(tmp_path / "halved.safetensors", {module: (down, up * 0.5)}, "official")
    assert read_lora_file(with_alpha).layers[0].scale == 0.5
    first, second = _fused(model, [LoraSpec(with_alpha)]), _fused(model, [LoraSpec(halved)])
    name = "transformer_blocks.1.audio_ff.proj_out.weight"
    np.testing.assert_allclose(first[name], second[name], rtol=0, atol=1e-6)


@pytest.mark.parametrize("config", [None, TINY_GATED], ids=["ltx2", "ltx23"])
def test_a_lora_named_like_the_distilled_lora_loads(tmp_path: Path, config: dict | None) -> None:
    """ltx-2(.3)-*-distilled-lora-384: PEFT names under `diffusion_model.`, every block's linears, both streams."""
    model = tiny_transformer(config=config)
    blocks = [path for path in linear_paths(model) if path.startswith("transformer_blocks.")]
    assert any("audio_to_video" in path for path in blocks) and any(
        path.endswith("to_gate_logits") for path in blocks
    ) == (config is not None)
    path = write_lora_file(
        tmp_path / "distilled-lora-384.safetensors",
        _pairs(model, blocks, rank=8),
        "official",
        dtype=mx.bfloat16,
    )
    before = parameters(model)
    with lora_files_applied([LoraSpec(path, 0.5)], [ltx2_transformer_component(model)]) as applied:
        assert applied.layers == len(blocks)
    assert all(np.array_equal(value, before[name]) for name, value in parameters(model).items())


def _error(model: nn.Module, path: Path, **options) -> str:
    before = parameters(model)
    with pytest.raises(LoraError) as raised:
        apply_lora_files([LoraSpec(path)], [ltx2_transformer_component(model)], **options)
    assert isinstance(raised.value, InvalidRequest)
    assert all(np.array_equal(value, before[name]) for name, value in parameters(model).items())
    message = str(raised.value)
    assert str(path) in message
    return message


def test_a_lora_for_another_model_family_is_refused(tmp_path: Path) -> None:
    model = tiny_transformer()
    rng = np.random.default_rng(1)
    flux = {f"double_blocks.{i}.img_attn.qkv": random_pair(192, 64, 4, rng) for i in range(2)}
    for naming in ("official", "kohya"):
        path = write_lora_file(tmp_path / f"flux-{naming}.safetensors", flux, naming)
        message = _error(model, path)
        first = (
            "diffusion_model.double_blocks.0.img_attn.qkv.lora_A"
            if naming == "official"
            else "lora_unet_double_blocks_0"
        )
        assert first in message and "another model" in message, message


def test_a_lora_with_wrong_rank_shapes_names_the_first_misfit(tmp_path: Path) -> None:
    model = tiny_transformer()
    pairs = _pairs(model, ["transformer_blocks.0.attn1.to_q", "transformer_blocks.1.audio_attn1.to_v"])
    down, up = pairs["transformer_blocks.1.audio_attn1.to_v"]
    # An LTX-Video 0.9 LoRA has the same names but other widths.
    wider = {**pairs, "transformer_blocks.1.audio_attn1.to_v": (np.zeros((3, 96), np.float32), up)}
    message = _error(model, write_lora_file(tmp_path / "wider.safetensors", wider))
    assert "'diffusion_model.transformer_blocks.1.audio_attn1.to_v.lora_A.weight'" in message and "64 inputs" in message
    taller = {**pairs, "transformer_blocks.1.audio_attn1.to_v": (down, np.zeros((32, 3), np.float32))}
    message = _error(model, write_lora_file(tmp_path / "taller.safetensors", taller))
    assert (
        "'diffusion_model.transformer_blocks.1.audio_attn1.to_v.lora_B.weight'" in message and "64 outputs" in message
    )
    ranks = {
        **pairs,
        "transformer_blocks.0.attn1.to_q": (np.zeros((4, 64), np.float32), np.zeros((64, 5), np.float32)),
    }
    message = _error(model, write_lora_file(tmp_path / "ranks.safetensors", ranks))
    assert "'diffusion_model.transformer_blocks.0.attn1.to_q.lora_B.weight'" in message and "rank 4" in message


def test_a_truncated_file_is_refused_naming_the_tensor_past_the_end(tmp_path: Path) -> None:
    model = tiny_transformer()
    path = write_lora_file(tmp_path / "cut.safetensors", _pairs(model, linear_paths(model)[:4]))
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    message = _error(model, path)
    assert "truncated" in message and "lora_" in message, message
    path.write_bytes(data[:5])
    assert "not a safetensors file" in _error(model, path)


def test_incomplete_and_foreign_tensors_are_named(tmp_path: Path) -> None:
    model = tiny_transformer()
    down, up = next(iter(_pairs(model, ["proj_out"]).values()))
    lonely = tmp_path / "lonely.safetensors"
    mx.save_safetensors(str(lonely), {"diffusion_model.proj_out.lora_A.weight": mx.array(down)})
    assert "'diffusion_model.proj_out.lora_A.weight' has no matching up tensor" in _error(model, lonely)
    dora = tmp_path / "dora.safetensors"
    mx.save_safetensors(
        str(dora),
        {
            "diffusion_model.proj_out.lora_A.weight": mx.array(down),
            "diffusion_model.proj_out.lora_B.weight": mx.array(up),
            "diffusion_model.proj_out.dora_scale": mx.ones((4, 1)),
        },
    )
    assert "'diffusion_model.proj_out.dora_scale' is not part of a LoRA" in _error(model, dora)
    assert "does not exist" in _error(model, tmp_path / "missing.safetensors")


def test_a_bad_second_file_leaves_the_model_unchanged(tmp_path: Path) -> None:
    model = tiny_transformer()
    good = write_lora_file(tmp_path / "good.safetensors", _pairs(model, linear_paths(model)))
    bad = write_lora_file(
        tmp_path / "bad.safetensors",
        {"transformer_blocks.0.attn1.to_q": (np.zeros((2, 63), np.float32), np.zeros((64, 2), np.float32))},
    )
    before = parameters(model)
    with pytest.raises(LoraError, match="bad.safetensors"):
        apply_lora_files([LoraSpec(good), LoraSpec(bad)], [ltx2_transformer_component(model)])
    assert all(np.array_equal(value, before[name]) for name, value in parameters(model).items())


def test_text_path_layers_are_left_out_only_when_asked(tmp_path: Path) -> None:
    """ltx-core fuses LoRAs into the transformer only; a file's text-path layers are then unused."""
    model = tiny_transformer()
    rng = np.random.default_rng(2)
    pairs = {
        **_pairs(model, ["transformer_blocks.0.ff.proj_in"]),
        "video_embeddings_connector.transformer_1d_blocks.0.attn1.to_q": random_pair(64, 64, 2, rng),
    }
    for naming in ("official", "kohya"):
        path = write_lora_file(tmp_path / f"{naming}.safetensors", pairs, naming)
        assert "video_embeddings_connector" in _error(model, path)
        with lora_files_applied(
            [LoraSpec(path)], [ltx2_transformer_component(model)], left_out=LTX2_TEXT_PATH
        ) as applied:
            assert applied.layers == 1
    # The feature extractor's projection sits outside `diffusion_model.` in the official files.
    down, up = random_pair(64, 96, 2, rng)
    projection = tmp_path / "projection.safetensors"
    mx.save_safetensors(
        str(projection),
        {
            "diffusion_model.proj_out.lora_A.weight": mx.zeros((2, 64)),
            "diffusion_model.proj_out.lora_B.weight": mx.zeros((4, 2)),
            "text_embedding_projection.aggregate_embed.lora_A.weight": mx.array(down),
            "text_embedding_projection.aggregate_embed.lora_B.weight": mx.array(up),
        },
    )
    assert "'text_embedding_projection.aggregate_embed.lora_A.weight'" in _error(model, projection)
    with lora_files_applied(
        [LoraSpec(projection)], [ltx2_transformer_component(model)], left_out=LTX2_TEXT_PATH
    ) as applied:
        assert applied.layers == 1


def _text_path() -> EmbeddingsProcessor:
    """A tiny processor (V1 projection, two 2-block connectors of width 64) with random weights."""
    connectors = dict(
        TINY,
        connector_num_attention_heads=2,
        connector_attention_head_dim=32,
        connector_num_layers=2,
        connector_num_learnable_registers=4,
    )
    processor = EmbeddingsProcessor.from_transformer_config(connectors, 16, 3)
    key = mx.random.key(4)
    processor.update(tree_map(lambda value: mx.random.normal(value.shape, key=key) * 0.1, processor.parameters()))
    return processor


def test_text_connector_layers_go_to_the_text_path_and_back(tmp_path: Path) -> None:
    """Official names of both parts (the connectors' `to_out.0` and `ff.net.*` renamed by their key map)."""
    transformer, text = tiny_transformer(), _text_path()
    components = [ltx2_transformer_component(transformer), ltx2_text_component(text)]
    rng = np.random.default_rng(3)
    pairs = {
        **_pairs(transformer, ["transformer_blocks.1.video_to_audio_attn.to_out"]),
        "video_embeddings_connector.transformer_1d_blocks.1.attn1.to_out.0": random_pair(64, 64, 2, rng),
        "audio_embeddings_connector.transformer_1d_blocks.0.ff.net.0.proj": random_pair(256, 64, 2, rng),
    }
    for naming in ("official", "kohya"):
        path = write_lora_file(tmp_path / f"{naming}.safetensors", pairs, naming)
        split = loras_for(read_lora_file(path), components)
        assert [layer.module for layer in split["transformer"].layers] == [
            "transformer_blocks.1.video_to_audio_attn.to_out"
        ]
        assert sorted(layer.module for layer in split["text connectors"].layers) == [
            "audio_connector.transformer_1d_blocks.0.ff.proj_in",
            "video_connector.transformer_1d_blocks.1.attn1.to_out",
        ]
    projection = tmp_path / "projection.safetensors"
    down, up = random_pair(16, 48, 2, rng)
    mx.save_safetensors(
        str(projection),
        {
            "text_embedding_projection.aggregate_embed.lora_A.weight": mx.array(down),
            "text_embedding_projection.aggregate_embed.lora_B.weight": mx.array(up),
        },
    )
    before = parameters(text)
    with lora_files_applied([LoraSpec(path), LoraSpec(projection)], components) as applied:
        assert applied.layers == 4
        changed = {name for name, value in parameters(text).items() if not np.array_equal(value, before[name])}
        assert changed == {
            "audio_connector.transformer_1d_blocks.0.ff.proj_in.weight",
            "video_connector.transformer_1d_blocks.1.attn1.to_out.weight",
            "feature_extractor.aggregate_embed.weight",
        }
    assert all(np.array_equal(value, before[name]) for name, value in parameters(text).items())


def test_a_misfit_in_the_second_part_leaves_the_first_part_untouched(tmp_path: Path) -> None:
    transformer, text = tiny_transformer(), _text_path()
    components = [ltx2_transformer_component(transformer), ltx2_text_component(text)]
    misfit = write_lora_file(
        tmp_path / "misfit.safetensors",
        {
            **_pairs(transformer, linear_paths(transformer)),
            "video_embeddings_connector.transformer_1d_blocks.1.attn1.to_q": (
                np.zeros((2, 32), np.float32),
                np.zeros((64, 2), np.float32),
            ),
        },
    )
    transformer_before, text_before = parameters(transformer), parameters(text)
    with pytest.raises(LoraError, match="misfit.safetensors") as raised:
        apply_lora_files([LoraSpec(misfit)], components)
    assert "video_connector.transformer_1d_blocks.1.attn1.to_q" in str(raised.value)
    assert all(np.array_equal(value, transformer_before[name]) for name, value in parameters(transformer).items())
    assert all(np.array_equal(value, text_before[name]) for name, value in parameters(text).items())
