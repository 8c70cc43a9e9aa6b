"""The reference (PyTorch, `ltx-video` classes) side of the side-by-side benchmark.

Random weights of the same shapes as ours, bf16, the reference's default attention
(PyTorch scaled_dot_product_attention), timed with device synchronisation.
Test-only: imports torch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from ltx_video.models.autoencoders.causal_video_autoencoder import CausalVideoAutoencoder
from ltx_video.models.autoencoders.vae_encode import vae_decode
from ltx_video.models.transformers.transformer3d import Transformer3DModel

TORCH_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}


def torch_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _randomize(module: torch.nn.Module, device: torch.device, dtype: torch.dtype, std: float = 0.02) -> torch.nn.Module:
    """Materialise a meta-device module on `device` with N(0, std) weights (norm scales = 1)."""
    # Cast on the meta device first: materialising float32 then casting would need 1.5x the memory.
    module = module.to(dtype).to_empty(device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.ndim == 1 and name.endswith("weight"):
                param.fill_(1.0)
            else:
                param.normal_(0.0, std, generator=generator)
        for buffer in module.buffers():
            if buffer.is_floating_point():
                buffer.normal_(0.0, std, generator=generator)
    return module.eval()


def time_torch(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int) -> dict[str, Any]:
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        _synchronize(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            _synchronize(device)
            samples.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else 0
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "repeats": repeats,
        "peak_memory_bytes": int(peak),
    }


def reference_transformer(config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Transformer3DModel:
    with torch.device("meta"):
        model = Transformer3DModel(**config)
    return _randomize(model, device, dtype)


def transformer_step(
    model: Transformer3DModel,
    tokens: int,
    grid: torch.Tensor,
    text_tokens: int,
    device: torch.device,
    dtype: torch.dtype,
) -> Callable[[], Any]:
    generator = torch.Generator(device=device).manual_seed(1)
    latents = torch.randn(1, tokens, model.config.in_channels, generator=generator, device=device).to(dtype)
    text = torch.randn(1, text_tokens, model.config.caption_channels, generator=generator, device=device).to(dtype)
    mask = torch.ones(1, text_tokens, device=device, dtype=torch.long)
    timestep = torch.full((1,), 0.9, device=device)
    grid = grid.to(device)

    def step() -> Any:
        return model(
            latents, grid, encoder_hidden_states=text, timestep=timestep, encoder_attention_mask=mask, return_dict=False
        )[0]

    return step


def reference_vae(config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> CausalVideoAutoencoder:
    with torch.device("meta"):
        vae = CausalVideoAutoencoder.from_config(config)
    vae = _randomize(vae, device, dtype)
    # Per-channel latent statistics arrive with a checkpoint's state dict; random ones here.
    channels = config["latent_channels"]
    vae.register_buffer("std_of_means", torch.rand(channels, device=device, dtype=dtype) + 0.5)
    vae.register_buffer("mean_of_means", torch.randn(channels, device=device, dtype=dtype) * 0.3)
    return vae


def vae_decode_step(
    vae: CausalVideoAutoencoder, latent_grid: tuple[int, int, int], device: torch.device, dtype: torch.dtype
) -> Callable[[], Any]:
    """What the reference pipeline does to decode: noise mix at the decode timestep, then vae_decode."""
    f, h, w = latent_grid
    generator = torch.Generator(device=device).manual_seed(2)
    latents = torch.randn(1, 128, f, h, w, generator=generator, device=device).to(dtype)
    timestep = torch.tensor([0.05], device=device)

    def decode() -> Any:
        noise = torch.randn(latents.shape, generator=generator, device=device, dtype=dtype)
        noised = latents * (1 - 0.025) + noise * 0.025
        return vae_decode(noised, vae, is_video=True, vae_per_channel_normalize=True, timestep=timestep)

    return decode
