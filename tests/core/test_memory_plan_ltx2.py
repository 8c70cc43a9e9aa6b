"""Memory plans for the LTX-2 family before anything loads: the full-size 22B model on 8-64 GB
machines, the text phase freed before the transformer, audio tokens and guidance passes counted."""

from __future__ import annotations

import dataclasses

import pytest

from ltx_mlx_core.errors import InvalidRequest, OutOfMemoryRisk
from ltx_mlx_core.models.ltxv.transformer_config import LTXV_13B_098
from ltx_mlx_core.pipeline import memory_estimate
from ltx_mlx_core.pipeline.memory_estimate import GIB, MEMORY_LIMIT_ENV, estimate_ltx2_memory, plan_memory
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.shapes_ltx2 import full_size_shapes
from ltx_mlx_core.weights.tiny_ltx2 import write_tiny_ltx2_model
from tests.core.full_size_files import write_full_size_model

REQUEST = GenerationRequest(
    prompt="a drummer on a rooftop", model="ltx-2.3-22b-distilled", width=768, height=512, num_frames=121, fps=24.0
)


@pytest.fixture(autouse=True)
def fused_attention(monkeypatch):
    """Plans as on the product's GPUs (Metal, CUDA)."""
    monkeypatch.setattr(memory_estimate, "attention_is_fused", lambda: True)


def _budget(monkeypatch, gib: int) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(gib * GIB))


@pytest.mark.parametrize(
    "gib, bits, mode",
    [
        (16, 4, ResidencyMode.STREAM_COMPONENTS),
        (32, 8, ResidencyMode.STREAM_COMPONENTS),
        (64, None, ResidencyMode.STREAM_COMPONENTS),
        (128, None, ResidencyMode.RESIDENT),
    ],
)
def test_the_22b_model_gets_the_best_plan_that_fits(monkeypatch, gib, bits, mode):
    """LTX-2.3 distilled at 768x512, 121 frames with sound, planned from the release configs (not installed)."""
    _budget(monkeypatch, gib)
    plan = plan_memory(REQUEST)
    assert (plan.quantize_bits, plan.residency) == (bits, mode)
    assert plan.estimate.peak_for(plan.residency) <= gib * GIB


def test_8_gb_is_refused_naming_what_would_fit(monkeypatch):
    _budget(monkeypatch, 8)
    with pytest.raises(OutOfMemoryRisk) as refused:
        plan_memory(REQUEST)
    message = str(refused.value)
    assert "4-bit weights, components loaded one at a time" in message and "8.0 GiB is usable" in message
    needed = float(message.split("needs about ")[1].split(" GiB")[0])
    assert 8 < needed < 16 and f"fit on a machine where {needed:.1f} GiB can be used" in message
    assert "no smaller clip fits" in message  # the 4-bit weights alone exceed 8 GB


def test_a_small_machine_is_told_which_smaller_clip_fits(monkeypatch):
    _budget(monkeypatch, 14)
    big = dataclasses.replace(REQUEST, width=1920, height=1088, num_frames=241)
    with pytest.raises(OutOfMemoryRisk, match=r"smaller clip: \d+x\d+ with \d+ frames fits here"):
        plan_memory(big)


def test_gemma_is_freed_before_the_transformer_loads_when_streaming(monkeypatch):
    _budget(monkeypatch, 64)
    estimate = plan_memory(REQUEST).estimate
    resident, streamed = estimate.peak_for(ResidencyMode.RESIDENT), estimate.peak_for(ResidencyMode.STREAM_COMPONENTS)
    assert resident > 64 * GIB >= streamed
    # Streaming holds the larger of the text phase and the transformer phase, never both.
    assert streamed < estimate.text_encoder + estimate.transformer
    assert 22 * GIB < estimate.text_encoder < 30 * GIB  # Gemma 3 12B and the 2.3 text connectors in bf16
    assert 34 * GIB < estimate.transformer < 37 * GIB  # 19 B transformer parameters in bf16


def test_a_fixed_quantisation_or_residency_is_kept(monkeypatch):
    _budget(monkeypatch, 16)
    with pytest.raises(OutOfMemoryRisk, match="8-bit weights"):
        plan_memory(dataclasses.replace(REQUEST, quantize_bits=8))
    _budget(monkeypatch, 64)
    plan = plan_memory(dataclasses.replace(REQUEST, residency="stream_blocks"))
    assert (plan.quantize_bits, plan.residency) == (None, ResidencyMode.STREAM_BLOCKS)
    with pytest.raises(InvalidRequest, match="cannot be combined"):
        plan_memory(dataclasses.replace(REQUEST, residency="stream_blocks", quantize_bits=4))


def test_audio_seconds_and_guidance_passes_are_counted(monkeypatch):
    shapes = full_size_shapes("2.3")

    def activations(request, variant="distilled"):
        return estimate_ltx2_memory(request, shapes, variant, 2, None).activations

    longer = dataclasses.replace(REQUEST, fps=12.0)  # the same frames last twice as long: twice the audio
    assert activations(longer) > activations(REQUEST)
    assert activations(REQUEST, "dev") == pytest.approx(
        memory_estimate.DEV_GUIDANCE_PASSES * activations(REQUEST), rel=0.01
    )
    monkeypatch.setattr(memory_estimate, "attention_is_fused", lambda: False)
    assert activations(REQUEST) > 2 * GIB * 2  # the CPU materialises the attention scores


def test_an_installed_model_is_planned_from_its_file_headers(tmp_path, monkeypatch):
    write_tiny_ltx2_model(tmp_path)
    request = dataclasses.replace(REQUEST, model=str(tmp_path), width=256, height=256, num_frames=17)
    plan = plan_memory(request)
    assert (plan.quantize_bits, plan.residency) == (None, ResidencyMode.RESIDENT)
    assert 0 < plan.estimate.transformer < 10_000_000 and plan.estimate.num_blocks == 2


def test_the_plan_serves_the_0_9_family_too(tmp_path, monkeypatch):
    files = write_full_size_model(tmp_path, LTXV_13B_098)
    request = GenerationRequest(prompt="a boat", model="ltxv-13b-0.9.8-distilled", width=768, height=512, num_frames=97)
    _budget(monkeypatch, 64)
    assert plan_memory(request, files).residency is ResidencyMode.RESIDENT
    _budget(monkeypatch, 16)
    plan = plan_memory(request, files)
    assert plan.quantize_bits == 8 and plan.estimate.peak_for(plan.residency) <= 16 * GIB
