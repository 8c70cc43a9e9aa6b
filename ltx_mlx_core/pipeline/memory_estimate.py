"""Memory needed by a request, estimated from file headers before anything loads (both families),
and the plan that picks the residency and quantisation that fit.

Weights: the byte size of each component at the compute dtype of the request's
pipeline config (read from the safetensors headers, FP8 counted as dequantised,
quantisation as bits per weight plus a scale and bias per group of the linear
weights of the transformer and text encoder). Activations: the transformer's per-step working
set grows with tokens x width, plus tokens^2 x heads where attention is not fused
(MLX's CPU backend materialises the scores; Metal and CUDA do not); the VAE decode
grows with its largest tile (`tiling.decode_bytes`, the model by which the decode picks its
tiles too). What is counted and how phases add up: memory_accounting.py; the LTX-2 family's
parts: memory_estimate_ltx2.py (an uninstalled catalog model is sized from its release's configs).

`plan_memory` (LTX-2 pipelines) picks the first of PLAN_ORDER that fits and refuses naming what would
fit; `check_fits` (LTX-Video pipelines) picks the residency for the request's own quantisation.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from ltx_mlx_core.errors import InvalidRequest, ModelNotInstalled, OutOfMemoryRisk
from ltx_mlx_core.models.ltxv.text_encoding import DEFAULT_MAX_TOKENS
from ltx_mlx_core.pipeline.config import load_pipeline_config
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.memory_accounting import (
    DTYPE_BYTES,
    GIB,
    MEMORY_LIMIT_ENV,
    MemoryEstimate,
    available_memory,
    bytes_at,
    size_text,
    step_activations,
)
from ltx_mlx_core.pipeline.memory_estimate_ltx2 import estimate_ltx2_memory
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.tiling import TilingConfig, decode_bytes
from ltx_mlx_core.weights.catalog import CATALOG
from ltx_mlx_core.weights.components import ModelComponents, components_of
from ltx_mlx_core.weights.registry import LTX2, ModelFiles, resolve_model
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.shapes_ltx2 import full_size_shapes

logger = logging.getLogger(__name__)

# Callers import these from here.
__all__ = [
    "GIB",
    "MEMORY_LIMIT_ENV",
    "MemoryEstimate",
    "MemoryPlan",
    "PLAN_ORDER",
    "available_memory",
    "check_fits",
    "compute_dtype_bytes",
    "estimate_ltx2_memory",
    "estimate_memory",
    "plan_memory",
]


def compute_dtype_bytes(request: GenerationRequest, model: ModelComponents) -> int:
    """Bytes per value in the compute dtype of the request's pipeline config (bf16 when there is none)."""
    source = request.pipeline_config or model.config
    if source is None:
        return DTYPE_BYTES["bfloat16"]
    return DTYPE_BYTES[load_pipeline_config(source, request.config_overrides).compute_dtype]


def estimate_memory(
    request: GenerationRequest, model: ModelFiles | ModelComponents, dtype_bytes: int | None = None
) -> MemoryEstimate:
    """Bytes each component and the activations need for this request, from tensor shapes only
    (file headers for installed models): nothing is loaded.

    `model`: `ModelFiles` or `ModelComponents`. `dtype_bytes` is the compute dtype's size; by default
    the request's pipeline config decides it.
    """
    components = components_of(model)
    if dtype_bytes is None:
        dtype_bytes = compute_dtype_bytes(request, components)
    if components.family == LTX2:
        return estimate_ltx2_memory(
            request, components.shapes(), components.variant, dtype_bytes, request.quantize_bits
        )
    shapes = components.shapes()
    transformer_shapes, vae_shapes, text_shapes, upsampler_shapes = (
        shapes.transformer,
        shapes.vae,
        shapes.text_encoder,
        shapes.upsampler,
    )
    config = shapes.transformer_config
    transformer, blocks = bytes_at(transformer_shapes, dtype_bytes, request.quantize_bits)
    vae, _ = bytes_at(vae_shapes, dtype_bytes)
    text, _ = bytes_at(text_shapes, dtype_bytes, request.quantize_bits)
    upsampler, _ = bytes_at(upsampler_shapes, dtype_bytes)
    grid = latent_grid(request.num_frames, request.height, request.width)
    text_tokens = DEFAULT_MAX_TOKENS  # T5 prompts are padded to it
    denoise = step_activations(
        math.prod(grid), config.inner_dim, config.num_attention_heads, dtype_bytes, text_tokens=text_tokens
    )
    denoise *= len(request.seeds)
    # Planned with the default tiles (a clip smaller than one needs proportionally less); at decode
    # time the pipeline takes the fewest tiles that fit the memory then left, smaller ones if need be.
    decode = decode_bytes(grid, TilingConfig(), dtype_bytes, whole_clip=True)  # the decode returns the whole clip
    activations = max(denoise, decode)
    return MemoryEstimate(
        text_encoder=text,
        transformer=transformer,
        transformer_blocks=blocks,
        vae=vae,
        upsampler=upsampler,
        activations=activations,
        available=available_memory(),
        num_blocks=config.num_layers,
        vae_during_passes=bool(request.conditioning),
        quantize_bits=request.quantize_bits,
    )


def check_fits(estimate: MemoryEstimate, requested: str = "auto") -> ResidencyMode:
    """The residency mode to run in; OutOfMemoryRisk with a suggestion when nothing fits."""
    order = [ResidencyMode.RESIDENT, ResidencyMode.STREAM_COMPONENTS, ResidencyMode.STREAM_BLOCKS]
    candidates = order if requested == "auto" else order[order.index(ResidencyMode(requested)) :]
    for mode in candidates:
        if estimate.peak_for(mode) <= estimate.available:
            if requested not in ("auto", mode.value):
                logger.warning("requested %s does not fit; using %s", requested, mode.value)
            return mode
    leanest = estimate.peak_for(ResidencyMode.STREAM_BLOCKS)
    quantise = {
        None: "quantise the transformer and text encoder to 8 bits (--quantize 8), ",
        8: "quantise to 4 bits (--quantize 4), ",
    }.get(estimate.quantize_bits, "")
    raise OutOfMemoryRisk(
        f"This request needs about {size_text(leanest)} even when streaming transformer blocks from disk, but "
        f"only {size_text(estimate.available)} is usable ({estimate}). Lower the resolution or the frame count, "
        f"{quantise}or use the 2B model. (FP8 checkpoints are dequantised on load and need as much as bf16.)"
    )


@dataclass(frozen=True)
class MemoryPlan:
    """How a request runs: its residency mode, its quantisation, and the estimate that chose them."""

    residency: ResidencyMode
    quantize_bits: int | None
    estimate: MemoryEstimate

    @property
    def choice(self) -> str:
        bits = f"{self.quantize_bits}-bit weights" if self.quantize_bits else "full-precision weights"
        return f"{bits}, {self.residency.description}"

    def __str__(self) -> str:
        return f"{self.choice}: about {size_text(self.estimate.peak_for(self.residency))} at peak"


_R, _SC, _SB = ResidencyMode.RESIDENT, ResidencyMode.STREAM_COMPONENTS, ResidencyMode.STREAM_BLOCKS
# Candidates in order of preference: quality first (full precision, 8-bit, 4-bit), then speed (resident,
# one component at a time, blocks streamed from disk every step). Streaming blocks costs seconds per step
# (reading every block), so it comes after one step down in precision but before two: full precision
# streamed before 4-bit, and quantised weights streamed (from their cache file) only when nothing else fits.
PLAN_ORDER = ((None, _R), (None, _SC), (8, _R), (8, _SC), (None, _SB), (4, _R), (4, _SC), (8, _SB), (4, _SB))
Estimator = Callable[[GenerationRequest, int | None], MemoryEstimate]


def _estimator(
    request: GenerationRequest, model: ModelFiles | ModelComponents | str, dtype_bytes: int | None
) -> Estimator:
    """(request, bits) -> MemoryEstimate, the shapes read once (release configs for a model not installed)."""
    if isinstance(model, str):
        try:
            model = resolve_model(model)
        except ModelNotInstalled:
            if model not in CATALOG or CATALOG[model].family != LTX2:
                raise
            entry = CATALOG[model]
            shapes = full_size_shapes(entry.version)
            return lambda r, bits: estimate_ltx2_memory(r, shapes, entry.variant, dtype_bytes or 2, bits)
    components = components_of(model)
    dtype_bytes = dtype_bytes or compute_dtype_bytes(request, components)
    if components.family == LTX2:
        shapes = components.shapes()
        return lambda r, bits: estimate_ltx2_memory(r, shapes, components.variant, dtype_bytes, bits)
    return lambda r, bits: estimate_memory(dataclasses.replace(r, quantize_bits=bits), components, dtype_bytes)


def plan_memory(
    request: GenerationRequest,
    model: ModelFiles | ModelComponents | str | None = None,
    dtype_bytes: int | None = None,
    stream_blocks: bool = True,
) -> MemoryPlan:
    """The first of PLAN_ORDER that fits this machine, within what the request fixes (its `quantize_bits`;
    a `residency` other than "auto", or a leaner one); OutOfMemoryRisk naming what would fit.

    `model` defaults to the request's model id; a catalog LTX-2 model that is not downloaded is
    planned from its release's configs. `stream_blocks=False` leaves block streaming out (a request
    that fuses LoRAs into the transformer cannot stream its blocks).
    """
    estimate_for = _estimator(request, request.model if model is None else model, dtype_bytes)
    modes = [_R, _SC] + ([_SB] if stream_blocks else [])
    requested = ResidencyMode(request.residency) if request.residency != "auto" else _R
    if requested not in modes:
        raise InvalidRequest(f"This request cannot use the '{request.residency}' residency; choose another.")
    allowed = modes[modes.index(requested) :]
    candidates = [
        (bits, mode) for bits, mode in PLAN_ORDER if request.quantize_bits in (None, bits) and mode in allowed
    ]
    estimates = {bits: estimate_for(request, bits) for bits in dict.fromkeys(bits for bits, _ in candidates)}
    for bits, mode in candidates:
        if estimates[bits].peak_for(mode) <= estimates[bits].available:
            return MemoryPlan(mode, bits, estimates[bits])
    bits, mode = min(candidates, key=lambda c: estimates[c[0]].peak_for(c[1]))
    leanest = MemoryPlan(mode, bits, estimates[bits])
    need = size_text(leanest.estimate.peak_for(mode))
    raise OutOfMemoryRisk(
        f"This request needs about {need} even with {leanest.choice}, but only "
        f"{size_text(leanest.estimate.available)} is usable ({leanest.estimate}). It would fit on a machine where "
        f"{need} can be used (or with more allowed by {MEMORY_LIMIT_ENV}); "
        f"{_smaller_clip(request, estimate_for, bits, mode)}"
    )


def _smaller_clip(request: GenerationRequest, estimate_for: Estimator, bits: int | None, mode: ResidencyMode) -> str:
    """A smaller clip (fewer frames, then a smaller picture) that fits the leanest plan, or why none does."""
    sizes = [(request.width, request.height, f) for f in (97, 65, 49, 33, 17, 9) if f < request.num_frames]
    sizes += [
        (
            max(32, int(request.width * scale) // 32 * 32),
            max(32, int(request.height * scale) // 32 * 32),
            min(request.num_frames, 49),
        )
        for scale in (0.75, 0.5, 0.375, 0.25)
    ]
    for width, height, frames in sizes:
        estimate = estimate_for(dataclasses.replace(request, width=width, height=height, num_frames=frames), bits)
        if estimate.peak_for(mode) <= estimate.available:
            return f"or make a smaller clip: {width}x{height} with {frames} frames fits here."
    return "no smaller clip fits here either: the weights alone need more than this machine can give."
