"""Memory estimates from file headers, before anything loads; refusals that say what to change."""

from __future__ import annotations

import dataclasses

import pytest

from ltx_mlx_core.errors import InvalidRequest, OutOfMemoryRisk
from ltx_mlx_core.models.ltxv.transformer_config import LTXV_2B_098, LTXV_13B_098
from ltx_mlx_core.pipeline import memory_accounting, memory_estimate
from ltx_mlx_core.pipeline.memory_estimate import GIB, check_fits, estimate_memory
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.request import ConditioningItem, GenerationRequest
from ltx_mlx_core.pipeline.tiling import TilingConfig, blend_bytes, decode_bytes, tiling_within
from ltx_mlx_core.weights import loader
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.tiny import make_tiny_model
from tests.core.full_size_files import write_full_size_model

REQUEST = GenerationRequest(prompt="a boat", model="ltxv-13b-0.9.8-distilled", width=768, height=512, num_frames=97)


@pytest.fixture(scope="module")
def model_13b(tmp_path_factory):
    return write_full_size_model(tmp_path_factory.mktemp("13b"), LTXV_13B_098)


@pytest.fixture(autouse=True)
def fused_attention(monkeypatch):
    """Estimates as on the product's GPUs (Metal, CUDA); the CPU case is tested on its own."""
    monkeypatch.setattr(memory_accounting, "attention_is_fused", lambda: True)


def test_13b_estimate_counts_every_component_in_bf16(model_13b):
    estimate = estimate_memory(REQUEST, model_13b)
    # 13.1 B transformer parameters, T5-XXL encoder 4.76 B, 0.9.8 VAE 1.2 B, upsampler 0.13 B (x 2 bytes).
    assert 24.0 * GIB < estimate.transformer < 25.0 * GIB
    assert 8.5 * GIB < estimate.text_encoder < 9.2 * GIB
    assert 2.0 * GIB < estimate.vae < 2.6 * GIB
    assert estimate.transformer_blocks > 0.98 * estimate.transformer
    assert estimate.num_blocks == 48


def test_more_pixels_and_frames_need_more_activation_memory(model_13b):
    def activations(width, height, frames):
        request = dataclasses.replace(REQUEST, width=width, height=height, num_frames=frames)
        return estimate_memory(request, model_13b).activations

    small, medium, large = activations(256, 256, 17), activations(768, 512, 97), activations(1280, 704, 161)
    assert small < medium < large and large > 3 * small


def test_eight_bit_quantisation_about_halves_the_transformer(model_13b):
    full = estimate_memory(REQUEST, model_13b)
    eight = estimate_memory(dataclasses.replace(REQUEST, quantize_bits=8), model_13b)
    four = estimate_memory(dataclasses.replace(REQUEST, quantize_bits=4), model_13b)
    assert 0.5 < eight.transformer / full.transformer < 0.56
    assert 0.25 < four.transformer / full.transformer < 0.31


@pytest.mark.parametrize(
    "usable_gib, mode",
    [(64, ResidencyMode.RESIDENT), (32, ResidencyMode.STREAM_COMPONENTS), (16, ResidencyMode.STREAM_BLOCKS)],
)
def test_the_leanest_needed_mode_is_chosen_for_the_machine(model_13b, usable_gib, mode):
    estimate = dataclasses.replace(estimate_memory(REQUEST, model_13b), available=usable_gib * GIB)
    assert check_fits(estimate) is mode
    assert check_fits(estimate, "stream_blocks") is ResidencyMode.STREAM_BLOCKS  # asking for leaner always works


def test_an_asked_for_mode_that_cannot_fit_moves_to_a_leaner_one(model_13b):
    estimate = dataclasses.replace(estimate_memory(REQUEST, model_13b), available=16 * GIB)
    assert check_fits(estimate, "resident") is ResidencyMode.STREAM_BLOCKS


def test_a_request_that_cannot_fit_is_refused_with_the_estimate_and_what_to_change(model_13b, monkeypatch):
    monkeypatch.setattr(memory_estimate, "available_memory", lambda: 8 * GIB)
    estimate = estimate_memory(REQUEST, model_13b)
    with pytest.raises(OutOfMemoryRisk) as refusal:
        check_fits(estimate)
    message = str(refusal.value)
    assert "8.0 GiB is usable" in message and "transformer 24." in message
    for suggestion in ("Lower the resolution", "quantise", "--quantize 8", "2B"):
        assert suggestion in message


def test_2b_fits_a_24_gib_machine_without_streaming_blocks(tmp_path):
    files = write_full_size_model(tmp_path, LTXV_2B_098)
    estimate = dataclasses.replace(estimate_memory(REQUEST, files), available=18 * GIB)
    assert check_fits(estimate) in (ResidencyMode.RESIDENT, ResidencyMode.STREAM_COMPONENTS)


def test_unfused_attention_scores_are_counted_on_the_cpu(model_13b, monkeypatch):
    request = dataclasses.replace(REQUEST, width=1280, height=704, num_frames=161)
    fused = estimate_memory(request, model_13b)
    monkeypatch.setattr(memory_accounting, "attention_is_fused", lambda: False)
    unfused = estimate_memory(request, model_13b)
    tokens = 21 * 22 * 40  # 161 frames -> 21 latent frames of 22 x 40 at 1280x704
    scores = tokens * tokens * 32 * 4  # 32 heads, float32
    assert fused.activations < scores < unfused.activations


def test_a_float32_config_is_estimated_at_four_bytes_per_value(model_13b):
    """The compute dtype comes from the request's pipeline config (its precision key)."""
    bf16 = estimate_memory(dataclasses.replace(REQUEST, pipeline_config="ltxv-13b-0.9.8-distilled.yaml"), model_13b)
    fp32 = estimate_memory(
        dataclasses.replace(
            REQUEST, pipeline_config="ltxv-13b-0.9.8-distilled.yaml", config_overrides={"precision": "float32"}
        ),
        model_13b,
    )
    assert bf16 == estimate_memory(REQUEST, model_13b)  # no config at all: bf16, the product's precision
    for part in ("transformer", "text_encoder", "vae", "upsampler"):
        assert getattr(fp32, part) == 2 * getattr(bf16, part), part
    # The decode (its largest part at 768x512x97) blends tiles in float32 whatever the precision.
    blend = blend_bytes((13, 16, 24), TilingConfig(), whole_clip=True)
    assert fp32.activations - blend == 2 * (bf16.activations - blend)
    fp8_config = dataclasses.replace(REQUEST, pipeline_config="ltxv-13b-0.9.8-distilled-fp8.yaml")
    assert estimate_memory(fp8_config, model_13b) == bf16  # FP8 weights are dequantised to bf16 on load


def test_quantisation_shrinks_the_text_encoder_too(model_13b):
    full = estimate_memory(REQUEST, model_13b)
    eight = estimate_memory(dataclasses.replace(REQUEST, quantize_bits=8), model_13b)
    assert 0.5 < eight.text_encoder / full.text_encoder < 0.6
    assert eight.vae == full.vae  # the VAE is never quantised


def test_streaming_peak_holds_the_vae_with_the_transformer_only_for_conditioning_media(model_13b, tmp_path):
    plain = estimate_memory(REQUEST, model_13b)
    image = tmp_path / "first.png"
    image.write_bytes(b"")
    conditioned = estimate_memory(dataclasses.replace(REQUEST, conditioning=[ConditioningItem(str(image))]), model_13b)
    mode = ResidencyMode.STREAM_COMPONENTS
    assert plain.peak_for(mode) == plain.transformer + plain.upsampler + plain.activations
    assert conditioned.peak_for(mode) == plain.peak_for(mode) + plain.vae


def test_a_quantised_request_streams_its_blocks_when_nothing_else_fits(model_13b):
    eight = estimate_memory(dataclasses.replace(REQUEST, quantize_bits=8), model_13b)
    assert check_fits(dataclasses.replace(eight, available=20 * GIB)) is ResidencyMode.STREAM_COMPONENTS
    assert check_fits(dataclasses.replace(eight, available=8 * GIB)) is ResidencyMode.STREAM_BLOCKS
    assert check_fits(dataclasses.replace(eight, available=64 * GIB), "stream_blocks") is ResidencyMode.STREAM_BLOCKS
    # Streaming holds the 8-bit non-block weights and two 8-bit blocks of the 48.
    assert eight.streamed_transformer < 0.1 * eight.transformer
    assert eight.peak_for(ResidencyMode.STREAM_BLOCKS) == max(
        eight.text_encoder,
        eight.vae + eight.activations,
        eight.streamed_transformer + eight.upsampler + eight.activations,
    )
    with pytest.raises(OutOfMemoryRisk) as refusal:
        check_fits(dataclasses.replace(eight, available=4 * GIB))
    message = str(refusal.value)
    assert "even when streaming transformer blocks from disk" in message and "--quantize 4" in message


def test_the_memory_limit_variable_overrides_the_machine(monkeypatch):
    monkeypatch.setenv(memory_estimate.MEMORY_LIMIT_ENV, str(3 * GIB))
    assert memory_estimate.available_memory() == 3 * GIB
    monkeypatch.setenv(memory_estimate.MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(InvalidRequest, match="LTX_MLX_MEMORY_LIMIT_BYTES must be a positive number of bytes"):
        memory_estimate.available_memory()
    monkeypatch.delenv(memory_estimate.MEMORY_LIMIT_ENV)
    assert memory_estimate.available_memory() > 0


def test_generate_refuses_a_request_too_big_for_the_machine_before_loading_anything(monkeypatch):
    """End to end: Pipeline.generate on the tiny model, on a 'machine' of 1 MiB."""
    make_tiny_model()
    files = resolve_model("tiny")
    monkeypatch.setenv(memory_estimate.MEMORY_LIMIT_ENV, str(1 << 20))
    loads = []
    for name in ("load_vae", "load_text_encoder", "load_transformer"):
        monkeypatch.setattr(loader, name, lambda *args, _name=name, **kwargs: loads.append(_name))
    events = []
    request = GenerationRequest(prompt="p", model="tiny", width=64, height=64, num_frames=9)
    with pytest.raises(OutOfMemoryRisk) as refusal:
        for event in Pipeline(files).generate(request):
            events.append(event)
    message = str(refusal.value)
    assert events == [] and loads == []
    assert "1 MiB is usable" in message and "even when streaming transformer blocks" in message
    assert "transformer " in message and "MiB" in message  # the estimate, per component
    for suggestion in ("Lower the resolution", "--quantize 8", "2B model"):
        assert suggestion in message


def test_the_estimate_plans_the_decode_by_the_model_the_decode_tiles_with(model_13b):
    """A machine with exactly the activation memory planned for a decode-bound request decodes it in the
    default tiles; the whole clip needs more."""
    grid = (8, 16, 24)  # 768x512x57: the 13B's step needs less than the default tiles' decode
    activations = estimate_memory(dataclasses.replace(REQUEST, num_frames=57), model_13b).activations
    # The LTX-Video decode returns the whole clip: its float32 blend sum is the clip's.
    assert activations == decode_bytes(grid, TilingConfig(), whole_clip=True)
    assert tiling_within(grid, activations, whole_clip=True) == TilingConfig()
    assert decode_bytes(grid, TilingConfig.untiled(), whole_clip=True) > activations
