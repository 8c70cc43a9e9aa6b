"""Memory needed by a request, estimated from file headers before anything loads.

Weights: the byte size of each component at the compute dtype (read from the
safetensors headers, FP8 counted as dequantised, quantisation as bits/16 of the
linear weights). Activations: the transformer's per-step working set grows with
tokens x width, plus tokens^2 x heads where attention is not fused (MLX's CPU
backend materialises the scores; Metal and CUDA do not); the VAE decode grows with
the tile. A request is refused only when even the leanest mode cannot fit.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Optional

from ltx_mlx_core.errors import OutOfMemoryRisk
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.residency import ResidencyMode

logger = logging.getLogger(__name__)

GIB = 1 << 30
# Share of physical memory we plan to use: the OS, the app and other programs need the rest.
USABLE_FRACTION = 0.75
# Activation bytes per (token x model width x dtype byte) of a transformer step: hidden states,
# q/k/v, the 4x feed-forward intermediate. Measured 26-29 on the CPU backend (float32, widths 512
# and 1024, 192-384 tokens, where the attention scores are negligible); rounded up.
ACTIVATION_FACTOR = 30
# Bytes per attention score (float32 softmax) where the scores are materialised.
SCORE_BYTES = 4
DECODE_TILE_BYTES = 3 * GIB  # peak of one default 512x512x57 decode tile at the 0.9.8 widths, bf16
DECODE_TILE_PIXELS = 57 * 512 * 512


@dataclass(frozen=True)
class MemoryEstimate:
    text_encoder: int
    transformer: int
    transformer_blocks: int
    vae: int
    upsampler: int
    activations: int
    available: int
    num_blocks: int = 1

    def peak_for(self, mode: ResidencyMode) -> int:
        if mode is ResidencyMode.RESIDENT:
            return self.text_encoder + self.transformer + self.vae + self.upsampler + self.activations
        if mode is ResidencyMode.STREAM_COMPONENTS:
            return max(self.text_encoder, self.transformer + self.vae + self.upsampler) + self.activations
        one_block = self.transformer_blocks // max(1, self.num_blocks)
        resident_part = self.transformer - self.transformer_blocks + 2 * one_block
        return max(self.text_encoder, resident_part + self.vae + self.upsampler) + self.activations

    def __str__(self) -> str:
        return (
            f"text encoder {self.text_encoder / GIB:.1f} GiB, transformer {self.transformer / GIB:.1f} GiB, "
            f"VAE {self.vae / GIB:.1f} GiB, activations {self.activations / GIB:.1f} GiB; "
            f"{self.available / GIB:.1f} GiB usable"
        )


def attention_is_fused() -> bool:
    """Metal and CUDA run scaled-dot-product attention without storing the score matrix; the CPU does not."""
    import mlx.core as mx

    return mx.default_device().type != mx.DeviceType.cpu


def available_memory() -> int:
    """What this process may plan to use: Metal's working-set limit on a Mac, else RAM."""
    import mlx.core as mx

    try:
        info = mx.device_info()
    except (AttributeError, RuntimeError):
        info = {}
    limit = info.get("max_recommended_working_set_size")
    if limit:
        return int(limit * USABLE_FRACTION)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(total * USABLE_FRACTION)


def _element_count(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _bytes_at(
    shapes: dict[str, tuple[int, ...]], dtype_bytes: int, quantize_bits: Optional[int] = None
) -> tuple[int, int]:
    """(all tensors, those in transformer blocks) in the compute dtype, linear weights quantised if asked."""
    total = blocks = 0
    for name, shape in shapes.items():
        count = _element_count(shape)
        size = count * dtype_bytes
        if quantize_bits and name.endswith(".weight") and len(shape) == 2 and shape[-1] % 64 == 0:
            # packed weights plus a scale and a bias (compute dtype) per group of 64
            size = count * quantize_bits // 8 + count // 64 * 2 * dtype_bytes
        total += size
        if name.startswith("transformer_blocks."):
            blocks += size
    return total, blocks


def _shapes(paths: list, prefix: str = "") -> dict[str, tuple[int, ...]]:
    from ltx_mlx_core.weights.safetensors_io import read_header

    shapes: dict[str, tuple[int, ...]] = {}
    for path in paths:
        header = read_header(path)
        shapes.update({name[len(prefix):]: header.tensors[name].shape for name in header.keys_with_prefix(prefix)})
    return shapes


def component_shapes(model_files: Any) -> tuple[dict, dict, dict, dict, Any]:
    """Tensor shapes of (transformer, VAE, text encoder, upsampler) and the transformer config, from headers only."""
    from pathlib import Path

    from ltx_mlx_core.weights import layout_diffusers, layout_official
    from ltx_mlx_core.weights.layout_hf_t5 import t5_weight_files

    checkpoint = Path(model_files.checkpoint)
    if layout_diffusers.is_diffusers_folder(checkpoint):
        transformer = _shapes(layout_diffusers.transformer_weight_files(checkpoint))
        vae = _shapes(layout_diffusers.sharded_files(checkpoint / "vae", layout_diffusers.WEIGHTS_INDEX))
        config = layout_diffusers.transformer_config(checkpoint)
    else:
        transformer = _shapes([checkpoint], layout_official.TRANSFORMER_PREFIX)
        vae = _shapes([checkpoint], layout_official.VAE_PREFIX)
        config = layout_official.transformer_config(checkpoint)
    text = _shapes(t5_weight_files(Path(model_files.text_encoder_dir)))
    text = {k: v for k, v in text.items() if not k.startswith("decoder.") and k != "encoder.embed_tokens.weight"}
    upsampler = _shapes([model_files.upsampler]) if getattr(model_files, "upsampler", None) else {}
    return transformer, vae, text, upsampler, config


def estimate_memory(request: GenerationRequest, model_files: Any, dtype_bytes: int = 2) -> MemoryEstimate:
    """Bytes each component and the activations need for this request; reads file headers only."""
    transformer_shapes, vae_shapes, text_shapes, upsampler_shapes, config = component_shapes(model_files)
    transformer, blocks = _bytes_at(transformer_shapes, dtype_bytes, request.quantize_bits)
    vae, _ = _bytes_at(vae_shapes, dtype_bytes)
    text, _ = _bytes_at(text_shapes, dtype_bytes)
    upsampler, _ = _bytes_at(upsampler_shapes, dtype_bytes)
    tokens = ((request.num_frames - 1) // 8 + 1) * (request.height // 32) * (request.width // 32)
    batch = len(request.seeds)
    denoise = tokens * config.inner_dim * ACTIVATION_FACTOR * dtype_bytes * batch
    if not attention_is_fused():
        denoise += tokens * tokens * config.num_attention_heads * SCORE_BYTES * batch
    # Decoding runs tile by tile: a video smaller than one default tile needs proportionally less.
    decode_share = min(1.0, request.num_frames * request.height * request.width / DECODE_TILE_PIXELS)
    decode = int(DECODE_TILE_BYTES * decode_share * dtype_bytes / 2)
    activations = max(denoise, decode)
    return MemoryEstimate(
        text_encoder=text, transformer=transformer, transformer_blocks=blocks, vae=vae,
        upsampler=upsampler, activations=activations, available=available_memory(), num_blocks=config.num_layers,
    )


def check_fits(estimate: MemoryEstimate, requested: str = "auto") -> ResidencyMode:
    """The residency mode to run in; OutOfMemoryRisk with a suggestion when nothing fits."""
    order = [ResidencyMode.RESIDENT, ResidencyMode.STREAM_COMPONENTS, ResidencyMode.STREAM_BLOCKS]
    if requested != "auto":
        mode = ResidencyMode(requested)
        if estimate.peak_for(mode) <= estimate.available:
            return mode
        candidates = order[order.index(mode):]
    else:
        candidates = order
    for mode in candidates:
        if estimate.peak_for(mode) <= estimate.available:
            if requested not in ("auto", mode.value):
                logger.warning("requested %s does not fit; using %s", requested, mode.value)
            return mode
    leanest = estimate.peak_for(ResidencyMode.STREAM_BLOCKS)
    raise OutOfMemoryRisk(
        f"This request needs about {leanest / GIB:.1f} GiB even when streaming transformer blocks, but only "
        f"{estimate.available / GIB:.1f} GiB is usable ({estimate}). Lower the resolution or the frame count, "
        "quantise the model to 8 bits, or use the FP8/2B model."
    )
