"""The reference's whole multi-scale distilled generation with random weights, for the side-by-side benchmark.

`LTXMultiScalePipeline` over an `LTXVideoPipeline` holding a random T5 encoder, transformer,
VAE and latent upsampler of the given shapes, called as the reference CLI (ltx_video/inference.py)
calls it with a distilled config: text-to-video, output frames as a tensor. Everything stays on
the device, as the reference keeps it. Test-only: imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import reference_workloads as ref
import torch
from ltx_video.models.autoencoders.latent_upsampler import LatentUpsampler
from ltx_video.models.transformers.symmetric_patchifier import SymmetricPatchifier
from ltx_video.pipelines.pipeline_ltx_video import LTXMultiScalePipeline, LTXVideoPipeline
from ltx_video.schedulers.rf import RectifiedFlowScheduler
from ltx_video.utils.skip_layer_strategy import SkipLayerStrategy
from transformers import AutoTokenizer, T5Config, T5EncoderModel

PROMPT = "a red boat moves slowly on a calm blue sea at sunset, camera pans"


def reference_text_encoder(t5_config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> T5EncoderModel:
    with torch.device("meta"):
        model = T5EncoderModel(T5Config(**t5_config))
    return ref._randomize(model, device, dtype)


def reference_upsampler(config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> LatentUpsampler:
    with torch.device("meta"):
        model = LatentUpsampler.from_config(dict(config))
    return ref._randomize(model, device, dtype)


def build_pipeline(
    transformer_config: dict,
    vae_config: dict,
    upsampler_config: dict,
    t5_config: dict,
    tokenizer_dir: Path,
    device: torch.device,
    dtype: torch.dtype,
) -> LTXMultiScalePipeline:
    video = LTXVideoPipeline(
        tokenizer=AutoTokenizer.from_pretrained(str(tokenizer_dir)),
        text_encoder=reference_text_encoder(t5_config, device, dtype),
        vae=ref.reference_vae(vae_config, device, dtype),
        transformer=ref.reference_transformer(transformer_config, device, dtype),
        scheduler=RectifiedFlowScheduler(sampler="LinearQuadratic"),
        patchifier=SymmetricPatchifier(patch_size=1),
        prompt_enhancer_image_caption_model=None,
        prompt_enhancer_image_caption_processor=None,
        prompt_enhancer_llm_model=None,
        prompt_enhancer_llm_tokenizer=None,
    )
    video.set_progress_bar_config(disable=True)
    # The reference CLI casts transformer, VAE and T5 to bf16 and leaves the upsampler in float32.
    return LTXMultiScalePipeline(video, reference_upsampler(upsampler_config, device, torch.float32))


def generation(
    pipeline: LTXMultiScalePipeline,
    config: dict[str, Any],
    width: int,
    height: int,
    frames: int,
    fps: float,
    device: torch.device,
) -> Callable[[], Any]:
    """One text-to-video generation with the YAML's passes (`config` is a distilled pipeline YAML)."""
    generator = torch.Generator(device=device).manual_seed(0)
    passes = {name: {k: v for k, v in config[name].items()} for name in ("first_pass", "second_pass")}

    def generate() -> Any:
        return pipeline(
            downscale_factor=config["downscale_factor"],
            first_pass=passes["first_pass"],
            second_pass=passes["second_pass"],
            prompt=PROMPT,
            negative_prompt="",
            skip_layer_strategy=SkipLayerStrategy.AttentionValues,
            generator=generator,
            output_type="pt",
            height=height,
            width=width,
            num_frames=frames,
            frame_rate=fps,
            conditioning_items=None,
            is_video=True,
            vae_per_channel_normalize=True,
            image_cond_noise_scale=0.15,
            decode_timestep=config["decode_timestep"],
            decode_noise_scale=config["decode_noise_scale"],
            stochastic_sampling=config.get("stochastic_sampling", False),
            mixed_precision=False,
            offload_to_cpu=False,
            device=device.type,
            enhance_prompt=False,
        ).images

    return generate
