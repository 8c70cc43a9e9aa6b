"""Configurations of the LTX-2 vocoders, read from a checkpoint's ``"vocoder"`` config or diffusers'.

LTX-2 has one HiFi-GAN generator (mel at 16 kHz hop 160 -> 24 kHz); LTX-2.3 nests
``{"vocoder": {...}, "bwe": {...}}``: a BigVGAN generator to 16 kHz and a second one,
run on the mel of that waveform, that extends it to 48 kHz. Official field names
(``upsample_rates``, ``upsample_initial_channel``, ...) are ours; diffusers' flat
``LTX2Vocoder`` / ``LTX2VocoderWithBWE`` configs (``hidden_channels``,
``upsample_factors``, ``bwe_*``) are translated. Unknown keys are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

RESBLOCKS = ("1", "AMP1")  # HiFi-GAN's ResBlock1, BigVGAN's AMPBlock1
ACTIVATIONS = ("snake", "snakebeta")
FINAL_ACTIVATIONS = ("tanh", "clamp", None)


@dataclass
class VocoderConfig:
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    upsample_rates: tuple[int, ...] = (6, 5, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 15, 8, 4, 4)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    upsample_initial_channel: int = 1024
    resblock: str = "1"
    activation: str = "snake"  # AMP1 only; its final activation is always SnakeBeta
    final_activation: str | None = "tanh"
    use_bias_at_final: bool = True
    in_channels: int = 128  # stereo x mel bins, stereo-major
    out_channels: int = 2
    output_sampling_rate: int = 24000
    leaky_relu_slope: float = 0.1
    antialias_ratio: int = 2
    antialias_kernel_size: int = 12

    def __post_init__(self) -> None:
        self.resblock_kernel_sizes = tuple(int(k) for k in self.resblock_kernel_sizes)
        self.upsample_rates = tuple(int(r) for r in self.upsample_rates)
        self.upsample_kernel_sizes = tuple(int(k) for k in self.upsample_kernel_sizes)
        self.resblock_dilation_sizes = tuple(tuple(int(d) for d in ds) for ds in self.resblock_dilation_sizes)
        self.resblock = str(self.resblock)
        if self.resblock not in RESBLOCKS:
            raise ValueError(
                f"Vocoder resblock must be one of {RESBLOCKS} (as the reference builds), got {self.resblock!r}."
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"Vocoder activation must be one of {ACTIVATIONS}, got {self.activation!r}.")
        if self.final_activation not in FINAL_ACTIVATIONS:
            raise ValueError(
                f"Vocoder final activation must be one of {FINAL_ACTIVATIONS}, got {self.final_activation!r}."
            )
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("Vocoder upsample_rates and upsample_kernel_sizes must have the same length.")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("Vocoder resblock_kernel_sizes and resblock_dilation_sizes must have the same length.")
        if any(k % 2 == 0 for k in self.resblock_kernel_sizes):
            raise ValueError(f"Vocoder residual kernels must be odd, got {self.resblock_kernel_sizes}.")
        if self.upsample_initial_channel % 2 ** len(self.upsample_rates):
            raise ValueError("Vocoder upsample_initial_channel must halve evenly at every upsampling stage.")

    @property
    def is_amp(self) -> bool:
        return self.resblock == "AMP1"

    @property
    def hop(self) -> int:
        """Output samples per input (mel) frame."""
        return math.prod(self.upsample_rates)

    @classmethod
    def from_official(
        cls,
        config: dict[str, Any],
        *,
        apply_final_activation: bool = True,
        output_sampling_rate: int | None = None,
    ) -> VocoderConfig:
        if config.get("stereo", True) is not True:
            raise ValueError("Only stereo LTX-2 vocoders exist; this config says stereo is off.")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in config.items() if k in known and v is not None}
        values["final_activation"] = (
            ("tanh" if config.get("use_tanh_at_final", True) else "clamp") if apply_final_activation else None
        )
        if output_sampling_rate is not None:
            values["output_sampling_rate"] = output_sampling_rate
        return cls(**values)

    @classmethod
    def from_diffusers(cls, config: dict[str, Any], prefix: str = "") -> VocoderConfig:
        def get(name: str, default: Any) -> Any:
            value = config.get(prefix + name)
            return default if value is None else value

        act_fn = get("act_fn", "leaky_relu")
        antialias = get("antialias", False)
        if (act_fn == "leaky_relu") == bool(antialias):
            raise ValueError(f"No LTX-2 vocoder uses act_fn={act_fn!r} with antialias={antialias}.")
        defaults = cls()
        return cls(
            resblock_kernel_sizes=get("resnet_kernel_sizes", defaults.resblock_kernel_sizes),
            upsample_rates=get("upsample_factors", defaults.upsample_rates),
            upsample_kernel_sizes=get("upsample_kernel_sizes", defaults.upsample_kernel_sizes),
            resblock_dilation_sizes=get("resnet_dilations", defaults.resblock_dilation_sizes),
            upsample_initial_channel=get("hidden_channels", defaults.upsample_initial_channel),
            resblock="1" if act_fn == "leaky_relu" else "AMP1",
            activation="snake" if act_fn == "leaky_relu" else act_fn,
            final_activation=config.get(prefix + "final_act_fn", "tanh"),
            use_bias_at_final=get("final_bias", True),
            in_channels=get("in_channels", 128),
            out_channels=get("out_channels", 2),
            leaky_relu_slope=get("leaky_relu_negative_slope", 0.1),
            antialias_ratio=get("antialias_ratio", 2),
            antialias_kernel_size=get("antialias_kernel_size", 12),
        )


@dataclass
class BWEConfig:
    """LTX-2.3: a vocoder to `input_sampling_rate`, then bandwidth extension to `output_sampling_rate`."""

    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    generator: VocoderConfig = field(default_factory=VocoderConfig)
    n_fft: int = 512
    hop_length: int = 80
    win_length: int = 512
    num_mels: int = 64
    input_sampling_rate: int = 16000
    output_sampling_rate: int = 48000

    def __post_init__(self) -> None:
        if self.output_sampling_rate % self.input_sampling_rate:
            raise ValueError("The bandwidth extension must multiply the sample rate by a whole number.")
        if self.generator.in_channels != 2 * self.num_mels:
            raise ValueError(f"The extension generator takes 2 x {self.num_mels} mel channels.")

    @property
    def ratio(self) -> int:
        return self.output_sampling_rate // self.input_sampling_rate

    @property
    def hop(self) -> int:
        """Output samples per input mel frame."""
        return self.vocoder.hop * self.ratio

    @classmethod
    def from_official(cls, section: dict[str, Any]) -> BWEConfig:
        bwe = section["bwe"]
        for part, name in ((section.get("vocoder", {}), "vocoder"), (bwe, "bwe")):
            if str(part.get("resblock", "AMP1")) != "AMP1":
                raise ValueError(f"The LTX-2.3 {name} config must use resblock AMP1.")
        return cls(
            vocoder=VocoderConfig.from_official(
                section.get("vocoder", {}), output_sampling_rate=bwe["input_sampling_rate"]
            ),
            generator=VocoderConfig.from_official(
                bwe, apply_final_activation=False, output_sampling_rate=bwe["output_sampling_rate"]
            ),
            n_fft=bwe["n_fft"],
            hop_length=bwe["hop_length"],
            win_length=bwe["n_fft"],  # the reference windows the whole FFT, whatever else the file says
            num_mels=bwe["num_mels"],
            input_sampling_rate=bwe["input_sampling_rate"],
            output_sampling_rate=bwe["output_sampling_rate"],
        )

    @classmethod
    def from_diffusers(cls, config: dict[str, Any]) -> BWEConfig:
        input_rate = config.get("input_sampling_rate", 16000)
        output_rate = config.get("output_sampling_rate", 48000)
        vocoder = VocoderConfig.from_diffusers(
            {"act_fn": "snakebeta", "antialias": True, "final_act_fn": None, "final_bias": False, **config}
        )
        generator = VocoderConfig.from_diffusers(
            {
                "bwe_act_fn": "snakebeta",
                "bwe_antialias": True,
                "bwe_final_act_fn": None,
                "bwe_final_bias": False,
                **config,
            },
            prefix="bwe_",
        )
        vocoder.output_sampling_rate, generator.output_sampling_rate = input_rate, output_rate
        return cls(
            vocoder=vocoder,
            generator=generator,
            n_fft=config.get("filter_length", 512),
            hop_length=config.get("hop_length", 80),
            win_length=config.get("window_length", 512),
            num_mels=config.get("num_mel_channels", 64),
            input_sampling_rate=input_rate,
            output_sampling_rate=output_rate,
        )


def vocoder_config_from_dict(config: dict[str, Any]) -> VocoderConfig | BWEConfig:
    """A checkpoint's whole config, its ``"vocoder"`` section, or a diffusers vocoder config."""
    if "hidden_channels" in config or "upsample_factors" in config:
        return (
            BWEConfig.from_diffusers(config)
            if "bwe_hidden_channels" in config
            else VocoderConfig.from_diffusers(config)
        )
    if "bwe" not in config and isinstance(config.get("vocoder"), dict):
        config = config["vocoder"]
    if "bwe" in config:
        return BWEConfig.from_official(config)
    return VocoderConfig.from_official(config)
