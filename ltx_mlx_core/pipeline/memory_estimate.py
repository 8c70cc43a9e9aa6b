"""Memory needed by a request, estimated from file headers before anything loads.

Weights: the byte size of each component at the compute dtype of the request's
pipeline config (read from the safetensors headers, FP8 counted as dequantised,
quantisation as bits per weight plus a scale and bias per group of the linear
weights of the transformer and T5). Activations: the transformer's per-step working
set grows with tokens x width, plus tokens^2 x heads where attention is not fused
(MLX's CPU backend materialises the scores; Metal and CUDA do not); the VAE decode
grows with its largest tile (`tiling.decode_bytes`, the model by which the decode picks its
tiles too). A request is refused only when even the leanest mode cannot fit.

What may be used is Metal's recommended working set on a Mac, else the RAM, times
USABLE_FRACTION; a user who wants ltx-mlx to plan within less (other work on the
machine) sets LTX_MLX_MEMORY_LIMIT_BYTES, which is used as given.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Optional

from ltx_mlx_core.errors import InvalidRequest, OutOfMemoryRisk
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.tiling import TilingConfig, decode_bytes
from ltx_mlx_core.pipeline.config import load_pipeline_config
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.components import ModelComponents, components_of
from ltx_mlx_core.weights.registry import ModelFiles
from ltx_mlx_core.weights.residency import ResidencyMode

logger = logging.getLogger(__name__)

GIB = 1 << 30
MIB = 1 << 20
# Share of physical memory we plan to use: the OS, the app and other programs need the rest.
USABLE_FRACTION = 0.75
# Activation bytes per (token x model width x dtype byte) of a transformer step: hidden states,
# q/k/v, the 4x feed-forward intermediate. Measured, then rounded up: docs/PERFORMANCE.md
# ("Memory planning").
ACTIVATION_FACTOR = 30
# Bytes per attention score (float32 softmax) where the scores are materialised.
SCORE_BYTES = 4
# A user's cap on the memory generation plans to use, in bytes (e.g. 17179869184 for 16 GiB).
MEMORY_LIMIT_ENV = "LTX_MLX_MEMORY_LIMIT_BYTES"
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


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
    # Conditioning media are encoded at the start of each pass, so the VAE joins the transformer then.
    vae_during_passes: bool = False
    quantize_bits: Optional[int] = None

    @property
    def can_stream_blocks(self) -> bool:
        """Quantised transformers cannot stream their blocks (the loader refuses the combination)."""
        return not self.quantize_bits

    def peak_for(self, mode: ResidencyMode) -> int:
        """Most bytes held at once in `mode`, as StageRunner sequences the components.

        Resident: everything. Streaming: T5 alone; then the transformer (all of it, or its
        non-block weights and about two blocks) with the upsampler, and the VAE only when
        conditioning media are encoded; then the VAE alone to decode.
        """
        if mode is ResidencyMode.RESIDENT:
            return self.text_encoder + self.transformer + self.vae + self.upsampler + self.activations
        transformer = self.transformer
        if mode is ResidencyMode.STREAM_BLOCKS:
            one_block = self.transformer_blocks // max(1, self.num_blocks)
            transformer = self.transformer - self.transformer_blocks + 2 * one_block
        with_transformer = transformer + self.upsampler + (self.vae if self.vae_during_passes else 0)
        return max(self.text_encoder, with_transformer, self.vae) + self.activations

    def __str__(self) -> str:
        return (
            f"text encoder {_size(self.text_encoder)}, transformer {_size(self.transformer)}, "
            f"VAE {_size(self.vae)}, upsampler {_size(self.upsampler)}, "
            f"activations {_size(self.activations)}; {_size(self.available)} usable"
        )


def _size(count: int) -> str:
    """GiB with one decimal; MiB below a tenth of a GiB (small models, small limits)."""
    return f"{count / GIB:.1f} GiB" if count >= GIB // 10 else f"{count / MIB:.0f} MiB"


def attention_is_fused() -> bool:
    """Metal and CUDA run scaled-dot-product attention without storing the score matrix; the CPU does not."""
    import mlx.core as mx

    return mx.default_device().type != mx.DeviceType.cpu


def available_memory() -> int:
    """What this process may plan to use: the user's LTX_MLX_MEMORY_LIMIT_BYTES when set, else a share
    of Metal's working-set limit on a Mac, else of the RAM."""
    import mlx.core as mx

    override = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if override:
        try:
            limit = int(float(override))
        except ValueError:
            limit = 0
        if limit <= 0:
            raise InvalidRequest(
                f"{MEMORY_LIMIT_ENV} must be a positive number of bytes (e.g. 17179869184 for 16 GiB); "
                f"got '{override}'. Unset it to plan with the machine's memory."
            )
        return limit
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
        if quantize_bits and _is_quantized_linear(name, shape):
            # packed weights plus a scale and a bias (compute dtype) per group of 64
            size = count * quantize_bits // 8 + count // 64 * 2 * dtype_bytes
        total += size
        if name.startswith("transformer_blocks."):
            blocks += size
    return total, blocks


def _is_quantized_linear(name: str, shape: tuple[int, ...]) -> bool:
    """What quantize.is_quantizable picks, judged by name and shape: 2-D linear weights in whole groups
    (T5's token embedding and relative attention bias are embeddings, left as they are)."""
    if not name.endswith(".weight") or len(shape) != 2 or shape[-1] % 64:
        return False
    return not any(part in name for part in ("embed", "shared.", "relative_attention_bias"))


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
    shapes = components.shapes()
    transformer_shapes, vae_shapes, text_shapes, upsampler_shapes = (
        shapes.transformer, shapes.vae, shapes.text_encoder, shapes.upsampler)
    config = shapes.transformer_config
    transformer, blocks = _bytes_at(transformer_shapes, dtype_bytes, request.quantize_bits)
    vae, _ = _bytes_at(vae_shapes, dtype_bytes)
    text, _ = _bytes_at(text_shapes, dtype_bytes, request.quantize_bits)
    upsampler, _ = _bytes_at(upsampler_shapes, dtype_bytes)
    grid = latent_grid(request.num_frames, request.height, request.width)
    tokens = math.prod(grid)
    batch = len(request.seeds)
    denoise = tokens * config.inner_dim * ACTIVATION_FACTOR * dtype_bytes * batch
    if not attention_is_fused():
        denoise += tokens * tokens * config.num_attention_heads * SCORE_BYTES * batch
    # Planned with the default tiles (a clip smaller than one needs proportionally less); at decode
    # time the pipeline takes the fewest tiles that fit the memory then left, smaller ones if need be.
    decode = decode_bytes(grid, TilingConfig(), dtype_bytes)
    activations = max(denoise, decode)
    return MemoryEstimate(
        text_encoder=text, transformer=transformer, transformer_blocks=blocks, vae=vae,
        upsampler=upsampler, activations=activations, available=available_memory(), num_blocks=config.num_layers,
        vae_during_passes=bool(request.conditioning), quantize_bits=request.quantize_bits,
    )


def check_fits(estimate: MemoryEstimate, requested: str = "auto") -> ResidencyMode:
    """The residency mode to run in; OutOfMemoryRisk with a suggestion when nothing fits."""
    order = [ResidencyMode.RESIDENT, ResidencyMode.STREAM_COMPONENTS, ResidencyMode.STREAM_BLOCKS]
    if not estimate.can_stream_blocks:
        if requested == ResidencyMode.STREAM_BLOCKS.value:
            raise InvalidRequest(
                "Quantisation and the 'stream_blocks' residency cannot be combined; choose one "
                "(8-bit quantisation alone usually saves more memory)."
            )
        order.remove(ResidencyMode.STREAM_BLOCKS)
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
    leanest_mode = order[-1]
    leanest = estimate.peak_for(leanest_mode)
    how = {ResidencyMode.STREAM_BLOCKS: "when streaming transformer blocks from disk",
           ResidencyMode.STREAM_COMPONENTS: "when loading one component at a time"}[leanest_mode]
    unquantised = "turn quantisation off so that transformer blocks can stream from disk (residency 'stream_blocks')"
    quantise = {
        None: "quantise the transformer and text encoder to 8 bits (--quantize 8)",
        8: f"quantise to 4 bits (--quantize 4), {unquantised}",
    }.get(estimate.quantize_bits, unquantised)
    raise OutOfMemoryRisk(
        f"This request needs about {_size(leanest)} even {how}, but only "
        f"{_size(estimate.available)} is usable ({estimate}). Lower the resolution or the frame count, "
        f"{quantise}, or use the 2B model. (FP8 checkpoints are dequantised on load and need as much as bf16.)"
    )
