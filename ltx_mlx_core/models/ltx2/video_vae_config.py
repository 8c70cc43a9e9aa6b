"""Configuration of the LTX-2 family's video VAE, read from a checkpoint's embedded "vae" config.

Both generations use the reference's block vocabulary: LTX-2's VAE (residual x2 up-blocks,
reflect padding in the decoder) and LTX-2.3's (its own widths per level, zero padding
throughout). LTX-2.5 decodes with the 2.3 conv decoder.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from typing import Any

from ltx_mlx_core.models.ltxv.vae.config import LTXV_098_VAE_CONFIG, BlockSpec

# The LTX-2 checkpoints use only these blocks; the reference's others (res_x_y, strided-conv
# compression, attention) appear in no LTX-2 checkpoint and are refused rather than guessed.
ENCODER_BLOCKS = {
    "res_x": None,
    "compress_space_res": (1, 2, 2),
    "compress_time_res": (2, 1, 1),
    "compress_all_res": (2, 2, 2),
}
DECODER_BLOCKS = {"res_x": None, "compress_space": (1, 2, 2), "compress_time": (2, 1, 1), "compress_all": (2, 2, 2)}
PADDING_MODES = ("zeros", "reflect", "replicate")

# What the reference decoder mixes in before decoding when it is timestep-conditioned
# (VideoDecoder.decode_timestep / decode_noise_scale; no LTX-2 checkpoint is so far).
DECODE_TIMESTEP = 0.05
DECODE_NOISE_SCALE = 0.025


def _normalise_blocks(blocks: Any) -> list[BlockSpec]:
    """[[name, 4]] or [[name, {...}]] -> [(name, {...})]."""
    return [(str(name), {"num_layers": params} if isinstance(params, int) else dict(params)) for name, params in blocks]


@dataclass
class VideoVAEConfig:
    """Field names follow the checkpoint's "vae" config; `from_dict` maps the rest."""

    encoder_blocks: list[BlockSpec] = field(default_factory=list)
    decoder_blocks: list[BlockSpec] = field(default_factory=list)
    in_channels: int = 3
    out_channels: int = 3
    latent_channels: int = 128
    patch_size: int = 4
    norm_layer: str = "pixel_norm"
    latent_log_var: str = "uniform"
    causal_decoder: bool = False
    timestep_conditioning: bool = False
    decoder_base_channels: int = 128
    encoder_spatial_padding_mode: str = "zeros"
    decoder_spatial_padding_mode: str = "reflect"
    norm_num_groups: int = 32

    def __post_init__(self) -> None:
        self.encoder_blocks = _normalise_blocks(self.encoder_blocks)
        self.decoder_blocks = _normalise_blocks(self.decoder_blocks)
        for side, blocks, known in (
            ("encoder", self.encoder_blocks, ENCODER_BLOCKS),
            ("decoder", self.decoder_blocks, DECODER_BLOCKS),
        ):
            for name, _ in blocks:
                if name not in known:
                    raise ValueError(f"The LTX-2 video VAE {side} has no block {name!r}; known: {', '.join(known)}.")
        if self.norm_layer not in ("pixel_norm", "group_norm"):
            raise ValueError(f"Unsupported VAE norm_layer {self.norm_layer!r}.")
        if self.latent_log_var not in ("uniform", "per_channel", "constant"):
            raise ValueError(f"Unsupported VAE latent_log_var {self.latent_log_var!r}.")
        for mode in (self.encoder_spatial_padding_mode, self.decoder_spatial_padding_mode):
            if mode not in PADDING_MODES:
                raise ValueError(f"Unsupported spatial padding mode {mode!r}; known: {', '.join(PADDING_MODES)}.")

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> VideoVAEConfig:
        """From a checkpoint's "vae" config (or the whole config holding one); unknown keys are ignored.

        As in the reference's configurators, one `spatial_padding_mode` sets both sides;
        without it the encoder pads with zeros and the decoder reflects (LTX-2).
        """
        config = dict(config.get("vae", config))
        if config.get("dims", 3) not in (3, [3], (3,)):
            raise ValueError(f"Only 3-D VAEs are supported, got dims={config.get('dims')!r}.")
        if "spatial_padding_mode" in config:
            config.setdefault("encoder_spatial_padding_mode", config["spatial_padding_mode"])
            config.setdefault("decoder_spatial_padding_mode", config["spatial_padding_mode"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: copy.deepcopy(v) for k, v in config.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint's "vae" config for this VAE, in the reference's vocabulary where it has one."""
        config: dict[str, Any] = {
            "_class_name": "CausalVideoAutoencoder",
            "dims": 3,
            **{f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)},
        }
        config["encoder_blocks"] = [[name, dict(params)] for name, params in self.encoder_blocks]
        config["decoder_blocks"] = [[name, dict(params)] for name, params in self.decoder_blocks]
        sides = (self.encoder_spatial_padding_mode, self.decoder_spatial_padding_mode)
        if sides[0] == sides[1] or sides == ("zeros", "reflect"):
            # The reference reads one mode for both sides, or none for zeros/reflect.
            del config["encoder_spatial_padding_mode"], config["decoder_spatial_padding_mode"]
            if sides[0] == sides[1]:
                config["spatial_padding_mode"] = sides[0]
        return config

    @property
    def spatial_compression(self) -> int:
        return self.patch_size * math.prod(stride[1] for stride in self._encoder_strides())

    @property
    def temporal_compression(self) -> int:
        return math.prod(stride[0] for stride in self._encoder_strides())

    def _encoder_strides(self) -> list[tuple[int, int, int]]:
        return [ENCODER_BLOCKS[name] for name, _ in self.encoder_blocks if ENCODER_BLOCKS[name] is not None]


# The LTX-2 (19B) VAE: diffusers' AutoencoderKLLTX2Video defaults in the checkpoint's vocabulary
# (a test checks the parameters are the same).
LTX2_VIDEO_VAE_CONFIG: dict[str, Any] = {
    # The 0.9.8 VAE's blocks and widths, without its timestep conditioning and with the reference's
    # default padding (zeros to encode, reflect to decode) rather than 0.9.8's zeros throughout.
    **{key: value for key, value in copy.deepcopy(LTXV_098_VAE_CONFIG).items() if key != "spatial_padding_mode"},
    "timestep_conditioning": False,
}

# The LTX-2.3 (22B) VAE's embedded "vae" config (LTX-2.5 decodes with the same conv decoder).
LTX23_VIDEO_VAE_CONFIG: dict[str, Any] = {
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
        ["res_x", {"num_layers": 4}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
        ["compress_all_res", {"multiplier": 1}],
        ["res_x", {"num_layers": 2}],
    ],
    "decoder_blocks": [
        ["res_x", {"num_layers": 4}],
        ["compress_space", {"multiplier": 2}],
        ["res_x", {"num_layers": 6}],
        ["compress_time", {"multiplier": 2}],
        ["res_x", {"num_layers": 4}],
        ["compress_all", {"multiplier": 1}],
        ["res_x", {"num_layers": 2}],
        ["compress_all", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
    ],
    "scaling_factor": 1.0,
    "norm_layer": "pixel_norm",
    "patch_size": 4,
    "latent_log_var": "uniform",
    "use_quant_conv": False,
    "causal_decoder": False,
    "timestep_conditioning": False,
    "normalize_latent_channels": False,
    "encoder_base_channels": 128,
    "decoder_base_channels": 128,
    "spatial_padding_mode": "zeros",
}
