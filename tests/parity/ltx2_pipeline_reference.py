"""Run ltx-pipelines' LTX-2 pipelines on tiny random models in float32, with our noise, beside ours.

The reference pipelines are called as they are (their `__call__`), with four seams replaced:
- the model ledger: a stand-in hands out the tiny reference models (the transformer wrapped
  in ltx-core's `X0Model`, as the ledger does; stage 2 of the dev pipelines gets its own);
- `encode_prompts`: returns the given embeddings (the text path is not part of this proof);
- the noiser: draws, for the k-th call, exactly the noise our stage draws for that stream
  (our keys, the shape the reference asks for), so the same noise enters both;
- the dev scheduler returns our sigmas: they agree with LTX2Scheduler's float32 ones to a few
  ulps (test_ltx2_schedule), but the transformer embeds sigma x 1000, so one ulp moves its
  finest timestep frequencies by ~1e-4; fed the reference's own sigmas, the guided cases
  still agree to 1e-4 (9.9e-5 at worst), with no margin left to measure anything else;
- `torch.bfloat16` inside the pipeline module reads as float32 (the pipelines hard-code
  bfloat16 for their states), and CUDA synchronisation is a no-op on this CPU machine.
The final decode calls only record the latents; each stage's output is recorded where the
pipeline's `denoise_*` helper returns it. Image files are replaced by given pixels.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import numpy as np
import torch

from tests.parity import ltx2_reference  # noqa: F401  (the torchaudio stand-in first)

# isort: split
import ltx_pipelines.utils.helpers as reference_helpers
from ltx_core.model.transformer import X0Model
from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator
from ltx_core.text_encoders.gemma.embeddings_processor import EmbeddingsProcessorOutput
from ltx_core.types import LatentState
from ltx_pipelines.utils.types import PipelineComponents

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.keys import load_transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler, LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.upsampler_keys import sanitize_latent_upsampler
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.models.ltx2.video_vae_keys import sanitize_official_video_vae
from ltx_mlx_core.pipeline.decode import TilingConfig
from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.ltx2.latents import StageKeys
from ltx_mlx_core.pipeline.ltx2.schedule import dev_sigmas
from ltx_mlx_core.pipeline.ltx2.stages import MediaModels
from ltx_mlx_core.pipeline.upsample_tiled import UpsampleTiling
from tests.parity.conftest import torch_to_mlx
from tests.parity.ltx2_transformer_helpers import TINY_LTX2, TINY_LTX23, build_reference, official_weights
from tests.parity.ltx2_vae_reference import TINY_LTX23_VAE, official_state, reference_upsampler
from tests.parity.vae_helpers import randomize_

# The pipelines' latent sizes (128 video channels; 8 x 16 audio features) around tiny blocks.
_CHANNELS = dict(in_channels=128, out_channels=128, audio_in_channels=128, audio_out_channels=128)
PIPELINE_LTX2 = {**TINY_LTX2, **_CHANNELS}
PIPELINE_LTX23 = {**TINY_LTX23, **_CHANNELS}
# The LTX-2.3 VAE layout at 128 latent channels, kept that wide throughout the encoder (x1 levels).
PIPELINE_VAE = copy.deepcopy(TINY_LTX23_VAE)
PIPELINE_VAE["latent_channels"] = 128
PIPELINE_VAE["encoder_blocks"] = [
    [name, {**params, "multiplier": 1}] if "multiplier" in params else [name, params]
    for name, params in PIPELINE_VAE["encoder_blocks"]
]
PIPELINE_UPSAMPLER = {"in_channels": 128, "mid_channels": 32, "num_blocks_per_stage": 1, "dims": 3}
CPU = torch.device("cpu")


def text_channels(config: dict[str, Any]) -> tuple[int, int]:
    if config.get("caption_proj_before_connector", False):
        return config["cross_attention_dim"], config["audio_cross_attention_dim"]
    return config["caption_channels"], config["caption_channels"]


@dataclass
class Prompt:
    """One prompt's embeddings on both sides."""

    reference: EmbeddingsProcessorOutput
    ours: PromptEmbeddings


def random_prompt(config: dict[str, Any], seed: int, length: int = 6) -> Prompt:
    generator = torch.Generator().manual_seed(seed)
    video_width, audio_width = text_channels(config)
    video = torch.randn(1, length, video_width, generator=generator)
    audio = torch.randn(1, length, audio_width, generator=generator)
    reference = EmbeddingsProcessorOutput(video, audio, torch.ones(1, length, dtype=torch.int64))
    return Prompt(reference, PromptEmbeddings(torch_to_mlx(video), torch_to_mlx(audio)))


@dataclass
class Stack:
    """The tiny reference models and ours, with the same weights."""

    reference_transformers: list[torch.nn.Module]
    transformers: list[Any]
    encoder: torch.nn.Module
    decoder: torch.nn.Module
    upsampler: torch.nn.Module
    vae: VideoAutoencoder
    our_upsampler: LatentUpsampler

    def provider(self, index: int) -> Callable[[], Any]:
        return lambda: self.transformers[index]

    def media(self) -> MediaModels:
        return MediaModels(
            vae=lambda: self.vae,
            upsampler=lambda: self.our_upsampler,
            encode_tiling=TilingConfig.untiled(),
            upsample_tiling=UpsampleTiling.untiled(),
        )


def build_stack(config: dict[str, Any], transformers: int = 1) -> Stack:
    references = [build_reference(config, seed=10 + i) for i in range(transformers)]
    ours_config = LTX2Config.from_dict({"transformer": config})
    ours = [load_transformer(official_weights(r.state_dict()), ours_config) for r in references]

    torch.manual_seed(0)
    encoder = VideoEncoderConfigurator.from_config({"vae": copy.deepcopy(PIPELINE_VAE)})
    decoder = VideoDecoderConfigurator.from_config({"vae": copy.deepcopy(PIPELINE_VAE)})
    randomize_(encoder, 0)
    randomize_(decoder, 1)
    generator = torch.Generator().manual_seed(2)
    mean, std = torch.randn(128, generator=generator) * 0.3, torch.rand(128, generator=generator) + 0.5
    for module in (encoder, decoder):
        module.per_channel_statistics.get_buffer("mean-of-means").copy_(mean)
        module.per_channel_statistics.get_buffer("std-of-means").copy_(std)
    vae_config = VideoVAEConfig.from_dict(PIPELINE_VAE)
    vae = VideoAutoencoder(vae_config)
    weights = {k: torch_to_mlx(v.float()) for k, v in official_state(encoder, decoder).items()}
    vae.load_weights(list(sanitize_official_video_vae(weights, vae_config).items()), strict=True)

    upsampler = reference_upsampler(PIPELINE_UPSAMPLER, seed=3)
    our_upsampler = LatentUpsampler(LatentUpsamplerConfig.from_dict(PIPELINE_UPSAMPLER))
    upsampler_weights = {k: torch_to_mlx(v.float()) for k, v in upsampler.state_dict().items()}
    our_upsampler.load_weights(list(sanitize_latent_upsampler(upsampler_weights).items()), strict=True)
    return Stack(references, ours, encoder.eval(), decoder.eval(), upsampler, vae, our_upsampler)


class _Ledger:
    """What the pipelines ask of a `ModelLedger`, from the tiny reference models."""

    def __init__(self, stack: Stack, transformer: int = 0):
        self._stack, self._index = stack, transformer

    def transformer(self) -> X0Model:
        return X0Model(self._stack.reference_transformers[self._index]).eval()

    def with_additional_loras(self, loras: Any) -> _Ledger:
        # The dev pipelines' stage 2 (the distilled LoRA): here simply the next transformer.
        return _Ledger(self._stack, self._index + 1)

    def video_encoder(self) -> torch.nn.Module:
        return self._stack.encoder

    def video_decoder(self) -> torch.nn.Module:
        return self._stack.decoder

    def spatial_upsampler(self) -> torch.nn.Module:
        return self._stack.upsampler

    def audio_encoder(self) -> None:
        return None

    def audio_decoder(self) -> None:
        return None

    def vocoder(self) -> None:
        return None


class _Float32Torch(types.ModuleType):
    """`torch` for a pipeline module: bfloat16 reads as float32."""

    def __getattr__(self, name: str) -> Any:
        return torch.float32 if name == "bfloat16" else getattr(torch, name)


class _OurSigmas:
    """LTX2Scheduler as the pipelines call it (`execute(steps=n)`), giving our sigmas."""

    def execute(self, steps: int, **kwargs: Any) -> torch.Tensor:
        assert not kwargs, "the reference pipelines call the scheduler with the step count alone"
        return torch.tensor(dev_sigmas(steps), dtype=torch.float32)


# Our stage index of each reference noiser call pair (stage 1, then stage 2 after the upsample).
OUR_STAGES = (0, 2)


@dataclass
class Recorder:
    """What the reference run produced: each stage's (video, audio) latents, the final video latents."""

    stages: list[tuple[torch.Tensor, torch.Tensor | None]] = field(default_factory=list)
    final_video: torch.Tensor | None = None
    noise_calls: int = 0


def install(
    monkeypatch,
    module: types.ModuleType,
    stack: Stack,
    prompts: list[Prompt],
    seed: int,
    images: dict[str, Callable[[int, int], torch.Tensor]] | None = None,
    stages: tuple[int, ...] = OUR_STAGES,
) -> Recorder:
    """Patch `module` (an ltx_pipelines pipeline module) for a float32 run on `stack`; returns the recorder."""
    recorder = Recorder()
    key = mx.random.key(seed)

    class ReplayNoiser:
        def __init__(self, generator: torch.Generator):
            pass

        def __call__(self, state: LatentState, noise_scale: float = 1.0) -> LatentState:
            call = recorder.noise_calls
            recorder.noise_calls += 1
            keys = StageKeys.for_stage(key, stages[call // 2])
            draw = mx.random.normal(tuple(state.latent.shape), key=keys.video if call % 2 == 0 else keys.audio)
            noise = torch.from_numpy(np.array(draw)).to(state.latent.dtype)
            scaled = state.denoise_mask * noise_scale
            latent = noise * scaled + state.latent * (1 - scaled)
            return LatentState(latent, state.denoise_mask, state.positions, state.clean_latent, state.attention_mask)

    def record(helper: Callable) -> Callable:
        def wrapped(*args, **kwargs):
            result = helper(*args, **kwargs)
            if isinstance(result, tuple):
                recorder.stages.append((result[0].latent.clone(), result[1].latent.clone()))
            else:
                recorder.stages.append((result.latent.clone(), None))
            return result

        return wrapped

    def decode_video(latent: torch.Tensor, *args, **kwargs) -> None:
        recorder.final_video = latent.clone()

    monkeypatch.setattr(torch.cuda, "synchronize", lambda *args, **kwargs: None)
    monkeypatch.setattr(module, "torch", _Float32Torch("torch"))
    monkeypatch.setattr(module, "GaussianNoiser", ReplayNoiser)
    monkeypatch.setattr(module, "encode_prompts", lambda *args, **kwargs: [p.reference for p in prompts])
    monkeypatch.setattr(module, "vae_decode_video", decode_video)
    if hasattr(module, "vae_decode_audio"):
        monkeypatch.setattr(module, "vae_decode_audio", lambda *args, **kwargs: None)
    for name in ("denoise_audio_video", "denoise_video_only"):
        if hasattr(module, name):
            monkeypatch.setattr(module, name, record(getattr(module, name)))
    if hasattr(module, "LTX2Scheduler"):
        monkeypatch.setattr(module, "LTX2Scheduler", _OurSigmas)
    if images is not None:

        def load_image(image_path: str, height: int, width: int, dtype, device, crf: int = 0) -> torch.Tensor:
            return images[image_path](height, width)

        monkeypatch.setattr(reference_helpers, "load_image_conditioning", load_image)
    return recorder


def make_pipeline(cls: type, stack: Stack) -> Any:
    """An instance of a reference pipeline class on the stand-in ledger (its __init__ would load files)."""
    pipeline = cls.__new__(cls)
    pipeline.device = CPU
    pipeline.dtype = torch.float32
    ledger = _Ledger(stack)
    pipeline.model_ledger = ledger
    pipeline.stage_1_model_ledger = ledger
    pipeline.stage_2_model_ledger = ledger.with_additional_loras(())
    pipeline.pipeline_components = PipelineComponents(dtype=torch.float32, device=CPU)
    return pipeline


def random_image(seed: int, frames: int, height: int, width: int) -> np.ndarray:
    """Pixels [frames, H, W, 3] in [-1, 1]; a smooth pattern plus noise, so the VAE sees structure."""
    generator = np.random.default_rng(seed)
    return np.clip(generator.standard_normal((frames, height, width, 3)) * 0.5, -1, 1).astype(np.float32)


def pixels_at(image: np.ndarray) -> tuple[Callable[[int, int], torch.Tensor], Callable[[int, int], mx.array]]:
    """The same media at any stage size for both sides: full size as given, half size by 2x2 averages."""

    def at(height: int, width: int) -> np.ndarray:
        frames, full_h, full_w = image.shape[:3]
        factor = full_h // height
        assert full_w // width == factor and full_h == height * factor
        return image.reshape(frames, height, factor, width, factor, 3).mean(axis=(2, 4)).astype(np.float32)

    def reference(height: int, width: int) -> torch.Tensor:
        return torch.from_numpy(at(height, width)).permute(3, 0, 1, 2)[None].contiguous()

    def ours(height: int, width: int) -> mx.array:
        return mx.array(at(height, width)[None])

    return reference, ours


def video_channels_first(latents: mx.array) -> np.ndarray:
    return np.array(latents.astype(mx.float32)).transpose(0, 4, 1, 2, 3)
