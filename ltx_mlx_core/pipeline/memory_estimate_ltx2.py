"""An LTX-2 family request's memory, from its model's tensor shapes (file headers, or the release's
configs for a model not downloaded): nothing is loaded.

Beyond what LTX-Video counts: Gemma and the text connectors (one after the other, see
pipeline/ltx2/prompts.py), audio tokens, the guidance passes of dev models, and the audio VAE and
vocoder beside the video VAE at decode.
"""

from __future__ import annotations

import math

from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.memory_accounting import (
    LTX2_ACTIVATION_FACTOR,
    LTX2_PER_TOKEN_ACTIVATION_FACTOR,
    MemoryEstimate,
    available_memory,
    bytes_at,
    step_activations,
)
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.tiling import TilingConfig, decode_bytes
from ltx_mlx_core.weights.shapes_ltx2 import LTX2ComponentShapes

# LTX-2: audio latents per second of video (16 kHz mel, hop 160, four mel frames per latent).
AUDIO_LATENTS_PER_SECOND = 25
# Dev models' guidance terms (CFG, STG, modality isolation) run as batch entries beside the conditional one.
DEV_GUIDANCE_PASSES = 4
# Gemma's fixed prompt length (the references pad every prompt to it).
PROMPT_TOKENS = 1024


def _gemma_states(gemma: dict[str, tuple[int, ...]]) -> tuple[int, int]:
    """(hidden states the connectors read: embeddings and every layer's output, their width)."""
    layers = {name.split("layers.")[1].split(".")[0] for name in gemma if "layers." in name}
    width = next((shape[-1] for name, shape in gemma.items() if "embed_tokens" in name), 0)
    return len(layers) + 1, width


def text_phase_bytes(
    request: GenerationRequest, shapes: LTX2ComponentShapes, guided: bool, dtype_bytes: int, bits: int | None
) -> int:
    """The larger of Gemma with the prompts' hidden states and, once Gemma is freed, the text connectors
    with those states and the feature extractor's normalised copy of them."""
    gemma, _ = bytes_at(shapes.gemma, dtype_bytes, bits, embeddings=True)
    connectors, _ = bytes_at(shapes.text_path, dtype_bytes)
    states, width = _gemma_states(shapes.gemma)
    prompts = (2 if guided else 1) * len(request.seeds)
    hidden = states * PROMPT_TOKENS * width * dtype_bytes * prompts
    return max(gemma + hidden, connectors + 2 * hidden)


def estimate_ltx2_memory(
    request: GenerationRequest,
    shapes: LTX2ComponentShapes,
    variant: str,
    dtype_bytes: int,
    bits: int | None,
) -> MemoryEstimate:
    """An LTX-2 request's memory from its model's shapes, with `bits`-bit weights (None: unquantised).

    The text phase is `text_phase_bytes`; the decode phase holds the video VAE, the audio VAE and
    the vocoder. The transformer's activations cover video and audio tokens at the final resolution
    (the largest stage) for every guidance pass.
    """
    config, guided = shapes.transformer_config, variant == "dev"
    transformer, blocks = bytes_at(shapes.transformer, dtype_bytes, bits)
    decoders = sum(bytes_at(part, dtype_bytes)[0] for part in (shapes.video_vae, shapes.audio_vae, shapes.vocoder))
    upsampler, _ = bytes_at(shapes.upsampler, dtype_bytes)
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
        text_encoder=text_phase_bytes(request, shapes, guided, dtype_bytes, bits),
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
