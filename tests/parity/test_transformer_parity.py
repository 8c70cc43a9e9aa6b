"""The MLX transformer reproduces the reference `Transformer3DModel` loaded from the same file.

Each case builds a tiny random-weight reference model, writes it as an official single-file
checkpoint (`model.diffusion_model.` keys, metadata {"config": {"transformer": ...}}), loads it
with our config reader + key mapping, and compares outputs on identical inputs.

Measured on the CPU backend (mlx 0.32.4, torch 2.13 CPU, 2026-12-01), error = max|ours - ref| / max|ref|:
  float32 (bound 1e-4): odd-heads+mask 3.1e-6, width-20 per-token timestep 3.6e-6,
      layer-norm/geglu/single-scale/affine 5.2e-6, STG AttentionSkip 4.5e-6, AttentionValues 4.3e-6,
      Residual 3.9e-6, TransformerBlock 1.9e-6 (random draws differ run to run: these move within 2x). For scale: the float32 reference itself is
      1.5e-5 .. 1.9e-4 away from the same reference run in float64 (RoPE angles reach ~1.6e4 rad,
      where a float32 ulp is ~1e-3 rad), and ours tracks the float32 one, not float64.
  bfloat16 (bound 4e-2, ours in bf16 vs the reference in bf16): 9.5e-3 .. 1.8e-2, the size of
      the bf16 reference's own distance from the float32 reference (8.5e-3 .. 1.8e-2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx
import pytest
import torch
from ltx_video.models.transformers.transformer3d import Transformer3DModel
from ltx_video.utils.skip_layer_strategy import SkipLayerStrategy as ReferenceSkipLayerStrategy

from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, SkipLayerStrategy, TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import (
    OFFICIAL_TRANSFORMER_PREFIX,
    load_transformer_weights,
    sanitize_official_transformer,
    strip_official_prefix,
)
from tests.parity.conftest import relative_max_error, save_official_checkpoint, torch_to_mlx

FLOAT32_BOUND = 1e-4
BFLOAT16_BOUND = 4e-2

BASE_CONFIG: dict[str, Any] = dict(
    num_attention_heads=3,
    attention_head_dim=8,
    in_channels=16,
    out_channels=16,
    num_layers=2,
    cross_attention_dim=24,
    caption_channels=12,
    attention_bias=True,
    activation_fn="gelu-approximate",
    norm_elementwise_affine=False,
    norm_eps=1e-6,
    qk_norm="rms_norm",
    standardization_norm="rms_norm",
    positional_embedding_type="rope",
    positional_embedding_theta=10000.0,
    positional_embedding_max_pos=[20, 2048, 2048],
    timestep_scale_multiplier=1000,
)


@dataclass
class Case:
    name: str
    config_changes: dict[str, Any] = field(default_factory=dict)
    grid: tuple[int, int, int] = (2, 3, 4)
    batch: int = 2
    text_length: int = 5
    with_mask: bool = True
    per_token_timestep: bool = False
    strategy: ReferenceSkipLayerStrategy | None = None

    @property
    def config(self) -> dict[str, Any]:
        return {**BASE_CONFIG, **self.config_changes}


CASES = [
    Case("odd_heads_with_mask"),
    Case(
        "width_not_multiple_of_six_per_token_timestep",
        {"num_attention_heads": 5, "attention_head_dim": 4, "cross_attention_dim": 20},
        grid=(3, 2, 5),
        with_mask=False,
        per_token_timestep=True,
    ),
    Case(
        "layer_norms_geglu_single_scale_affine",
        {
            "standardization_norm": "layer_norm",
            "qk_norm": "layer_norm",
            "activation_fn": "geglu",
            "adaptive_norm": "single_scale",
            "norm_elementwise_affine": True,
        },
        grid=(1, 4, 2),
        batch=1,
    ),
] + [
    Case(f"stg_{strategy.name}", grid=(2, 2, 3), batch=3, strategy=strategy) for strategy in ReferenceSkipLayerStrategy
]


def _randomised_reference(config: dict[str, Any], seed: int) -> Transformer3DModel:
    torch.manual_seed(seed)
    model = Transformer3DModel(**config).eval()
    with torch.no_grad():
        # Default inits leave biases/norm weights trivial; perturb everything so each path counts.
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    return model


def _inputs(case: Case, config: dict[str, Any], seed: int) -> dict[str, torch.Tensor | None]:
    generator = torch.Generator().manual_seed(seed + 1)
    frames, height, width = case.grid
    tokens = frames * height * width
    frame_index, row, column = torch.meshgrid(
        torch.arange(frames), torch.arange(height), torch.arange(width), indexing="ij"
    )
    # Pixel coordinates as the reference pipeline passes them: frames scaled by 8 then / frame rate.
    grid = torch.stack([frame_index.flatten() * 8 / 25.0, row.flatten() * 32.0, column.flatten() * 32.0])
    timestep_shape = (case.batch, tokens) if case.per_token_timestep else (case.batch, 1)
    mask = None
    if case.with_mask:
        mask = torch.ones(case.batch, case.text_length, dtype=torch.int64)
        mask[0, case.text_length // 2 :] = 0
    skip_layer_mask = None
    if case.strategy is not None:
        skip_layer_mask = torch.ones(config["num_layers"], case.batch)
        skip_layer_mask[0, -1] = 0  # layer 0 perturbs the last batch entry, layer 1 the first
        skip_layer_mask[1, 0] = 0
    return {
        "latents": torch.randn(case.batch, tokens, config["in_channels"], generator=generator),
        "grid": grid[None].repeat(case.batch, 1, 1).float(),
        "text": torch.randn(case.batch, case.text_length, config["caption_channels"], generator=generator),
        "mask": mask,
        "timestep": torch.rand(timestep_shape, generator=generator),
        "skip_layer_mask": skip_layer_mask,
    }


def _reference_output(model: Transformer3DModel, inputs: dict, strategy, dtype: torch.dtype) -> torch.Tensor:
    model = model.to(dtype)
    skip = inputs["skip_layer_mask"]
    with torch.no_grad():
        return model(
            inputs["latents"].to(dtype),
            indices_grid=inputs["grid"],
            encoder_hidden_states=inputs["text"].to(dtype),
            timestep=inputs["timestep"],
            encoder_attention_mask=inputs["mask"],
            skip_layer_mask=skip.to(dtype) if skip is not None else None,
            skip_layer_strategy=strategy,
            return_dict=False,
        )[0].float()


def _load_ours(checkpoint: Path, dtype: mx.Dtype) -> LTXVideoTransformer:
    tensors, metadata = mx.load(str(checkpoint), return_metadata=True)
    config = TransformerConfig.from_checkpoint_metadata(metadata)
    model = LTXVideoTransformer(config)
    weights = sanitize_official_transformer(strip_official_prefix(tensors))
    load_transformer_weights(model, weights, cast=lambda weight: weight.astype(dtype))
    return model


def _our_output(model: LTXVideoTransformer, inputs: dict, case: Case) -> mx.array:
    strategy = SkipLayerStrategy[case.strategy.name] if case.strategy is not None else None
    mask = inputs["mask"]
    skip = inputs["skip_layer_mask"]
    timestep = inputs["timestep"]
    output = model(
        torch_to_mlx(inputs["latents"]),
        torch_to_mlx(inputs["grid"]),
        torch_to_mlx(inputs["text"]),
        torch_to_mlx(mask) if mask is not None else None,
        torch_to_mlx(timestep if case.per_token_timestep else timestep[:, 0]),
        skip_layer_mask=torch_to_mlx(skip) if skip is not None else None,
        skip_layer_strategy=strategy,
    )
    mx.eval(output)
    return output


def _write_checkpoint(reference: Transformer3DModel, path: Path) -> Path:
    config = {"transformer": dict(reference.config)}
    return save_official_checkpoint({OFFICIAL_TRANSFORMER_PREFIX: reference.state_dict()}, config, path)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_transformer_matches_reference_in_float32(case: Case, tmp_path: Path) -> None:
    reference = _randomised_reference(case.config, seed=len(case.name))
    inputs = _inputs(case, case.config, seed=len(case.name))
    expected = _reference_output(reference, inputs, case.strategy, torch.float32)
    model = _load_ours(_write_checkpoint(reference, tmp_path / "model.safetensors"), mx.float32)

    error = relative_max_error(_our_output(model, inputs, case), expected)

    print(f"[transformer parity float32] {case.name}: {error:.2e}")
    assert error <= FLOAT32_BOUND


@pytest.mark.parametrize("case", CASES[:3] + CASES[-2:], ids=lambda case: case.name)
def test_transformer_matches_reference_in_bfloat16(case: Case, tmp_path: Path) -> None:
    reference = _randomised_reference(case.config, seed=len(case.name))
    inputs = _inputs(case, case.config, seed=len(case.name))
    expected_float32 = _reference_output(reference, inputs, case.strategy, torch.float32)
    expected = _reference_output(reference, inputs, case.strategy, torch.bfloat16)
    model = _load_ours(_write_checkpoint(reference, tmp_path / "model.safetensors"), mx.bfloat16)

    ours = _our_output(model, inputs, case)
    error = relative_max_error(ours, expected)

    print(
        f"[transformer parity bfloat16] {case.name}: vs bf16 reference {error:.2e}, "
        f"ours vs fp32 reference {relative_max_error(ours, expected_float32):.2e}, "
        f"bf16 reference vs fp32 reference {relative_max_error(expected, expected_float32):.2e}"
    )
    assert ours.dtype == mx.bfloat16
    assert error <= BFLOAT16_BOUND


def test_stg_skip_changes_only_the_perturbed_batch_entries(tmp_path: Path) -> None:
    case = Case("stg_block", grid=(1, 2, 2), batch=2, strategy=ReferenceSkipLayerStrategy.TransformerBlock)
    reference = _randomised_reference(case.config, seed=3)
    inputs = _inputs(case, case.config, seed=3)
    inputs["skip_layer_mask"] = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    model = _load_ours(_write_checkpoint(reference, tmp_path / "model.safetensors"), mx.float32)

    perturbed = _our_output(model, inputs, case)
    inputs["skip_layer_mask"] = None
    plain = _our_output(model, inputs, case)

    assert relative_max_error(perturbed[0], plain[0]) < 1e-6
    assert relative_max_error(perturbed[1], plain[1]) > 1e-3


def test_checkpoint_config_round_trips_through_metadata(tmp_path: Path) -> None:
    reference = _randomised_reference(BASE_CONFIG, seed=0)
    path = _write_checkpoint(reference, tmp_path / "model.safetensors")
    _, metadata = mx.load(str(path), return_metadata=True)
    config = TransformerConfig.from_checkpoint_metadata(metadata)
    assert json.loads(metadata["config"])["transformer"]["num_layers"] == config.num_layers == 2
    assert config.inner_dim == 24 and config.caption_channels == 12


@pytest.mark.parametrize("batch_size, num_conds, ptb_index, blocks", [(1, 3, 2, [1]), (2, 2, 1, [0, 1]), (1, 2, 1, [])])
def test_skip_layer_mask_matches_reference(batch_size: int, num_conds: int, ptb_index: int, blocks: list[int]) -> None:
    reference = Transformer3DModel(**BASE_CONFIG)
    expected = reference.create_skip_layer_mask(batch_size, num_conds, ptb_index, blocks)
    ours = LTXVideoTransformer(TransformerConfig.from_dict(BASE_CONFIG)).create_skip_layer_mask(
        batch_size, num_conds, ptb_index, blocks
    )
    if expected is None:
        assert ours is None
    else:
        assert relative_max_error(ours, expected) == 0.0
