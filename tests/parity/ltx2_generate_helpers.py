"""The tiny parity models behind our real `Pipeline.generate`: a `ModelComponents` over a parity `Stack`.

The stack's transformer, video VAE and upsampler (ours, with the reference's weights) and a tiny
audio VAE and LTX-2.3 vocoder (with extension) written through the official checkpoint layout are
handed out as an installed model's would be. The text path is not part of these proofs: the
prompt's embeddings are put in the process's prompt cache, so Gemma is never asked for.

Also here: a request run through `Pipeline.generate` with its stage checkpoints read back
(`generate`), the same media for the reference's seams (files decoded once, then each side's own
resize and crop; sound as our mel spectrogram through the reference's encoder), and LoRA files with
a reference model fused by ltx-core's own loader from a bfloat16-valued checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import torch
from mlx.utils import tree_flatten
from safetensors.torch import save_file

from tests.parity import ltx2_reference  # noqa: F401  (the torchaudio stand-in first)

# isort: split
import ltx_pipelines.utils.helpers as reference_helpers
from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps, SingleGPUModelBuilder
from ltx_core.model.transformer import LTXV_MODEL_COMFY_RENAMING_MAP, LTXModelConfigurator
from ltx_pipelines.retake import TemporalRegionMask
from ltx_pipelines.utils.media_io import normalize_latent, resize_and_center_crop

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.keys import load_transformer
from ltx_mlx_core.models.ltx2.mel import waveform_to_mel
from ltx_mlx_core.pipeline.decode import TilingConfig
from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.ltx2.prompt_cache import PROMPT_CACHE
from ltx_mlx_core.pipeline.ltx2.prompts import cache_key
from ltx_mlx_core.pipeline.pipeline import Pipeline, PipelineSettings
from ltx_mlx_core.pipeline.request import DEFAULT_NEGATIVE_PROMPT, GenerationRequest
from ltx_mlx_core.weights.registry import LTX2
from ltx_mlx_core.weights.shapes_ltx2 import LTX2ComponentShapes
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_audio_helpers import (
    mlx_audio_vae_via_checkpoint,
    mlx_vocoder_via_checkpoint,
    official_audio_vae_config,
    official_vocoder_config,
    reference_audio_vae,
    reference_vocoder,
)
from tests.parity.ltx2_pipeline_reference import CPU, PIPELINE_LTX23, Stack, build_stack, video_channels_first
from tests.parity.ltx2_transformer_helpers import OFFICIAL_PREFIX, official_weights

# The pipelines' audio latents: 8 channels x 16 bins (64 mel bins / 4), the statistics' size 128.
PIPELINE_AUDIO_VAE = official_audio_vae_config(ch=128, z_channels=8, mel_bins=64, ch_mult=[1, 1, 1], num_res_blocks=1)


@dataclass
class AudioModels:
    reference_encoder: Any
    reference_decoder: Any
    reference_vocoder: Any
    audio_vae: Any
    vocoder: Any


def build_audio(folder: Path) -> AudioModels:
    encoder, decoder = reference_audio_vae(PIPELINE_AUDIO_VAE, seed=4)
    vocoder_config = official_vocoder_config(bwe=True)
    vocoder = reference_vocoder(vocoder_config, seed=5)
    ours_vae = mlx_audio_vae_via_checkpoint(encoder, decoder, PIPELINE_AUDIO_VAE, folder / "audio_vae.safetensors")
    ours_vocoder = mlx_vocoder_via_checkpoint(vocoder, vocoder_config, folder / "vocoder.safetensors")
    return AudioModels(encoder, decoder, vocoder, ours_vae, ours_vocoder)


def _shapes(module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in tree_flatten(module.parameters())}


class StackComponents:
    """An LTX-2.3 distilled (or dev) model made of the parity stack's modules."""

    family = LTX2
    version = "2.3"
    config = None
    has_upsampler = True
    has_temporal_upsampler = False

    def __init__(
        self, stack: Stack, audio: AudioModels, variant: str = "distilled", distilled_lora: Path | None = None
    ):
        self.stack, self.audio = stack, audio
        self.variant = variant
        self.model_id = f"ltx2-parity-{variant}"
        self.distilled_lora = distilled_lora
        self.transformer_loads = 0

    def cache_identity(self) -> tuple[Any, ...]:
        return ("parity", id(self.stack), self.variant)

    def shapes(self) -> LTX2ComponentShapes:
        transformer = self.stack.transformers[0]
        return LTX2ComponentShapes(
            gemma={},
            text_path={},
            transformer=_shapes(transformer),
            video_vae=_shapes(self.stack.vae),
            audio_vae=_shapes(self.audio.audio_vae),
            vocoder=_shapes(self.audio.vocoder),
            upsampler=_shapes(self.stack.our_upsampler),
            transformer_config=transformer.config,
        )

    def load_transformer(self, dtype, quantize_bits, residency):
        self.transformer_loads += 1
        return self.stack.transformers[0]

    def load_vae(self, dtype):
        return self.stack.vae

    def load_upsampler(self, dtype):
        return self.stack.our_upsampler

    def load_audio_vae(self, dtype, encoder: bool = True, decoder: bool = True):
        return self.audio.audio_vae

    def load_vocoder(self, dtype):
        return self.audio.vocoder

    def load_text_encoder(self, dtype, quantize_bits):
        raise AssertionError("the prompts come from the prompt cache in these proofs")

    def load_embeddings_processor(self, dtype):
        raise AssertionError("the prompts come from the prompt cache in these proofs")

    def load_temporal_upsampler(self, dtype):
        raise AssertionError("no temporal upsampler in these proofs")


def cache_prompt(components: StackComponents, text: str, embeddings: PromptEmbeddings) -> None:
    """Put `embeddings` in the process's prompt cache as the encoding of `text` (float32, unquantised)."""
    PROMPT_CACHE.put(cache_key(components, text, mx.float32, None), embeddings)


# ------------------------------------------------------------------------------ a request, end to end

SEED = 7
FPS = 24.0
PROMPT = "a tiny test prompt"
TWO_STAGES = ("first_pass", "second_pass")
Latents = tuple[mx.array, mx.array]


def generate(
    components: StackComponents,
    job_dir: Path,
    prompt: PromptEmbeddings,
    negative: PromptEmbeddings | None = None,
    stages: tuple[str, ...] = TWO_STAGES,
    overrides: dict[str, Any] | None = None,
    **fields: Any,
) -> tuple[list[Latents], Any]:
    """`Pipeline(components).generate(request)` in float32; each denoising stage's (video, audio) latents read
    back from its checkpoint in `job_dir`, and the run's VideoResult."""
    PROMPT_CACHE.clear()
    cache_prompt(components, PROMPT, prompt)
    if negative is not None:
        cache_prompt(components, DEFAULT_NEGATIVE_PROMPT, negative)
    request = GenerationRequest(
        prompt=PROMPT, model=components.model_id, fps=FPS, seeds=[SEED], job_dir=str(job_dir),
        config_overrides={"compute_dtype": "float32", **(overrides or {})}, **fields,
    )  # fmt: skip
    pipeline = Pipeline(components, PipelineSettings(tiling=TilingConfig.untiled()))
    *_, finished = pipeline.generate(request)
    read = [mx.load(str(job_dir / f"seed{SEED}_{name}.safetensors")) for name in stages]
    return [(arrays["latents"], arrays["audio"]) for arrays in read], finished.result


def stage_errors(stages: list[Latents], reference: list[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
    """Relative max error of each stage's video, then audio latents."""
    assert len(stages) == len(reference)
    measured = []
    for (video, audio), (ref_video, ref_audio) in zip(stages, reference):
        measured.append(relative_max_error(video_channels_first(video), ref_video))
        measured.append(relative_max_error(np.array(audio), ref_audio))
    return measured


# ------------------------------------------------------------------------------ the same media, both sides


def reference_pixels(frames: np.ndarray) -> Callable[[int, int], torch.Tensor]:
    """uint8 frames [F, H, W, 3] as the reference prepares a file's frames for a stage size: each frame through
    its `resize_and_center_crop` and `normalize_latent` -> [1, 3, F, height, width] (float32)."""

    def at(height: int, width: int) -> torch.Tensor:
        prepared = [
            normalize_latent(resize_and_center_crop(torch.from_numpy(f).float(), height, width), CPU, torch.float32)
            for f in frames
        ]
        return torch.cat(prepared, dim=2)

    return at


def reference_sound(audio: AudioModels, samples: np.ndarray, rate: int) -> torch.Tensor:
    """Sound [samples, 2] -> audio latents by the reference encoder from our mel spectrogram (the reference's
    own front end needs torchaudio)."""
    mel = waveform_to_mel(samples.T, rate, audio.audio_vae.config)
    with torch.no_grad():
        return audio.reference_encoder(torch.from_numpy(np.array(mel)))


def hold_reference_audio(monkeypatch, given: torch.Tensor, audio_frames: int) -> int:
    """Make the reference's `noise_audio_state` hold `given` latents [1, C, t, F] from audio latent frame 0 (what
    our audio conditions do); returns t. Retake's region mask keeps exactly the first t latents (their ends fall
    before 4t - 1 mel frames); a stage with its own initial latents (stage 2) keeps them."""
    held = given.shape[2]
    original = reference_helpers.noise_audio_state

    def held_audio_state(output_shape, noiser, conditionings, components, dtype, device, noise_scale=1.0,
                         initial_latent=None):  # fmt: skip
        padded = torch.zeros(1, given.shape[1], audio_frames, given.shape[3])
        padded[:, :, :held] = given[:, :, :held]
        region = TemporalRegionMask(start_time=(4 * held - 1) / 100, end_time=1e9, fps=output_shape.fps)
        initial = padded if initial_latent is None else initial_latent
        return original(output_shape, noiser, [region], components, dtype, device, noise_scale, initial)

    monkeypatch.setattr(reference_helpers, "noise_audio_state", held_audio_state)
    return held


# ------------------------------------------------------------------------------ LoRA files, fused references


def bfloat16_stack(folder: Path) -> tuple[Stack, Path]:
    """The LTX-2.3 pipeline stack on bfloat16-valued transformer weights (what a checkpoint holds), written as an
    official single file; ours and the reference's first transformer are that plain model."""
    stack = build_stack(PIPELINE_LTX23)
    plain = stack.reference_transformers[0]
    with torch.no_grad():
        for parameter in plain.parameters():
            parameter.copy_(parameter.to(torch.bfloat16).float())
    checkpoint = folder / "model.safetensors"
    save_file(
        {OFFICIAL_PREFIX + k: v.to(torch.bfloat16).contiguous() for k, v in plain.state_dict().items()},
        str(checkpoint),
        metadata={"config": json.dumps({"transformer": PIPELINE_LTX23})},
    )
    config = LTX2Config.from_dict({"transformer": PIPELINE_LTX23})
    stack.transformers = [load_transformer(official_weights(plain.state_dict()), config, dtype=mx.float32)]
    return stack, checkpoint


def write_lora(model: torch.nn.Module, path: Path, seed: int, metadata: dict[str, str] | None = None) -> Path:
    """A rank-4 LoRA on every linear layer of `model`, in the official naming."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            out_features, in_features = module.weight.shape
            down = torch.randn(4, in_features, generator=generator) * in_features**-0.5
            tensors[f"diffusion_model.{name}.lora_A.weight"] = down
            tensors[f"diffusion_model.{name}.lora_B.weight"] = torch.randn(out_features, 4, generator=generator) * 0.5
    save_file(tensors, str(path), metadata=metadata)
    return path


def fused_reference(checkpoint: Path, lora: Path, strength: float) -> torch.nn.Module:
    """The checkpoint's transformer with `lora` fused by ltx-core's own loader (as its model ledger builds it)."""
    fused = SingleGPUModelBuilder(
        model_class_configurator=LTXModelConfigurator,
        model_path=str(checkpoint),
        model_sd_ops=LTXV_MODEL_COMFY_RENAMING_MAP,
        loras=(LoraPathStrengthAndSDOps(str(lora), strength, LTXV_LORA_COMFY_RENAMING_MAP),),
    ).build(device=CPU, dtype=torch.float32)
    return fused.to(torch.float32).eval()
