"""Configuration of LTX-Video's causal video autoencoder.

The block lists use the reference vocabulary (``res_x``, ``compress_all_res``,
...) so a checkpoint's embedded ``"vae"`` config JSON can be read as is.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

# A block is (name, params); params is an int (number of layers) or a dict.
BlockSpec = tuple[str, dict[str, Any]]

ENCODER_BLOCK_NAMES = frozenset({"res_x", "res_x_y", "compress_time_res", "compress_space_res", "compress_all_res"})
DECODER_BLOCK_NAMES = frozenset({"res_x", "res_x_y", "compress_time", "compress_space", "compress_all"})
SPATIAL_COMPRESS_BLOCKS = frozenset(
    {"compress_space", "compress_all", "compress_space_res", "compress_all_res", "compress_all_x_y"}
)
TEMPORAL_COMPRESS_BLOCKS = frozenset(
    {"compress_time", "compress_all", "compress_time_res", "compress_all_res", "compress_all_x_y"}
)

# The 0.9.8 pipelines decode with these (configs/ltxv-*-0.9.8-distilled.yaml).
DEFAULT_DECODE_TIMESTEP = 0.05
DEFAULT_DECODE_NOISE_SCALE = 0.025


def _normalise_blocks(blocks: Any) -> list[BlockSpec]:
    """Accept [[name, 4]], [[name, {...}]] or tuples; return [(name, dict)]."""
    normalised: list[BlockSpec] = []
    for entry in blocks:
        name, params = entry[0], entry[1]
        if isinstance(params, int):
            params = {"num_layers": params}
        normalised.append((str(name), dict(params)))
    return normalised


@dataclass
class VAEConfig:
    """Shape of a CausalVideoAutoencoder; field names follow the checkpoint's config JSON."""

    encoder_blocks: list[BlockSpec] = field(default_factory=list)
    decoder_blocks: list[BlockSpec] = field(default_factory=list)
    in_channels: int = 3
    out_channels: int = 3
    latent_channels: int = 128
    patch_size: int = 4
    norm_layer: str = "pixel_norm"
    latent_log_var: str = "uniform"
    causal_decoder: bool = False
    timestep_conditioning: bool = True
    spatial_padding_mode: str = "zeros"
    encoder_base_channels: int = 128
    decoder_base_channels: int = 128
    norm_num_groups: int = 32

    def __post_init__(self) -> None:
        self.encoder_blocks = _normalise_blocks(self.encoder_blocks)
        self.decoder_blocks = _normalise_blocks(self.decoder_blocks)
        for name, _ in self.encoder_blocks:
            if name not in ENCODER_BLOCK_NAMES:
                raise ValueError(f"Unsupported VAE encoder block {name!r}.")
        for name, _ in self.decoder_blocks:
            if name not in DECODER_BLOCK_NAMES:
                raise ValueError(f"Unsupported VAE decoder block {name!r}.")
        if self.norm_layer not in ("pixel_norm", "group_norm"):
            raise ValueError(f"Unsupported VAE norm_layer {self.norm_layer!r}.")
        if self.latent_log_var not in ("uniform", "per_channel", "constant"):
            raise ValueError(f"Unsupported VAE latent_log_var {self.latent_log_var!r}.")
        if self.spatial_padding_mode not in ("zeros", "replicate", "reflect"):
            raise ValueError(f"Unsupported spatial_padding_mode {self.spatial_padding_mode!r}.")

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> VAEConfig:
        """Build from a checkpoint's ``"vae"`` config; unknown keys are ignored."""
        config = dict(config)
        if "blocks" in config:
            config.setdefault("encoder_blocks", config["blocks"])
            config.setdefault("decoder_blocks", config["blocks"])
        if config.get("dims", 3) not in (3, [3], (3,)):
            raise ValueError(f"Only 3-D VAEs are supported, got dims={config.get('dims')!r}.")
        if config.get("use_quant_conv", False):
            raise ValueError("VAEs with quant convs (use_quant_conv=True) are not supported.")
        if config.get("normalize_latent_channels", False):
            raise ValueError("VAEs with normalize_latent_channels=True are not supported.")
        known = {f.name for f in fields(cls)}
        return cls(**{k: copy.deepcopy(v) for k, v in config.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        """The reference's config JSON (what the single-file checkpoint stores under "vae")."""
        return {
            "_class_name": "CausalVideoAutoencoder",
            "dims": 3,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "latent_channels": self.latent_channels,
            "encoder_blocks": [[n, dict(p)] for n, p in self.encoder_blocks],
            "decoder_blocks": [[n, dict(p)] for n, p in self.decoder_blocks],
            "scaling_factor": 1.0,
            "norm_layer": self.norm_layer,
            "patch_size": self.patch_size,
            "latent_log_var": self.latent_log_var,
            "use_quant_conv": False,
            "causal_decoder": self.causal_decoder,
            "timestep_conditioning": self.timestep_conditioning,
            "spatial_padding_mode": self.spatial_padding_mode,
            "encoder_base_channels": self.encoder_base_channels,
            "decoder_base_channels": self.decoder_base_channels,
        }

    @property
    def spatial_compression(self) -> int:
        count = sum(1 for name, _ in self.encoder_blocks if name in SPATIAL_COMPRESS_BLOCKS)
        return (2**count) * self.patch_size

    @property
    def temporal_compression(self) -> int:
        return 2 ** sum(1 for name, _ in self.encoder_blocks if name in TEMPORAL_COMPRESS_BLOCKS)


def ltxv_098_vae_config() -> VAEConfig:
    """The VAE shared by the 2B and 13B 0.9.7/0.9.8 checkpoints (their embedded "vae" config)."""
    return VAEConfig.from_dict(LTXV_098_VAE_CONFIG)


LTXV_098_VAE_CONFIG: dict[str, Any] = {
    "_class_name": "CausalVideoAutoencoder",
    "dims": 3,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 128,
    "encoder_blocks": [
        ["res_x", {"num_layers": 4}],
        ["compress_space_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 6}],
        ["compress_time_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 6}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
    ],
    "decoder_blocks": [
        ["res_x", {"num_layers": 5, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 5, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 5, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 5, "inject_noise": False}],
    ],
    "scaling_factor": 1.0,
    "norm_layer": "pixel_norm",
    "patch_size": 4,
    "latent_log_var": "uniform",
    "use_quant_conv": False,
    "causal_decoder": False,
    "timestep_conditioning": True,
    "spatial_padding_mode": "zeros",
}
