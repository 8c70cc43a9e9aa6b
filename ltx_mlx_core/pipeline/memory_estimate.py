"""Memory needed by a request, estimated from file headers before anything loads (both families).

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

LTX-2 adds Gemma and the text connectors (in the streaming modes freed before the transformer loads),
audio tokens, the audio VAE and vocoder; an uninstalled model is sized from its release's configs.
`plan_memory` picks the residency and quantisation that fit, and refuses naming what would fit.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from ltx_mlx_core.errors import InvalidRequest, ModelNotInstalled, OutOfMemoryRisk
from ltx_mlx_core.models.ltxv.text_encoding import DEFAULT_MAX_TOKENS
from ltx_mlx_core.pipeline.config import load_pipeline_config
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.tiling import TilingConfig, decode_bytes
from ltx_mlx_core.weights.catalog import CATALOG
from ltx_mlx_core.weights.components import ModelComponents, components_of
from ltx_mlx_core.weights.registry import LTX2, ModelFiles, resolve_model
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.shapes_ltx2 import LTX2ComponentShapes, full_size_shapes

logger = logging.getLogger(__name__)

GIB = 1 << 30
MIB = 1 << 20
# Share of physical memory we plan to use: the OS, the app and other programs need the rest.
USABLE_FRACTION = 0.75
# Activation bytes per (token x model width x dtype byte) of a transformer step evaluated block by
# block with the loops' defaults (pipeline/block_eval.py): the intermediates of the blocks in flight.
# Measured on an H200, then rounded up (docs/PERFORMANCE.md, "Memory planning"): 47.2 for LTX-Video
# 2B and 13B (two blocks in flight); for LTX-2.3 (one block in flight) 62.5 with one noise level per
# entry (text to video) and 79.8 with per-token noise levels (conditioning media).
ACTIVATION_FACTOR = 50
LTX2_ACTIVATION_FACTOR = 70
LTX2_PER_TOKEN_ACTIVATION_FACTOR = 85
# Bytes per attention score (float32 softmax) where the scores are materialised.
SCORE_BYTES = 4
# A user's cap on the memory generation plans to use, in bytes (e.g. 17179869184 for 16 GiB).
MEMORY_LIMIT_ENV = "LTX_MLX_MEMORY_LIMIT_BYTES"
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
# LTX-2: audio latents per second of video (16 kHz mel, hop 160, four mel frames per latent).
AUDIO_LATENTS_PER_SECOND = 25
# Dev models' guidance terms (CFG, STG, modality isolation) run as batch entries beside the conditional one.
DEV_GUIDANCE_PASSES = 4
# Gemma's fixed prompt length (the references pad every prompt to it).
PROMPT_TOKENS = 1024


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
    quantize_bits: int | None = None

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
    shapes: dict[str, tuple[int, ...]],
    dtype_bytes: int,
    quantize_bits: int | None = None,
    embeddings: bool = False,
) -> tuple[int, int]:
    """(all tensors, those in transformer blocks) in the compute dtype, linear weights quantised if asked
    (and the token embedding with `embeddings`, as Gemma is quantised)."""
    total = blocks = 0
    for name, shape in shapes.items():
        count = _element_count(shape)
        size = count * dtype_bytes
        quantized = _is_quantized_linear(name, shape) or (embeddings and "embed_tokens" in name and shape[-1] % 64 == 0)
        if quantize_bits and quantized:
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
    transformer, blocks = _bytes_at(transformer_shapes, dtype_bytes, request.quantize_bits)
    vae, _ = _bytes_at(vae_shapes, dtype_bytes)
    text, _ = _bytes_at(text_shapes, dtype_bytes, request.quantize_bits)
    upsampler, _ = _bytes_at(upsampler_shapes, dtype_bytes)
    grid = latent_grid(request.num_frames, request.height, request.width)
    text_tokens = DEFAULT_MAX_TOKENS  # T5 prompts are padded to it
    denoise = step_activations(
        math.prod(grid), config.inner_dim, config.num_attention_heads, dtype_bytes, text_tokens=text_tokens
    )
    denoise *= len(request.seeds)
    # Planned with the default tiles (a clip smaller than one needs proportionally less); at decode
    # time the pipeline takes the fewest tiles that fit the memory then left, smaller ones if need be.
    decode = decode_bytes(grid, TilingConfig(), dtype_bytes)
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
        candidates = order[order.index(mode) :]
    else:
        candidates = order
    for mode in candidates:
        if estimate.peak_for(mode) <= estimate.available:
            if requested not in ("auto", mode.value):
                logger.warning("requested %s does not fit; using %s", requested, mode.value)
            return mode
    leanest_mode = order[-1]
    leanest = estimate.peak_for(leanest_mode)
    how = {
        ResidencyMode.STREAM_BLOCKS: "when streaming transformer blocks from disk",
        ResidencyMode.STREAM_COMPONENTS: "when loading one component at a time",
    }[leanest_mode]
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


def step_activations(
    tokens: int,
    width: int,
    heads: int,
    dtype_bytes: int,
    audio: tuple[int, int, int] = (0, 0, 0),
    text_tokens: int = 0,
    factor: int = ACTIVATION_FACTOR,
) -> int:
    """Bytes one transformer forward holds beyond its weights, for one batch entry: `factor`
    per token x width x dtype byte, plus the attention scores where they are materialised (self-,
    text and, for LTX-2, audio-video cross-attention over `text_tokens` prompt tokens).

    `audio` is (tokens, width, heads) of an LTX-2 model's audio stream; its cross-attention with the
    video runs on the audio heads.
    """
    audio_tokens, audio_width, audio_heads = audio
    total = (tokens * width + audio_tokens * audio_width) * factor * dtype_bytes
    if not attention_is_fused():
        scores = tokens * (tokens + text_tokens) * heads + audio_tokens * (audio_tokens + text_tokens) * audio_heads
        scores += 2 * tokens * audio_tokens * audio_heads
        total += scores * SCORE_BYTES
    return total


# ---- LTX-2 family --------------------------------------------------------------------------------


def _gemma_states(gemma: dict[str, tuple[int, ...]]) -> tuple[int, int]:
    """(hidden states the connectors read: embeddings and every layer's output, their width)."""
    layers = {name.split("layers.")[1].split(".")[0] for name in gemma if "layers." in name}
    width = next((shape[-1] for name, shape in gemma.items() if "embed_tokens" in name), 0)
    return len(layers) + 1, width


def estimate_ltx2_memory(
    request: GenerationRequest,
    shapes: LTX2ComponentShapes,
    variant: str,
    dtype_bytes: int,
    bits: int | None,
) -> MemoryEstimate:
    """An LTX-2 request's memory from its model's shapes, with `bits`-bit weights (None: unquantised).

    The text phase holds Gemma and the text connectors with the prompts' hidden states; the
    decode phase the video VAE, the audio VAE and the vocoder. The transformer's activations cover
    video and audio tokens at the final resolution (the largest stage) for every guidance pass.
    """
    config, guided = shapes.transformer_config, variant == "dev"
    gemma, _ = _bytes_at(shapes.gemma, dtype_bytes, bits, embeddings=True)
    text_path, _ = _bytes_at(shapes.text_path, dtype_bytes)
    states, width = _gemma_states(shapes.gemma)
    prompts = (2 if guided else 1) * len(request.seeds)
    hidden = states * PROMPT_TOKENS * width * dtype_bytes * prompts
    transformer, blocks = _bytes_at(shapes.transformer, dtype_bytes, bits)
    decoders = sum(_bytes_at(part, dtype_bytes)[0] for part in (shapes.video_vae, shapes.audio_vae, shapes.vocoder))
    upsampler, _ = _bytes_at(shapes.upsampler, dtype_bytes)
    grid = latent_grid(request.num_frames, request.height, request.width)
    video_tokens = math.prod(grid)
    audio_tokens = math.ceil(request.num_frames / request.fps * AUDIO_LATENTS_PER_SECOND) + 1 if config.has_audio else 0
    passes = len(request.seeds) * (DEV_GUIDANCE_PASSES if guided else 1)
    audio = (audio_tokens, config.audio_inner_dim, config.audio_num_attention_heads) if audio_tokens else (0, 0, 0)
    denoise = step_activations(
        video_tokens, config.inner_dim, config.num_attention_heads, dtype_bytes, audio, PROMPT_TOKENS,
        LTX2_PER_TOKEN_ACTIVATION_FACTOR if request.conditioning else LTX2_ACTIVATION_FACTOR,
    )  # fmt: skip
    denoise *= passes
    decode = decode_bytes(grid, TilingConfig(), dtype_bytes)
    return MemoryEstimate(
        text_encoder=gemma + text_path + hidden,
        transformer=transformer,
        transformer_blocks=blocks,
        vae=decoders,
        upsampler=upsampler,
        activations=max(denoise, decode),
        available=available_memory(),
        num_blocks=config.num_layers,
        vae_during_passes=bool(request.conditioning),
        quantize_bits=bits,
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
        return f"{self.choice}: about {_size(self.estimate.peak_for(self.residency))} at peak"


_R, _SC, _SB = ResidencyMode.RESIDENT, ResidencyMode.STREAM_COMPONENTS, ResidencyMode.STREAM_BLOCKS
# Candidates in order of preference: quality first (full precision, 8-bit, 4-bit), then speed (resident,
# one component at a time, blocks streamed from disk every step).
PLAN_ORDER = ((None, _R), (None, _SC), (8, _R), (8, _SC), (None, _SB), (4, _R), (4, _SC))
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
) -> MemoryPlan:
    """The first of PLAN_ORDER that fits this machine, within what the request fixes (its `quantize_bits`;
    a `residency` other than "auto", or a leaner one); OutOfMemoryRisk naming what would fit.

    `model` defaults to the request's model id; a catalog LTX-2 model that is not downloaded is
    planned from its release's configs.
    """
    estimate_for = _estimator(request, request.model if model is None else model, dtype_bytes)
    modes = [_R, _SC, _SB]
    allowed = modes if request.residency == "auto" else modes[modes.index(ResidencyMode(request.residency)) :]
    candidates = [
        (bits, mode) for bits, mode in PLAN_ORDER if request.quantize_bits in (None, bits) and mode in allowed
    ]
    if not candidates:
        raise InvalidRequest(
            f"Quantisation ({request.quantize_bits} bits) and the '{request.residency}' residency cannot be combined; "
            "choose one (8-bit quantisation alone usually saves more memory)."
        )
    estimates = {bits: estimate_for(request, bits) for bits in dict.fromkeys(bits for bits, _ in candidates)}
    for bits, mode in candidates:
        if estimates[bits].peak_for(mode) <= estimates[bits].available:
            return MemoryPlan(mode, bits, estimates[bits])
    bits, mode = min(candidates, key=lambda c: estimates[c[0]].peak_for(c[1]))
    leanest = MemoryPlan(mode, bits, estimates[bits])
    need = _size(leanest.estimate.peak_for(mode))
    raise OutOfMemoryRisk(
        f"This request needs about {need} even with {leanest.choice}, but only "
        f"{_size(leanest.estimate.available)} is usable ({leanest.estimate}). It would fit on a machine where {need} "
        f"can be used (or with more allowed by {MEMORY_LIMIT_ENV}); {_smaller_clip(request, estimate_for, bits, mode)}"
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
