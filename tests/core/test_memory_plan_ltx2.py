"""Memory plans for the LTX-2 family before anything loads: the full-size 22B model with 4-128 GiB usable
(8 GiB is what a 16 GB Mac gives), the text phase freed before the transformer, audio tokens and guidance
passes counted."""

from __future__ import annotations

import dataclasses
import math

import pytest

from ltx_mlx_core.errors import InvalidRequest, OutOfMemoryRisk
from ltx_mlx_core.models.ltxv.transformer_config import LTXV_13B_098
from ltx_mlx_core.pipeline import memory_accounting, memory_estimate_ltx2
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
    monkeypatch.setattr(memory_accounting, "attention_is_fused", lambda: True)


def _budget(monkeypatch, gib: int) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(gib * GIB))


@pytest.mark.parametrize(
    "gib, bits, mode",
    [
        (8, 4, ResidencyMode.STREAM_BLOCKS),  # a 16 GB Mac: 0.75 x Metal's working set of about 10.7 GiB
        (16, 4, ResidencyMode.STREAM_COMPONENTS),
        (32, 8, ResidencyMode.STREAM_COMPONENTS),
        (48, None, ResidencyMode.STREAM_COMPONENTS),
        (128, None, ResidencyMode.RESIDENT),
    ],
)
def test_the_22b_model_gets_the_best_plan_that_fits(monkeypatch, gib, bits, mode):
    """LTX-2.3 distilled at 768x512, 121 frames with sound, planned from the release configs (not installed),
    with `gib` GiB usable."""
    _budget(monkeypatch, gib)
    plan = plan_memory(REQUEST)
    assert (plan.quantize_bits, plan.residency) == (bits, mode)
    assert plan.estimate.peak_for(plan.residency) <= gib * GIB


def test_a_16_gb_mac_streams_4_bit_blocks_with_room_for_each_phase(monkeypatch):
    """8 GiB usable: the 4-bit transformer (10 GiB) cannot be held, its blocks stream from the quantised
    cache. Each phase, alone, within the budget: the 4-bit Gemma with the prompt's hidden states, then the
    text connectors, then the step (measured on an H200 at 1.73 GiB with these weights streamed,
    docs/PERFORMANCE.md) with the upsampler, then the decoders."""
    _budget(monkeypatch, 8)
    plan = plan_memory(REQUEST)
    estimate = plan.estimate
    assert (plan.quantize_bits, plan.residency) == (4, ResidencyMode.STREAM_BLOCKS)
    assert estimate.peak_for(ResidencyMode.STREAM_COMPONENTS) > 8 * GIB  # the whole 4-bit transformer does not fit
    assert 9.5 * GIB < estimate.transformer < 10.5 * GIB  # 19 B parameters at 4 bits plus a scale and bias per 64
    # Its non-block weights and two blocks, quantised: under 1 GiB.
    assert 0.5 * GIB < estimate.streamed_transformer < 1 * GIB
    step = estimate.streamed_transformer + estimate.activations
    assert 1.73 * GIB < step < 5 * GIB  # above the measured step, not wildly so
    assert 6 * GIB < estimate.text_encoder < 7 * GIB  # Gemma 3 12B at 4 bits with the hidden states
    assert estimate.peak_for(plan.residency) == estimate.text_encoder


def test_an_8_gb_mac_is_refused_naming_what_would_fit(monkeypatch):
    _budget(monkeypatch, 4)  # 0.75 x Metal's working set of about 5.3 GiB
    with pytest.raises(OutOfMemoryRisk) as refused:
        plan_memory(REQUEST)
    message = str(refused.value)
    assert "4-bit weights, transformer blocks streamed from disk every step" in message
    assert "4.0 GiB is usable" in message
    needed = float(message.split("needs about ")[1].split(" GiB")[0])
    assert 4 < needed < 8 and f"fit on a machine where {needed:.1f} GiB can be used" in message
    assert "no smaller clip fits" in message  # the 4-bit Gemma alone exceeds 4 GiB
    _budget(monkeypatch, math.ceil(needed * 10) / 10 + 0.1)
    assert plan_memory(REQUEST).residency is ResidencyMode.STREAM_BLOCKS  # and there it does fit


def test_a_small_machine_is_told_which_smaller_clip_fits(monkeypatch):
    _budget(monkeypatch, 14)
    big = dataclasses.replace(REQUEST, width=1920, height=1088, num_frames=481)
    with pytest.raises(OutOfMemoryRisk, match=r"smaller clip: \d+x\d+ with \d+ frames fits here"):
        plan_memory(big)


def test_gemma_is_freed_before_the_transformer_loads_when_streaming(monkeypatch):
    _budget(monkeypatch, 48)
    estimate = plan_memory(REQUEST).estimate
    resident, streamed = estimate.peak_for(ResidencyMode.RESIDENT), estimate.peak_for(ResidencyMode.STREAM_COMPONENTS)
    assert resident > 48 * GIB >= streamed
    # Streaming holds the larger of the text phase and the transformer phase, never both.
    assert streamed < estimate.text_encoder + estimate.transformer
    # Gemma 3 12B in bf16 with the prompt's hidden states; the 2.3 text connectors (5.9 GiB) come after it.
    assert 22 * GIB < estimate.text_encoder < 23 * GIB
    assert 34 * GIB < estimate.transformer < 37 * GIB  # 19 B transformer parameters in bf16


def test_a_fixed_quantisation_or_residency_is_kept(monkeypatch):
    _budget(monkeypatch, 8)
    with pytest.raises(OutOfMemoryRisk, match="8-bit weights, transformer blocks streamed"):
        plan_memory(dataclasses.replace(REQUEST, quantize_bits=8))  # not lowered to the 4 bits that would fit
    _budget(monkeypatch, 13)
    plan = plan_memory(dataclasses.replace(REQUEST, quantize_bits=8))
    assert (plan.quantize_bits, plan.residency) == (8, ResidencyMode.STREAM_BLOCKS)
    _budget(monkeypatch, 64)
    plan = plan_memory(dataclasses.replace(REQUEST, residency="stream_blocks"))
    assert (plan.quantize_bits, plan.residency) == (None, ResidencyMode.STREAM_BLOCKS)
    plan = plan_memory(dataclasses.replace(REQUEST, residency="stream_blocks", quantize_bits=4))
    assert (plan.quantize_bits, plan.residency) == (4, ResidencyMode.STREAM_BLOCKS)


def test_a_request_that_cannot_stream_blocks_is_planned_without(monkeypatch):
    """LoRAs fused into the transformer would be undone by streaming its blocks: the plan leaves it out."""
    _budget(monkeypatch, 8)
    with pytest.raises(OutOfMemoryRisk, match="4-bit weights, components loaded one at a time"):
        plan_memory(REQUEST, stream_blocks=False)
    _budget(monkeypatch, 16)
    assert plan_memory(REQUEST, stream_blocks=False).residency is ResidencyMode.STREAM_COMPONENTS
    with pytest.raises(InvalidRequest, match="'stream_blocks' residency"):
        plan_memory(dataclasses.replace(REQUEST, residency="stream_blocks"), stream_blocks=False)


def test_audio_seconds_and_guidance_passes_are_counted(monkeypatch):
    shapes = full_size_shapes("2.3")

    def activations(request, variant="distilled"):
        return estimate_ltx2_memory(request, shapes, variant, 2, None).activations

    # A clip large enough that its denoise outweighs its (tiled) decode.
    large = dataclasses.replace(REQUEST, width=1280, height=704, num_frames=241)
    longer = dataclasses.replace(large, fps=12.0)  # the same frames last twice as long: twice the audio
    assert activations(longer) > activations(large)
    assert activations(large, "dev") == pytest.approx(
        memory_estimate_ltx2.DEV_GUIDANCE_PASSES * activations(large), rel=0.01
    )
    monkeypatch.setattr(memory_accounting, "attention_is_fused", lambda: False)
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
