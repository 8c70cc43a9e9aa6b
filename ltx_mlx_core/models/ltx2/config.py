"""Configuration of the LTX-2 family's audio-video transformer, read from the checkpoint.

The official single-file checkpoint stores `{"config": json}` in its safetensors metadata; the
JSON's "transformer" section holds the keys the reference's `LTXModelConfigurator` reads.
Field names here are those keys. The switches by version:

- LTX-2 (19B): caption projections inside the transformer (`caption_proj_before_connector`
  false), plain attention, 6-row AdaLN tables.
- LTX-2.3 (22B): per-head gated attention (`apply_gated_attention`), the text cross-attention
  modulated by the timestep and by the prompt AdaLN (`cross_attention_adaln`, 9-row tables),
  projections moved into the text path.
- LTX-2.5 (22B): as 2.3, with no video feed-forward biases (`ff_bias` false) and a learned
  absolute-position embedding added to keyframe tokens (`use_keyframes_abs_pos_embedding`).

All released checkpoints use split RoPE with float64 frequency tables; the reference's
defaults (interleaved, float32) stay supported.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ltx_mlx_core.errors import CheckpointError

ROPE_TYPES = ("interleaved", "split")
FREQUENCY_PRECISIONS = ("float32", "float64")

# Keys the reference's configurator insists on; a checkpoint that declares another value is a
# variant this implementation does not compute.
_REQUIRED_IF_PRESENT: Mapping[str, Any] = {
    "dropout": 0.0,
    "attention_bias": True,
    "num_vector_embeds": None,
    "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000,
    "use_linear_projection": False,
    "only_cross_attention": False,
    "cross_attention_norm": True,
    "double_self_attention": False,
    "upcast_attention": False,
    "standardization_norm": "rms_norm",
    "norm_elementwise_affine": False,
    "qk_norm": "rms_norm",
    "positional_embedding_type": "rope",
    "use_audio_video_cross_attention": True,
    "share_ff": False,
    "av_cross_ada_norm": True,
}


@dataclass
class LTX2Config:
    """Shape and switches of the transformer; every field but `video_only` is a checkpoint key."""

    num_attention_heads: int = 32
    attention_head_dim: int = 128
    in_channels: int = 128
    out_channels: int = 128
    num_layers: int = 48
    cross_attention_dim: int = 4096
    norm_eps: float = 1e-6
    positional_embedding_theta: float = 10000.0
    positional_embedding_max_pos: list[int] = field(default_factory=lambda: [20, 2048, 2048])
    timestep_scale_multiplier: float = 1000.0
    use_middle_indices_grid: bool = True
    audio_num_attention_heads: int = 32
    audio_attention_head_dim: int = 64
    audio_in_channels: int = 128
    audio_out_channels: int = 128
    audio_cross_attention_dim: int = 2048
    audio_positional_embedding_max_pos: list[int] = field(default_factory=lambda: [20])
    av_ca_timestep_scale_multiplier: float = 1.0
    rope_type: str = "interleaved"
    frequencies_precision: str = "float32"
    apply_gated_attention: bool = False
    cross_attention_adaln: bool = False
    # The prompt AdaLN's timestep embedder; without it the text K/V modulation is the static
    # per-block table alone (diffusers' `use_prompt_adaln_single`).
    use_prompt_adaln_single: bool = True
    caption_channels: int = 3840
    caption_proj_before_connector: bool = False
    ff_bias: bool = True
    audio_ff_bias: bool = True
    use_keyframes_abs_pos_embedding: bool = False
    # Not a checkpoint key: the reference's video-only configurator builds the model without
    # any audio module (video-only checkpoints, and flows that ignore audio).
    video_only: bool = False

    def __post_init__(self) -> None:
        self.positional_embedding_max_pos = list(self.positional_embedding_max_pos)
        self.audio_positional_embedding_max_pos = list(self.audio_positional_embedding_max_pos)
        self._check_supported()

    @property
    def inner_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @property
    def audio_inner_dim(self) -> int:
        return self.audio_num_attention_heads * self.audio_attention_head_dim

    @property
    def has_audio(self) -> bool:
        return not self.video_only

    @property
    def adaln_coefficient(self) -> int:
        """Rows of the per-block modulation table: shift/scale/gate for self-attention and
        feed-forward, plus shift/scale/gate of the text cross-attention's queries with prompt AdaLN."""
        return 9 if self.cross_attention_adaln else 6

    @property
    def has_prompt_adaln(self) -> bool:
        return self.cross_attention_adaln and self.use_prompt_adaln_single

    @property
    def has_caption_projection(self) -> bool:
        return not self.caption_proj_before_connector

    @property
    def double_precision_rope(self) -> bool:
        return self.frequencies_precision == "float64"

    @property
    def cross_max_pos(self) -> int:
        """Temporal extent that normalises the audio-video cross-attention positions."""
        return max(self.positional_embedding_max_pos[0], self.audio_positional_embedding_max_pos[0])

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], video_only: bool = False) -> LTX2Config:
        """Build from the embedded config (whole, or its "transformer" section); unknown keys are ignored."""
        section = values.get("transformer", values)
        for key, expected in _REQUIRED_IF_PRESENT.items():
            if key in section and section[key] != expected:
                raise CheckpointError(
                    f"This LTX-2 transformer variant is not supported: {key} is {section[key]!r}, "
                    f"expected {expected!r}."
                )
        known = {f.name for f in dataclasses.fields(cls)} - {"video_only"}
        kwargs = {key: value for key, value in section.items() if key in known}
        if kwargs.get("frequencies_precision") in (None, False):
            kwargs.pop("frequencies_precision", None)
        try:
            return cls(**kwargs, video_only=video_only)
        except TypeError as error:
            raise CheckpointError(f"The LTX-2 transformer config is malformed: {error}.") from None

    @classmethod
    def from_checkpoint_metadata(cls, metadata: Mapping[str, str], video_only: bool = False) -> LTX2Config:
        """Read the transformer section of an official single-file checkpoint's metadata."""
        if "config" not in metadata:
            raise CheckpointError("The checkpoint has no embedded 'config' metadata, so its transformer is unknown.")
        try:
            configs = json.loads(metadata["config"])
        except json.JSONDecodeError as error:
            raise CheckpointError(f"The checkpoint's embedded config is not valid JSON: {error}.") from None
        if not isinstance(configs, dict) or "transformer" not in configs:
            raise CheckpointError("The checkpoint's embedded config has no 'transformer' section.")
        return cls.from_dict(configs["transformer"], video_only=video_only)

    def _check_supported(self) -> None:
        problems = []
        if self.rope_type not in ROPE_TYPES:
            problems.append(f"rope_type {self.rope_type!r} (supported: {', '.join(ROPE_TYPES)})")
        if self.frequencies_precision not in FREQUENCY_PRECISIONS:
            problems.append(f"frequencies_precision {self.frequencies_precision!r}")
        if len(self.positional_embedding_max_pos) != 3:
            problems.append(f"positional_embedding_max_pos {self.positional_embedding_max_pos!r} (needs 3 values)")
        if len(self.audio_positional_embedding_max_pos) != 1:
            problems.append(f"audio_positional_embedding_max_pos {self.audio_positional_embedding_max_pos!r}")
        if self.inner_dim % 2 or self.audio_inner_dim % 2 or self.audio_cross_attention_dim % 2:
            problems.append("an odd attention width (rotary embeddings rotate pairs)")
        # Text contexts arrive at the stream widths (projected here or in the text path), and the
        # audio-video cross-attention rotates the audio width with audio_cross_attention_dim.
        if self.cross_attention_dim != self.inner_dim:
            problems.append(f"cross_attention_dim {self.cross_attention_dim} != the video width {self.inner_dim}")
        if self.audio_cross_attention_dim != self.audio_inner_dim:
            problems.append(
                f"audio_cross_attention_dim {self.audio_cross_attention_dim} != the audio width {self.audio_inner_dim}"
            )
        if problems:
            raise CheckpointError("This LTX-2 transformer variant is not supported: " + "; ".join(problems) + ".")


# The released checkpoints' transformer sections, for sizing (memory plans, parameter counts)
# before a file is read; a loaded checkpoint's own metadata is authoritative.
LTX2_19B = LTX2Config(
    av_ca_timestep_scale_multiplier=1000.0,
    rope_type="split",
    frequencies_precision="float64",
)
LTX23_22B = dataclasses.replace(
    LTX2_19B,
    apply_gated_attention=True,
    cross_attention_adaln=True,
    caption_proj_before_connector=True,
)
LTX25_22B = dataclasses.replace(LTX23_22B, ff_bias=False, use_keyframes_abs_pos_embedding=True)
PRESETS: dict[str, LTX2Config] = {"ltx-2-19b": LTX2_19B, "ltx-2.3-22b": LTX23_22B, "ltx-2.5-22b": LTX25_22B}
