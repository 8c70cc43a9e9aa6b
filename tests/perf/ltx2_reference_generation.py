"""The reference's whole LTX-2.3 distilled generation and its sound decode, on random weights (PyTorch).

`ref-gen` runs ltx-pipelines 1.0.0's own `DistilledPipeline.__call__` (Gemma + connectors, stage 1
at half size, the x2 upsampler, stage 2, the video decode with its default tiling, the audio decode
and vocoder) with its `ModelLedger` replaced by one that builds each module from the release's config
sections with random weights instead of reading a checkpoint: the seam the pipeline itself uses, so
every module is built when the pipeline asks and dropped when it lets go, as with real files.
Weights are bf16 as the ledger builds them (sound too: the pipeline decodes it in the ledger's dtype).
`ref-audio` is that sound decode alone. The tokenizer is ltx-core's wrapper around our tiny Gemma
tokenizer: prompts are padded to 1024 tokens, so Gemma does the same work as with the real one.
Test-only: imports torch and ltx-pipelines (PyAV, which it imports for media files this never
touches, gets an inert stand-in where it is missing, as on the GPU image).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import mlx.core as mx
import torch

from tests.perf import absent_av  # noqa: F401  (ltx-pipelines imports PyAV, which the GPU image lacks)
from tests.perf import ltx2_reference_workloads as ref
from tests.perf.build_clock import BuildClock, StageClock

# isort: split
from ltx_core.model.audio_vae import AudioDecoderConfigurator, VocoderConfigurator, decode_audio
from ltx_core.model.transformer import X0Model
from ltx_core.model.upsampler import LatentUpsamplerConfigurator
from ltx_core.model.video_vae import TilingConfig, VideoEncoderConfigurator
from ltx_core.text_encoders.gemma import EmbeddingsProcessor, GemmaTextEncoder
from ltx_core.text_encoders.gemma.config import GEMMA3_CONFIG_FOR_LTX
from ltx_core.text_encoders.gemma.embeddings_connector import (
    AudioEmbeddings1DConnectorConfigurator,
    Embeddings1DConnectorConfigurator,
)
from ltx_core.text_encoders.gemma.feature_extractor import FeatureExtractorV2
from ltx_core.text_encoders.gemma.tokenizer import LTXVGemmaTokenizer
from ltx_pipelines import distilled
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.utils.types import PipelineComponents
from transformers import Gemma3Config, Gemma3ForConditionalGeneration

from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig
from ltx_mlx_core.weights.ltx2_full_size import FullSize
from ltx_mlx_core.weights.tiny_tokenizer import write_tiny_gemma_tokenizer

DTYPE = torch.bfloat16  # DistilledPipeline's, for every module and latent
# A vision tower the Gemma 3 wrapper accepts at toy size (the text encoder never runs it).
_TINY_VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                "image_size": 56, "patch_size": 14}  # fmt: skip


def audio_vae_section(config: AudioVAEConfig) -> dict[str, Any]:
    """Our audio VAE config as the checkpoint's `audio_vae` section (what ltx-core's configurators read)."""
    ddconfig = {
        name: getattr(config, name)
        for name in ("ch", "out_ch", "in_channels", "num_res_blocks", "resolution", "z_channels", "double_z",
                     "norm_type", "causality_axis", "mid_block_add_attention", "mel_bins")
    }  # fmt: skip
    ddconfig.update(ch_mult=list(config.ch_mult), attn_resolutions=list(config.attn_resolutions))
    stft = {"hop_length": config.hop_length, "filter_length": config.n_fft, "causal": config.is_causal}
    return {"model": {"params": {"sampling_rate": config.sampling_rate, "ddconfig": ddconfig}},
            "preprocessing": {"stft": stft, "mel": {}}}  # fmt: skip


def _vocoder_part(config: VocoderConfig) -> dict[str, Any]:
    return {
        "resblock_kernel_sizes": list(config.resblock_kernel_sizes),
        "upsample_rates": list(config.upsample_rates),
        "upsample_kernel_sizes": list(config.upsample_kernel_sizes),
        "resblock_dilation_sizes": [list(d) for d in config.resblock_dilation_sizes],
        "upsample_initial_channel": config.upsample_initial_channel,
        "resblock": config.resblock,
        "activation": config.activation,
        "stereo": True,
        "use_tanh_at_final": config.final_activation == "tanh",
        "use_bias_at_final": config.use_bias_at_final,
        "output_sampling_rate": config.output_sampling_rate,
    }


def vocoder_section(config: VocoderConfig | BWEConfig) -> dict[str, Any]:
    """Our vocoder config as the checkpoint's `vocoder` section (nested vocoder + bwe from 2.3 on)."""
    if isinstance(config, VocoderConfig):
        return _vocoder_part(config)
    bwe = _vocoder_part(config.generator)
    bwe.update(input_sampling_rate=config.input_sampling_rate, output_sampling_rate=config.output_sampling_rate,
               n_fft=config.n_fft, hop_length=config.hop_length, num_mels=config.num_mels)  # fmt: skip
    return {"vocoder": _vocoder_part(config.vocoder), "bwe": bwe}


def reference_audio_decoder(config: AudioVAEConfig, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    with torch.device("meta"):
        decoder = AudioDecoderConfigurator.from_config({"audio_vae": audio_vae_section(config)})
    decoder = ref._randomize(decoder, device, dtype)
    with torch.no_grad():  # trained statistics' scale: random latents stay random latents
        decoder.per_channel_statistics.get_buffer("std-of-means").fill_(1.0)
        decoder.per_channel_statistics.get_buffer("mean-of-means").zero_()
    return decoder


def reference_vocoder(config: VocoderConfig | BWEConfig, device: torch.device, dtype: torch.dtype):
    with torch.device("meta"):
        vocoder = VocoderConfigurator.from_config({"vocoder": vocoder_section(config)})
    return ref._randomize(vocoder, device, dtype)


def reference_audio_decode(sizes: FullSize, latents: mx.array, device: torch.device) -> Callable[[], Any]:
    """ltx-core's decode_audio (audio VAE decoder, then the vocoder) of our latents [B, C, T, mel bins]."""
    decoder = reference_audio_decoder(sizes.audio_vae, device, DTYPE)
    vocoder = reference_vocoder(sizes.vocoder, device, DTYPE)
    torch_latents = ref.to_torch(latents, device, DTYPE)
    return lambda: decode_audio(torch_latents, decoder, vocoder)


def _gemma_config(tiny_text: dict[str, Any] | None) -> Gemma3Config:
    if tiny_text is None:
        values = GEMMA3_CONFIG_FOR_LTX.to_dict()
        # Its text part says float32, which left the H200 run's Gemma hidden states in float32 against
        # the bf16 feature extractor ("mat1 and mat2 must have the same dtype"); the official loader
        # loads everything in the pipeline's dtype.
        values["text_config"]["torch_dtype"] = str(DTYPE).removeprefix("torch.")
        return Gemma3Config.from_dict(values)
    text = {k: v for k, v in tiny_text.items() if k not in ("architectures", "model_type")}
    return Gemma3Config(text_config=text, vision_config=_TINY_VISION, mm_tokens_per_image=4)


# The ledger's methods that build a module (the pipeline calls them inside each generation).
_LEDGER_BUILDERS = (
    "text_encoder", "gemma_embeddings_processor", "transformer", "video_encoder", "video_decoder",
    "spatial_upsampler", "audio_decoder", "vocoder",
)  # fmt: skip


class RandomLedger:
    """ModelLedger's interface, each module built with random weights when the pipeline asks for it."""

    def __init__(self, sizes: FullSize, device: torch.device, tiny: bool, tokenizer_dir: Path):
        self.sizes, self.device, self.tiny = sizes, device, tiny
        self.tokenizer_dir = tokenizer_dir
        self.transformer_section = dict(ref.official_transformer_config(sizes.transformer), **sizes.text_path)

    def _random(self, module: torch.nn.Module) -> torch.nn.Module:
        return ref._randomize(module, self.device, DTYPE)

    def text_encoder(self) -> GemmaTextEncoder:
        # Built on the device by transformers itself (its own random init): its RoPE and embedding-scale
        # buffers are then right for the installed transformers, whose module layout ltx-core's
        # loader-side fix-up (create_and_populate) predates.
        default = torch.get_default_dtype()
        torch.set_default_dtype(DTYPE)
        try:
            with torch.device(self.device):
                model = Gemma3ForConditionalGeneration(_gemma_config(self.sizes.gemma if self.tiny else None))
        finally:
            torch.set_default_dtype(default)
        model = model.to(DTYPE)
        tokenizer = LTXVGemmaTokenizer(str(self.tokenizer_dir), 1024)
        return GemmaTextEncoder(model=model, tokenizer=tokenizer, dtype=DTYPE).eval()

    def gemma_embeddings_processor(self) -> EmbeddingsProcessor:
        text = _gemma_config(self.sizes.gemma if self.tiny else None).text_config
        flat = text.hidden_size * (text.num_hidden_layers + 1)
        section = self.transformer_section
        with torch.device("meta"):
            video_width = section["num_attention_heads"] * section["attention_head_dim"]
            audio_width = section["audio_num_attention_heads"] * section["audio_attention_head_dim"]
            processor = EmbeddingsProcessor(
                video_connector=Embeddings1DConnectorConfigurator.from_config({"transformer": section}),
                audio_connector=AudioEmbeddings1DConnectorConfigurator.from_config({"transformer": section}),
                feature_extractor=FeatureExtractorV2(
                    video_aggregate_embed=torch.nn.Linear(flat, video_width, bias=True),
                    embedding_dim=text.hidden_size,
                    audio_aggregate_embed=torch.nn.Linear(flat, audio_width, bias=True),
                ),
            )
        return self._random(processor)

    def transformer(self) -> X0Model:
        return X0Model(ref.reference_transformer(self.sizes.transformer, self.device, DTYPE)).eval()

    def video_encoder(self) -> torch.nn.Module:
        with torch.device("meta"):
            encoder = VideoEncoderConfigurator.from_config({"vae": copy.deepcopy(self.sizes.video_vae)})
        encoder = self._random(encoder)
        with torch.no_grad():
            encoder.per_channel_statistics.get_buffer("std-of-means").fill_(1.0)
            encoder.per_channel_statistics.get_buffer("mean-of-means").zero_()
        return encoder

    def video_decoder(self) -> torch.nn.Module:
        return ref.reference_video_decoder(self.sizes.video_vae, self.device, DTYPE)

    def spatial_upsampler(self) -> torch.nn.Module:
        with torch.device("meta"):
            upsampler = LatentUpsamplerConfigurator.from_config(self.sizes.upsampler.to_dict())
        return self._random(upsampler)

    def audio_decoder(self) -> torch.nn.Module:
        return reference_audio_decoder(self.sizes.audio_vae, self.device, DTYPE)

    def vocoder(self) -> torch.nn.Module:
        return reference_vocoder(self.sizes.vocoder, self.device, DTYPE)


@contextlib.contextmanager
def _cuda_calls_on(device: torch.device):
    """The pipeline synchronises CUDA unconditionally; on a CPU (the smoke run) that is a no-op."""
    if device.type == "cuda":
        yield
    else:
        with mock.patch.object(torch.cuda, "synchronize", lambda *args, **kwargs: None):
            yield


def reference_generation(
    sizes: FullSize, tiny: bool, width: int, height: int, frames: int, fps: float, prompt: str
) -> tuple[Callable[[], Any], torch.device, tempfile.TemporaryDirectory, BuildClock, StageClock]:
    """(one whole generation, its device, the tokenizer's folder to keep alive while it runs, the
    clocks of the ledger's module building and of the pipeline's stages)."""
    device = ref.torch_device()
    folder = tempfile.TemporaryDirectory(prefix="ltx2-ref-tokenizer-")
    write_tiny_gemma_tokenizer(Path(folder.name))
    pipeline = DistilledPipeline.__new__(DistilledPipeline)  # its __init__ would build a file-reading ledger
    pipeline.device, pipeline.dtype = device, DTYPE
    pipeline.model_ledger = RandomLedger(sizes, device, tiny, Path(folder.name))
    pipeline.pipeline_components = PipelineComponents(dtype=DTYPE, device=device)
    sync = functools.partial(ref._sync, device)
    clock = BuildClock(pipeline.model_ledger, _LEDGER_BUILDERS, sync)
    stages = StageClock(clock, sync)

    def generate() -> Any:
        clock.start()
        stages.start()
        with _cuda_calls_on(device), _stages_timed(stages):
            video, audio = pipeline(prompt=prompt, seed=0, height=height, width=width, num_frames=frames,
                                    frame_rate=fps, images=[], tiling_config=TilingConfig.default())  # fmt: skip
            with stages.measure("decode_video"):
                for _ in video:  # the decode is a generator: drain it, as writing the file does
                    pass
        clock.stop()
        stages.stop()
        return audio

    return generate, device, folder, clock, stages


@contextlib.contextmanager
def _stages_timed(stages: StageClock):
    """The pipeline's stage functions, timed under our generation's stage names while it runs."""
    timed = {
        "encode_prompts": "text_encode",
        "denoise_audio_video": ("stage_1", "stage_2"),
        "upsample_video": "upsample",
        "vae_decode_audio": "decode_audio",
    }
    with contextlib.ExitStack() as patches:
        for function, names in timed.items():
            original = getattr(distilled, function)
            patches.enter_context(mock.patch.object(distilled, function, stages.timed(names, original)))
        yield
