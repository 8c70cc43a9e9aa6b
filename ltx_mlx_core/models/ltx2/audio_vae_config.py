"""Configuration of the LTX-2 audio VAE (the same network in LTX-2, 2.3 and 2.5).

A checkpoint embeds it as ``config["audio_vae"]``: the network under
``model.params.ddconfig``, the sample rate under ``model.params.sampling_rate``, the
STFT under ``preprocessing.stft`` and the mel bins under ``preprocessing.mel`` or
``variables``. diffusers' ``AutoencoderKLLTX2Audio`` keeps a flat config with other
names (``base_channels``, ``latent_channels``, ...). `AudioVAEConfig.from_dict` reads
either; unknown keys are ignored. Defaults are the reference configurator's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# The encoder halves time twice; the decoder doubles it twice (ltx-core's LATENT_DOWNSAMPLE_FACTOR).
LATENT_DOWNSAMPLE_FACTOR = 4
CAUSALITY_AXES = ("none", "height", "width", "width-compatibility")
NORM_TYPES = ("pixel", "group")
GROUP_NORM_GROUPS = 32

# diffusers' flat names -> ours (the checkpoint's ddconfig names).
_DIFFUSERS_NAMES = {
    "base_channels": "ch",
    "output_channels": "out_ch",
    "latent_channels": "z_channels",
    "sample_rate": "sampling_rate",
    "mel_hop_length": "hop_length",
}


@dataclass
class AudioVAEConfig:
    """Field names follow the checkpoint's ``ddconfig`` (``ch``, ``z_channels``, ...).

    Tensors are laid out as the reference's: a mel spectrogram is [B, channels, time, mel
    bins] ("height" is time), latents are [B, z_channels, frames, mel_bins / 4].
    """

    ch: int = 128
    out_ch: int = 2
    in_channels: int = 2
    ch_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (8, 16, 32)
    resolution: int = 256
    z_channels: int = 8
    double_z: bool = True
    norm_type: str = "pixel"
    causality_axis: str = "height"
    mid_block_add_attention: bool = True
    mel_bins: int = 64
    sampling_rate: int = 16000
    hop_length: int = 160
    n_fft: int = 1024
    is_causal: bool = True

    def __post_init__(self) -> None:
        self.ch_mult = tuple(int(m) for m in self.ch_mult)
        self.attn_resolutions = tuple(int(r) for r in (self.attn_resolutions or ()))
        if self.causality_axis is None:
            self.causality_axis = "none"
        if self.causality_axis not in CAUSALITY_AXES:
            raise ValueError(f"Audio VAE causality_axis must be one of {CAUSALITY_AXES}, got {self.causality_axis!r}.")
        if self.norm_type not in NORM_TYPES:
            raise ValueError(f"Audio VAE norm_type must be one of {NORM_TYPES}, got {self.norm_type!r}.")
        if self.norm_type == "group" and self.causality_axis != "none":
            raise ValueError(
                "The audio VAE's causal residual blocks cannot use group norm (the reference refuses too)."
            )
        if self.norm_type == "group" and any((self.ch * m) % GROUP_NORM_GROUPS for m in self.ch_mult):
            raise ValueError(f"Group norm needs every width ch * ch_mult to be a multiple of {GROUP_NORM_GROUPS}.")
        if len(self.ch_mult) != 3:
            # Latent time and mel bins are exactly 4x smaller: two halvings, i.e. three levels.
            raise ValueError(f"The LTX-2 audio VAE has three levels (ch_mult of length 3), got {self.ch_mult}.")
        if self.mel_bins % LATENT_DOWNSAMPLE_FACTOR:
            raise ValueError(f"mel_bins={self.mel_bins} must be a multiple of {LATENT_DOWNSAMPLE_FACTOR}.")
        if self.ch != self.latent_features:
            # The per-channel statistics have `ch` entries and normalise the flattened (channel, bin) axis.
            raise ValueError(
                f"The latent statistics have ch={self.ch} entries but latents have z_channels x mel_bins/4 = "
                f"{self.latent_features} features per frame; the reference needs them equal."
            )

    @property
    def latent_mel_bins(self) -> int:
        return self.mel_bins // LATENT_DOWNSAMPLE_FACTOR

    @property
    def latent_features(self) -> int:
        """Features per latent frame once (channel, mel bin) are flattened: 128 for the released models."""
        return self.z_channels * self.latent_mel_bins

    @property
    def causal(self) -> bool:
        return self.causality_axis != "none"

    def latent_frames(self, mel_frames: int) -> int:
        """Latent frames the encoder makes from `mel_frames` spectrogram frames."""
        frames = mel_frames
        for _ in range(len(self.ch_mult) - 1):
            # The downsampling convolution pads time by 2 in front (causal in time) or 1 behind.
            frames = (frames - 1) // 2 + 1 if self.causality_axis == "height" else frames // 2
        return frames

    def mel_frames(self, latent_frames: int) -> int:
        """Spectrogram frames the decoder makes from `latent_frames` latent frames."""
        frames = latent_frames * LATENT_DOWNSAMPLE_FACTOR
        return max(frames - (LATENT_DOWNSAMPLE_FACTOR - 1), 1) if self.causal else frames

    def attention_resolutions(self) -> list[int]:
        """Resolution of each level, lowest level first (the reference's `curr_res`)."""
        return [self.resolution // (2**level) for level in range(len(self.ch_mult))]

    @property
    def decoder_has_attention(self) -> bool:
        return self.mid_block_add_attention or any(r in self.attn_resolutions for r in self.attention_resolutions())

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> AudioVAEConfig:
        """A checkpoint's whole config, its ``"audio_vae"`` section, or diffusers' flat config."""
        if "audio_vae" in config:
            config = config["audio_vae"]
        flat = _flatten_official(config) if "model" in config or "preprocessing" in config else dict(config)
        for old, new in _DIFFUSERS_NAMES.items():
            if old in flat and new not in flat:
                flat[new] = flat[old]
        known = {f.name for f in fields(cls)}
        # An explicit null means "none" for attention and causality (as in both references), "unset" elsewhere.
        nullable = {"attn_resolutions", "causality_axis"}
        return cls(**{k: v for k, v in flat.items() if k in known and (v is not None or k in nullable)})


def _flatten_official(section: dict[str, Any]) -> dict[str, Any]:
    params = section.get("model", {}).get("params", {})
    flat = dict(params.get("ddconfig", {}))
    stft = section.get("preprocessing", {}).get("stft", {})
    mel = section.get("preprocessing", {}).get("mel", {})
    variables = section.get("variables", {})
    if "sampling_rate" in params:
        flat["sampling_rate"] = params["sampling_rate"]
    for ours, theirs in (("hop_length", "hop_length"), ("n_fft", "filter_length"), ("is_causal", "causal")):
        if theirs in stft:
            flat[ours] = stft[theirs]
    # The reference takes the first of these that is set.
    mel_bins = flat.get("mel_bins") or mel.get("n_mel_channels") or variables.get("mel_bins")
    if mel_bins:
        flat["mel_bins"] = mel_bins
    return flat
