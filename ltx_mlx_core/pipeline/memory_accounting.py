"""What both families' memory estimates count with: the estimate itself and how its phases add up,
the memory this process may use, tensor bytes (quantised or not) and a transformer step's activations.

What may be used is Metal's recommended working set on a Mac, else the RAM, times
USABLE_FRACTION; a user who wants ltx-mlx to plan within less (other work on the
machine) sets LTX_MLX_MEMORY_LIMIT_BYTES, which is used as given.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.weights.quantize import GROUP_SIZE
from ltx_mlx_core.weights.residency import ResidencyMode

GIB = 1 << 30
MIB = 1 << 20
# Share of physical memory we plan to use: the OS, the app and other programs need the rest.
USABLE_FRACTION = 0.75
# Activation bytes per (token x model width x dtype byte) of a transformer step evaluated block by
# block with the loops' defaults (pipeline/block_eval.py, two blocks in flight, two operations per
# command buffer): the intermediates of the blocks in flight. Measured on an H200, then rounded up
# (docs/PERFORMANCE.md, "Memory planning"; docs/perf/h200-2026-12-03-step-memory.json): 27.1 for
# LTX-Video 2B and 13B; for LTX-2.3 17.1 with one noise level per entry (text to video) and 27.1
# with per-token noise levels (conditioning media).
ACTIVATION_FACTOR = 30
LTX2_ACTIVATION_FACTOR = 20
LTX2_PER_TOKEN_ACTIVATION_FACTOR = 30
# Bytes per attention score (float32 softmax) where the scores are materialised.
SCORE_BYTES = 4
# A user's cap on the memory generation plans to use, in bytes (e.g. 17179869184 for 16 GiB).
MEMORY_LIMIT_ENV = "LTX_MLX_MEMORY_LIMIT_BYTES"
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
# Streamed transformer blocks whose weights are in memory at once: the one running and the next being read.
STREAMED_BLOCKS_RESIDENT = 2


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of each component (quantised as `quantize_bits` says) and of the largest working set."""

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
    def streamed_transformer(self) -> int:
        """The transformer's bytes in memory while its blocks stream: its other weights and a couple of
        blocks (quantised ones stream from the quantised cache, so these are quantised bytes too)."""
        one_block = self.transformer_blocks // max(1, self.num_blocks)
        return self.transformer - self.transformer_blocks + STREAMED_BLOCKS_RESIDENT * one_block

    def peak_for(self, mode: ResidencyMode) -> int:
        """Most bytes held at once in `mode`, as the pipelines sequence the components.

        Resident: everything. Streaming: the text encoder alone (its working set, the prompts'
        hidden states, is counted in it); then the transformer (all of it, or `streamed_transformer`)
        with the upsampler, and the VAE only when conditioning media are encoded, plus the
        activations; then the VAE alone with the activations (the larger of a step's and a decode's).
        """
        if mode is ResidencyMode.RESIDENT:
            return self.text_encoder + self.transformer + self.vae + self.upsampler + self.activations
        transformer = self.streamed_transformer if mode is ResidencyMode.STREAM_BLOCKS else self.transformer
        with_transformer = transformer + self.upsampler + (self.vae if self.vae_during_passes else 0)
        return max(self.text_encoder, max(with_transformer, self.vae) + self.activations)

    def __str__(self) -> str:
        return (
            f"text encoder {size_text(self.text_encoder)}, transformer {size_text(self.transformer)}, "
            f"VAE {size_text(self.vae)}, upsampler {size_text(self.upsampler)}, "
            f"activations {size_text(self.activations)}; {size_text(self.available)} usable"
        )


def size_text(count: int) -> str:
    """GiB with one decimal; MiB below a tenth of a GiB (small models, small limits)."""
    return f"{count / GIB:.1f} GiB" if count >= GIB // 10 else f"{count / MIB:.0f} MiB"


def attention_is_fused() -> bool:
    """Metal and CUDA run scaled-dot-product attention without storing the score matrix; the CPU does not."""
    return mx.default_device().type != mx.DeviceType.cpu


def available_memory() -> int:
    """What this process may plan to use: the user's LTX_MLX_MEMORY_LIMIT_BYTES when set, else a share
    of Metal's working-set limit on a Mac, else of the RAM."""
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


def bytes_at(
    shapes: dict[str, tuple[int, ...]],
    dtype_bytes: int,
    quantize_bits: int | None = None,
    embeddings: bool = False,
) -> tuple[int, int]:
    """(all tensors, those in transformer blocks) in the compute dtype, linear weights quantised if asked
    (and the token embedding with `embeddings`, as Gemma is quantised)."""
    total = blocks = 0
    for name, shape in shapes.items():
        count = math.prod(shape)
        size = count * dtype_bytes
        quantized = is_quantized_linear(name, shape) or (
            embeddings and "embed_tokens" in name and shape[-1] % GROUP_SIZE == 0
        )
        if quantize_bits and quantized:
            # packed weights plus a scale and a bias (compute dtype) per group
            size = count * quantize_bits // 8 + count // GROUP_SIZE * 2 * dtype_bytes
        total += size
        if name.startswith("transformer_blocks."):
            blocks += size
    return total, blocks


def is_quantized_linear(name: str, shape: tuple[int, ...]) -> bool:
    """What quantize.is_quantizable picks, judged by name and shape: 2-D linear weights in whole groups
    (T5's token embedding and relative attention bias are embeddings, left as they are)."""
    if not name.endswith(".weight") or len(shape) != 2 or shape[-1] % GROUP_SIZE:
        return False
    return not any(part in name for part in ("embed", "shared.", "relative_attention_bias"))


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
