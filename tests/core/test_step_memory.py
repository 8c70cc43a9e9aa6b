"""A transformer step holds about one block's activations beyond its weights, and the memory estimate
counts at least what a step holds (CPU, float32, small widths; docs/PERFORMANCE.md has the GPU runs).

MLX's CPU backend frees each intermediate once it is consumed, so the GPU's in-flight retention does
not show here (tests/core/test_block_eval.py holds the loops to evaluating per block); what shows is
anything that keeps per-block arrays referenced, e.g. an `after_block` hook that holds every chunk.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import pytest

from ltx_mlx_core.bench.step_memory import one_block_step, peak_above_resident
from ltx_mlx_core.bench.workloads import (
    TEXT_TOKENS,
    VideoShape,
    randomize_parameters,
    transformer_step_inputs,
    transformer_step_workload,
)
from ltx_mlx_core.bench.workloads_ltx2 import AVShape, ltx2_step_inputs, ltx2_step_workload
from ltx_mlx_core.models.ltx2.config import PRESETS as LTX2_PRESETS
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_config import PRESETS as LTXV_PRESETS
from ltx_mlx_core.pipeline import memory_accounting
from ltx_mlx_core.pipeline.block_eval import DEFAULT_EVERY, DEFAULT_IN_FLIGHT
from ltx_mlx_core.pipeline.ltx2.denoise import LTX2_IN_FLIGHT
from ltx_mlx_core.pipeline.memory_accounting import (
    LTX2_ACTIVATION_FACTOR,
    LTX2_PER_TOKEN_ACTIVATION_FACTOR,
    step_activations,
)

LAYERS = 16
# A step may hold this many times what the same step with one block holds (measured on the CPU:
# 1.13 for LTX-Video, 1.04-1.20 for LTX-2). Keeping each block's hidden states alive adds about
# 0.04 per block here (8 blocks: 1.30).
BLOCKS_BOUND = 1.5
LTXV = TransformerConfig(
    num_attention_heads=2, attention_head_dim=32, num_layers=LAYERS, cross_attention_dim=64, caption_channels=24
)
LTX2 = dict(
    num_attention_heads=2, attention_head_dim=32, in_channels=16, out_channels=16, num_layers=LAYERS,
    cross_attention_dim=64, caption_channels=24, audio_num_attention_heads=2, audio_attention_head_dim=16,
    audio_in_channels=128, audio_out_channels=128, audio_cross_attention_dim=32, rope_type="split",
    frequencies_precision="float64", av_ca_timestep_scale_multiplier=1000.0,
)  # fmt: skip
VIDEO = VideoShape(256, 256, 17)  # 192 tokens
AV = AVShape(256, 256, 17, fps=8.0)  # 192 video tokens, 53 audio tokens
# Prompt tokens per video token as at 768x512x121 (1,024 for 6,144), so the text does not dominate.
CONTEXT = 32


@pytest.fixture(scope="module")
def ltxv() -> LTXVideoTransformer:
    model = LTXVideoTransformer(LTXV)
    randomize_parameters(model, mx.float32)
    return model


@pytest.fixture(scope="module")
def ltx2() -> LTX2Transformer:
    model = LTX2Transformer(LTX2Config(**LTX2))
    randomize_parameters(model, mx.float32)
    return model


def test_an_ltxv_step_holds_about_one_blocks_activations(ltxv):
    one_block = peak_above_resident(one_block_step(ltxv, transformer_step_inputs(ltxv, VIDEO)))
    step = peak_above_resident(transformer_step_workload(ltxv, VIDEO))
    assert step <= BLOCKS_BOUND * one_block, f"{step / one_block:.2f} blocks"


def test_an_ltx2_step_holds_about_one_blocks_activations(ltx2):
    one_block = peak_above_resident(one_block_step(ltx2, ltx2_step_inputs(ltx2, AV, context_tokens=CONTEXT)))
    step = peak_above_resident(ltx2_step_workload(ltx2, AV, context_tokens=CONTEXT))
    assert step <= BLOCKS_BOUND * one_block, f"{step / one_block:.2f} blocks"


def test_a_hook_that_keeps_every_block_is_caught(ltxv):
    """The bound is tight enough to see per-block arrays kept alive."""
    inputs = transformer_step_inputs(ltxv, VIDEO)
    one_block = peak_above_resident(one_block_step(ltxv, inputs))
    kept: list[mx.array] = []
    step = peak_above_resident(lambda: ltxv(*inputs, after_block=lambda index, hidden: kept.append(hidden)))
    assert step > BLOCKS_BOUND * one_block


def test_the_estimate_counts_at_least_what_a_step_holds(ltxv, ltx2, monkeypatch):
    monkeypatch.setattr(memory_accounting, "attention_is_fused", lambda: mx.default_device().type != mx.cpu)
    video = peak_above_resident(transformer_step_workload(ltxv, VIDEO))
    assert video <= step_activations(VIDEO.tokens, LTXV.inner_dim, LTXV.num_attention_heads, 4, text_tokens=TEXT_TOKENS)
    config = ltx2.config
    av = peak_above_resident(ltx2_step_workload(ltx2, AV, context_tokens=CONTEXT))
    audio = (AV.audio_tokens, config.audio_inner_dim, config.audio_num_attention_heads)
    heads = config.num_attention_heads
    estimate = step_activations(AV.video_tokens, config.inner_dim, heads, 4, audio, CONTEXT, LTX2_ACTIVATION_FACTOR)
    assert av <= estimate


GPU_RUNS = Path(__file__).resolve().parents[2] / "docs" / "perf" / "h200-2026-12-03-step-memory.json"


def _gpu_estimate(report: dict) -> int:
    """The estimate's step activations (bf16, fused attention) for a recorded run's model and tokens."""
    if report["model"].startswith("ltxv"):
        config = LTXV_PRESETS[report["model"] + "-0.9.8"]
        return step_activations(report["tokens"]["video"], config.inner_dim, config.num_attention_heads, 2)
    config = LTX2_PRESETS[report["model"]]
    audio = (report["tokens"]["audio"], config.audio_inner_dim, config.audio_num_attention_heads)
    # Text to video runs one noise level per entry; conditioning media need per-token levels.
    factor = LTX2_ACTIVATION_FACTOR if report["uniform_timesteps"] else LTX2_PER_TOKEN_ACTIVATION_FACTOR
    return step_activations(
        report["tokens"]["video"], config.inner_dim, config.num_attention_heads, 2, audio, factor=factor
    )


def test_the_estimate_counts_at_least_what_the_gpu_measured_with_the_default_settings(monkeypatch):
    """The H200 runs in docs/perf: each model's step with its loop's default block evaluation stays
    within the estimate, and the estimate is not loose by more than a fifth."""
    monkeypatch.setattr(memory_accounting, "attention_is_fused", lambda: True)
    checked = set()
    for report in json.loads(GPU_RUNS.read_text()):
        in_flight = DEFAULT_IN_FLIGHT if report["model"].startswith("ltxv") else LTX2_IN_FLIGHT
        (default,) = [
            run for run in report["runs"] if run["eval_every_blocks"] == DEFAULT_EVERY and run["in_flight"] == in_flight
        ]
        estimate = _gpu_estimate(report)
        assert default["activation_bytes"] <= estimate, report["model"]
        assert estimate < 1.2 * default["activation_bytes"], f"{report['model']}: the estimate is loose"
        checked.add((report["model"], report["uniform_timesteps"]))
    assert {model for model, _ in checked} == {"ltxv-2b", "ltxv-13b", "ltx-2.3-22b"}
    assert {("ltx-2.3-22b", True), ("ltx-2.3-22b", False)} <= checked
