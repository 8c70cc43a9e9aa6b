"""Configuration of the LTX-Video 0.9.x transformer, read from the checkpoint's embedded config.

The official single-file checkpoint stores `{"config": json}` in its safetensors metadata;
the JSON's "transformer" section holds the keyword arguments of the reference
`Transformer3DModel` (the reference reads it in `Transformer3DModel.from_pretrained`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ltx_mlx_core.errors import CheckpointError

_ACTIVATIONS = ("gelu", "gelu-approximate", "geglu", "geglu-approximate")
_NORMS = ("layer_norm", "rms_norm")
_QK_NORMS = (None, "rms_norm", "layer_norm")
_ADAPTIVE_NORMS = ("single_scale_shift", "single_scale")


@dataclass
class TransformerConfig:
    """Shape and behaviour of the transformer; field names are the reference's config keys."""

    num_attention_heads: int = 32
    attention_head_dim: int = 64
    in_channels: int = 128
    out_channels: int | None = 128
    num_layers: int = 28
    cross_attention_dim: int | None = 2048
    caption_channels: int | None = 4096
    attention_bias: bool = True
    activation_fn: str = "gelu-approximate"
    norm_elementwise_affine: bool = False
    norm_eps: float = 1e-6
    adaptive_norm: str = "single_scale_shift"
    standardization_norm: str = "rms_norm"
    qk_norm: str | None = "rms_norm"
    positional_embedding_type: str = "rope"
    positional_embedding_theta: float = 10000.0
    positional_embedding_max_pos: list[int] = field(default_factory=lambda: [20, 2048, 2048])
    timestep_scale_multiplier: float | None = 1000.0
    # Read by the pipeline (frame coordinates of the first latent frame), not by the network.
    causal_temporal_positioning: bool = False
    only_cross_attention: bool = False
    double_self_attention: bool = False

    def __post_init__(self) -> None:
        self._check_supported()

    @property
    def inner_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @property
    def output_channels(self) -> int:
        return self.in_channels if self.out_channels is None else self.out_channels

    @property
    def text_channels(self) -> int:
        """Width of the text embeddings the model takes (before caption projection)."""
        if self.caption_channels is not None:
            return self.caption_channels
        return self.cross_attention_dim if self.cross_attention_dim is not None else self.inner_dim

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TransformerConfig:
        """Build from a reference config dict, ignoring keys the network does not use."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {key: value for key, value in values.items() if key in known}
        if "positional_embedding_max_pos" in kwargs and kwargs["positional_embedding_max_pos"] is not None:
            kwargs["positional_embedding_max_pos"] = list(kwargs["positional_embedding_max_pos"])
        try:
            return cls(**kwargs)
        except TypeError as error:
            raise CheckpointError(f"The transformer config is malformed: {error}.") from None

    @classmethod
    def from_checkpoint_metadata(cls, metadata: Mapping[str, str]) -> TransformerConfig:
        """Read the "transformer" section of an official single-file checkpoint's metadata."""
        if "config" not in metadata:
            raise CheckpointError(
                "The checkpoint has no embedded 'config' metadata, so its transformer shape is unknown."
            )
        try:
            configs = json.loads(metadata["config"])
        except json.JSONDecodeError as error:
            raise CheckpointError(f"The checkpoint's embedded config is not valid JSON: {error}.") from None
        if not isinstance(configs, dict) or "transformer" not in configs:
            raise CheckpointError("The checkpoint's embedded config has no 'transformer' section.")
        return cls.from_dict(configs["transformer"])

    @classmethod
    def from_diffusers_dict(cls, values: Mapping[str, Any]) -> TransformerConfig:
        """Build from a diffusers `LTXVideoTransformer3DModel` config.json (RMS norms, RoPE defaults)."""
        patch_sizes = (values.get("patch_size", 1), values.get("patch_size_t", 1))
        if patch_sizes != (1, 1):
            raise CheckpointError(f"Only 1x1x1 patches are supported, the diffusers config has {patch_sizes}.")
        qk_norm = values.get("qk_norm", "rms_norm_across_heads")
        if qk_norm != "rms_norm_across_heads":
            raise CheckpointError(f"The diffusers transformer's qk_norm {qk_norm!r} is not supported.")
        return cls.from_dict({**values, "qk_norm": "rms_norm", "standardization_norm": "rms_norm"})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def _check_supported(self) -> None:
        problems = []
        if self.activation_fn not in _ACTIVATIONS:
            problems.append(f"activation_fn {self.activation_fn!r} (supported: {', '.join(_ACTIVATIONS)})")
        if self.standardization_norm not in _NORMS:
            problems.append(f"standardization_norm {self.standardization_norm!r}")
        if self.qk_norm not in _QK_NORMS:
            problems.append(f"qk_norm {self.qk_norm!r}")
        if self.adaptive_norm not in _ADAPTIVE_NORMS:
            problems.append(f"adaptive_norm {self.adaptive_norm!r}")
        if self.positional_embedding_type != "rope":
            problems.append(f"positional_embedding_type {self.positional_embedding_type!r}")
        if self.only_cross_attention or self.double_self_attention:
            problems.append("only_cross_attention/double_self_attention")
        if len(self.positional_embedding_max_pos) != 3:
            problems.append(f"positional_embedding_max_pos {self.positional_embedding_max_pos!r} (needs 3 values)")
        if self.caption_channels is not None and self.cross_attention_dim not in (None, self.inner_dim):
            problems.append(
                f"cross_attention_dim {self.cross_attention_dim} with a caption projection to the model width "
                f"{self.inner_dim}"
            )
        if self.inner_dim % 2:
            problems.append(f"an odd model width {self.inner_dim} (rotary embeddings rotate pairs)")
        if problems:
            raise CheckpointError("This transformer variant is not supported: " + "; ".join(problems) + ".")


# The official 0.9.8 distilled checkpoints ("transformer" section of their metadata), for sizing
# (memory estimates, parameter counts) before a file is read. A loaded checkpoint's own metadata
# is authoritative. 0.9.5+ checkpoints position the first latent frame causally.
LTXV_2B_098 = TransformerConfig(
    num_attention_heads=32,
    attention_head_dim=64,
    num_layers=28,
    cross_attention_dim=2048,
    caption_channels=4096,
    causal_temporal_positioning=True,
)
LTXV_13B_098 = TransformerConfig(
    num_attention_heads=32,
    attention_head_dim=128,
    num_layers=48,
    cross_attention_dim=4096,
    caption_channels=4096,
    causal_temporal_positioning=True,
)
PRESETS: dict[str, TransformerConfig] = {"ltxv-2b-0.9.8": LTXV_2B_098, "ltxv-13b-0.9.8": LTXV_13B_098}
