"""The loaded parts of one LTX-2 generation and how long each stays, by the memory plan's residency.

Gemma and the text connectors are loaded, used and freed before the transformer loads (in every
mode: a request needs its prompts once). The transformer stays from the first denoising stage to
the last. In every mode the video VAE's weights leave when the transformer loads: only its latent
statistics and config stay (what the upsample stage needs), and it loads again to decode, or to
encode conditioning media in a later stage; the reference also builds its VAE when decoding, so
the denoising stages' peak is the transformer's. A run that encodes no media drops the VAE's
encoder once its prompts are encoded. The upsampler lives for the upsample stage. The audio VAE and
the vocoder load only to encode given sound and to decode, in float32 (LTX-2.3's BigVGAN vocoder
loses ~19% in bfloat16).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout
from ltx_mlx_core.pipeline.memory_estimate import MemoryPlan
from ltx_mlx_core.pipeline.timing import StageTimer
from ltx_mlx_core.weights.components import LTX2Components
from ltx_mlx_core.weights.lora_mapping import LTX2_TEXT_PATH, LoraSpec, apply_lora_files, ltx2_transformer_component

log = logging.getLogger(__name__)

AUDIO_DTYPE = mx.float32


class LTX2Models:
    """Lazy, released-when-done components of one request (providers for the stage recipes)."""

    def __init__(
        self,
        components: LTX2Components,
        dtype: mx.Dtype,
        plan: MemoryPlan,
        timer: StageTimer,
        distilled_lora: Path | None = None,
        loras: tuple[LoraSpec, ...] = (),
    ):
        """`loras`: the request's own LoRAs, fused into the transformer for every stage (a side path
        on quantised layers) and removed before it is released."""
        self.components = components
        self.dtype = dtype
        self.plan = plan
        self.timer = timer
        self.distilled_lora = distilled_lora
        self.loras = loras
        self._user_loras = None
        self._vae: VideoAutoencoder | None = None
        self._upsampler: LatentUpsampler | None = None
        self._transformer: LTX2Transformer | None = None
        self._stage_2_loras = None
        self._audio_vae: AudioVAE | None = None
        self._vocoder: Vocoder | VocoderWithBWE | None = None

    def vae(self) -> VideoAutoencoder:
        if self._vae is None:
            with self.timer.load():
                self._vae = self.components.load_vae(self.dtype)
        return self._vae

    def encoding_vae(self) -> VideoAutoencoder:
        """The video VAE with its encoder (loaded again if `release_video_encoder` dropped it)."""
        return self._vae_with("encoder", "encode media")

    def decoding_vae(self) -> VideoAutoencoder:
        """The video VAE with its decoder (loaded again after the denoising stages left it out)."""
        return self._vae_with("decoder", "decode")

    def _vae_with(self, part: str, purpose: str) -> VideoAutoencoder:
        if self._vae is not None and part not in self._vae:
            log.info("loading the video VAE again to %s", purpose)
            self._vae = None
        return self.vae()

    def release_video_encoder(self) -> None:
        """A run that encodes no media keeps only the decoder: LTX-2.3's encoder is 0.59 GiB in bf16,
        held beside the transformer otherwise. The VAE loaded is left whole (it may be the caller's);
        this run's is a copy without the encoder."""
        self._vae_without("encoder")

    def _vae_without(self, *parts: str) -> None:
        present = [part for part in parts if self._vae is not None and part in self._vae]
        if present:
            lighter = copy.copy(self._vae)
            for part in present:
                del lighter[part]
            self._vae = lighter
            mx.clear_cache()

    def upsampler(self) -> LatentUpsampler:
        if self._upsampler is None:
            with self.timer.load():
                self._upsampler = self.components.load_upsampler(self.dtype)
        return self._upsampler

    def transformer(self) -> LTX2Transformer:
        """The transformer (without the distilled LoRA: a dev model's stage 1, any distilled stage)."""
        if self._stage_2_loras is not None:
            self._stage_2_loras.remove()
            self._stage_2_loras = None
        return self._load_transformer()

    def stage_2_transformer(self) -> LTX2Transformer:
        """The dev transformer with the distilled LoRA applied (fused, or a side path when quantised)."""
        transformer = self._load_transformer()
        if self._stage_2_loras is None:
            if self.distilled_lora is None:
                raise InvalidRequest("This recipe's second stage needs the distilled LoRA, which is not installed.")
            with self.timer.load():
                self._stage_2_loras = apply_lora_files(
                    [LoraSpec(Path(self.distilled_lora), 1.0)], [ltx2_transformer_component(transformer)]
                )
            log.info("distilled LoRA applied to %d layers for stage 2", self._stage_2_loras.layers)
        return transformer

    def _load_transformer(self) -> LTX2Transformer:
        if self._transformer is None:
            # Its statistics stay for the upsample stage: 0.76 GiB of LTX-2.3 decoder weights do not.
            self._vae_without("encoder", "decoder")
            with self.timer.load():
                self._transformer = self.components.load_transformer(
                    self.dtype, self.plan.quantize_bits, self.plan.residency
                )
            if self.loras:
                with self.timer.load():
                    self._user_loras = apply_lora_files(
                        self.loras, [ltx2_transformer_component(self._transformer)], LTX2_TEXT_PATH
                    )
                log.info("%d LoRA file(s) applied to %d layers", len(self.loras), self._user_loras.layers)
        return self._transformer

    def audio_vae(self) -> AudioVAE:
        if self._audio_vae is None:
            with self.timer.load():
                self._audio_vae = self.components.load_audio_vae(AUDIO_DTYPE)
        return self._audio_vae

    def vocoder(self) -> Vocoder | VocoderWithBWE:
        if self._vocoder is None:
            with self.timer.load():
                self._vocoder = self.components.load_vocoder(AUDIO_DTYPE)
        return self._vocoder

    def audio_layout(self) -> AudioLatentLayout:
        """How the audio latents map to time, from the audio VAE's settings."""
        config = self.audio_vae().config
        return AudioLatentLayout(
            channels=config.z_channels,
            mel_bins=config.latent_mel_bins,
            sample_rate=config.sampling_rate,
            hop_length=config.hop_length,
        )

    def release_audio_vae(self) -> None:
        """The audio VAE does not wait through the denoising stages (it loads again to decode)."""
        if self._audio_vae is not None:
            self._audio_vae = None
            mx.clear_cache()

    def stage_finished(self, name: str, last: bool) -> None:
        if name == "upsample":
            self._upsampler = None
        if last:
            self._release_transformer()
        mx.clear_cache()

    def _release_transformer(self) -> None:
        # Removed in the reverse order of fusing, so the weights come back bit for bit (the model may be
        # the caller's, as for benchmarks and tests).
        if self._stage_2_loras is not None:
            self._stage_2_loras.remove()
            self._stage_2_loras = None
        if self._user_loras is not None:
            self._user_loras.remove()
            self._user_loras = None
        self._transformer = None

    def release(self) -> None:
        self._release_transformer()
        self._vae = self._upsampler = self._audio_vae = self._vocoder = None
        mx.clear_cache()
