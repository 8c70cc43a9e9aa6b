"""The reference (PyTorch, ltx-core 1.0.0) side of the LTX-2 side-by-side benchmark.

ltx-core's `LTXModel` and video decoder built from the release's config sections (the same shapes
as ours: tests/parity/test_ltx2_parameter_counts.py), random bf16 weights, fed the same inputs as
our step (converted from MLX), timed with device synchronisation. Test-only: imports torch.
Import `tests.parity.ltx2_reference` first where torchaudio is missing (the CPU venv); the GPU
image has a real torchaudio.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import mlx.core as mx
import numpy as np
import torch

# The CPU venv has no torchaudio, which ltx-core's audio package imports: the stand-in, unless a test of
# this session already put it in place (its module has no spec, which find_spec refuses).
if "torchaudio" not in sys.modules and importlib.util.find_spec("torchaudio") is None:
    from tests.parity import ltx2_reference  # noqa: F401

# isort: split
from ltx_core.guidance.perturbations import BatchedPerturbationConfig
from ltx_core.model.transformer import LTXModelConfigurator, Modality
from ltx_core.model.video_vae import VideoDecoderConfigurator

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import ModalityInput

# Values ltx-core's configurators insist on (as tests/parity/ltx2_transformer_helpers.py's _CHECKED;
# not imported from there because that module imports diffusers, which the GPU image lacks).
_CHECKED = dict(
    dropout=0.0,
    attention_bias=True,
    num_vector_embeds=None,
    activation_fn="gelu-approximate",
    num_embeds_ada_norm=1000,
    use_linear_projection=False,
    only_cross_attention=False,
    cross_attention_norm=True,
    double_self_attention=False,
    upcast_attention=False,
    standardization_norm="rms_norm",
    norm_elementwise_affine=False,
    qk_norm="rms_norm",
    positional_embedding_type="rope",
    use_audio_video_cross_attention=True,
    share_ff=False,
    av_cross_ada_norm=True,
    use_middle_indices_grid=True,
)


def torch_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_torch(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int) -> dict[str, Any]:
    """Median seconds of `fn` after `warmup` calls, and the peak allocated memory while timing."""
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            _sync(device)
            samples.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else 0
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "repeats": len(samples),
        "peak_memory_bytes": int(peak),
    }


def _randomize(module: torch.nn.Module, device: torch.device, dtype: torch.dtype, std: float = 0.02):
    """Materialise a meta-device module on `device` with N(0, std) weights (norm scales = 1)."""
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


def official_transformer_config(config: LTX2Config) -> dict[str, Any]:
    """The checkpoint-embedded `transformer` section for one of our configs."""
    values = dataclasses.asdict(config)
    values.pop("video_only")
    return dict(_CHECKED, **values)


def reference_transformer(config: LTX2Config, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    with torch.device("meta"):
        model = LTXModelConfigurator.from_config({"transformer": official_transformer_config(config)})
    return _randomize(model, device, dtype)


def to_torch(value: mx.array, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    tensor = torch.from_numpy(np.array(value.astype(mx.float32))).to(device)
    return tensor if dtype is None else tensor.to(dtype)


def reference_modality(ours: ModalityInput, device: torch.device, dtype: torch.dtype) -> Modality:
    """Our step's inputs for ltx-core: per-token timesteps [B, T] (what its denoise loop passes)."""
    tokens = ours.latent.shape[1]
    timesteps = to_torch(ours.timesteps, device).expand(ours.latent.shape[0], tokens).contiguous()
    return Modality(
        latent=to_torch(ours.latent, device, dtype),
        sigma=to_torch(ours.sigma, device),
        timesteps=timesteps,
        positions=to_torch(ours.positions, device),
        context=to_torch(ours.context, device, dtype),
        context_mask=None,
    )


def reference_step(
    model: torch.nn.Module, video: ModalityInput, audio: ModalityInput | None, dtype: torch.dtype
) -> Callable[[], Any]:
    device = next(model.parameters()).device
    ref_video = reference_modality(video, device, dtype)
    ref_audio = None if audio is None else reference_modality(audio, device, dtype)
    perturbations = BatchedPerturbationConfig.empty(video.latent.shape[0])
    return lambda: model(ref_video, ref_audio, perturbations)


def reference_video_decoder(vae_config: dict, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    with torch.device("meta"):
        decoder = VideoDecoderConfigurator.from_config({"vae": copy.deepcopy(vae_config)})
    decoder = _randomize(decoder, device, dtype)
    with torch.no_grad():  # statistics of a trained VAE: std 1 keeps the random latents' scale
        decoder.per_channel_statistics.get_buffer("std-of-means").fill_(1.0)
        decoder.per_channel_statistics.get_buffer("mean-of-means").zero_()
    return decoder


def reference_decode(decoder: torch.nn.Module, latents_cl: mx.array, dtype: torch.dtype) -> Callable[[], Any]:
    """ltx-core's decode of our channels-last latents [B, F, h, w, C], whole clip at once."""
    device = next(decoder.parameters()).device
    latents = to_torch(latents_cl, device, dtype).permute(0, 4, 1, 2, 3).contiguous()
    return lambda: decoder(latents)
