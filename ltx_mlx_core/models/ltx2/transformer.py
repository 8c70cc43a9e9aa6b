"""The LTX-2 family's asymmetric audio-video transformer (the reference's `LTXModel`) in MLX.

A wide video stream and a narrower audio stream, each patchified to tokens, run through the
same stack of blocks (see block.py) and leave through a modulated layer norm and a linear
projection; the model returns velocities. The timestep of every token (the noise level,
sigma * 1000) drives the AdaLN-single modulation; each stream's sigma also drives the prompt
AdaLN (2.3+) and, crossed over, the other stream's audio-video cross-attention modulation.
Built video-only (`config.video_only`), it holds no audio module at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.adaln import CaptionProjection
from ltx_mlx_core.models.common.token_chunks import DEFAULT_FEED_FORWARD_CHUNKS
from ltx_mlx_core.models.ltx2.block import LTX2Block, StreamState
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.layers import AdaLNSingle
from ltx_mlx_core.models.ltx2.perturbations import Perturbations
from ltx_mlx_core.models.ltx2.rope import rotary_table

# Called after each block with (block index, video hidden states, audio hidden states), None for an
# absent stream; the pipeline evaluates there (pipeline/block_eval.py), model code never does. When
# the hook's `within_block` attribute is set, that is called the same way between each block's
# attentions and its feed-forwards.
AfterBlock = Callable[..., None]


@dataclass(frozen=True)
class ModalityInput:
    """One stream's input, as the reference's `Modality`."""

    latent: mx.array  # [B, T, C] patchified latent tokens
    sigma: mx.array  # [B] noise level of the step
    timesteps: mx.array  # [B, T] per-token noise level (0 on clean conditioning tokens), or [B] / [B, 1]
    positions: mx.array  # [B, 3, T, 2] video or [B, 1, T, 2] audio bounds (positions.py)
    context: mx.array  # [B, L, C_text] text embeddings
    context_mask: mx.array | None = None  # [B, L]: 1 attend, 0 padding
    attention_mask: mx.array | None = None  # [B, T, T] self-attention strength in [0, 1]
    keyframe_mask: mx.array | None = None  # [B, T]: nonzero on keyframe tokens (LTX-2.5)
    enabled: bool = True  # False: the stream's blocks do not run (it is still the other's context)


@dataclass(frozen=True)
class _Stream:
    """Checkpoint-name prefix and shape of one stream."""

    prefix: str
    heads: int
    dim: int
    max_pos: Sequence[int]
    cross_scale_shift: str
    cross_gate: str


@dataclass(frozen=True)
class PreparedStreams:
    """Both streams' block inputs for one forward (`LTX2Transformer.prepare`); None for an absent stream."""

    video: StreamState | None
    audio: StreamState | None
    perturbations: Perturbations

    @property
    def video_x(self) -> mx.array | None:
        return None if self.video is None else self.video.x

    @property
    def audio_x(self) -> mx.array | None:
        return None if self.audio is None else self.audio.x

    def entries(self, indices: Sequence[int]) -> PreparedStreams:
        """The chosen batch entries, in that order (a sub-batch of the guidance branches)."""
        batch = len(self.perturbations.per_entry)
        chosen = mx.array(list(indices))
        return PreparedStreams(
            _state_entries(self.video, chosen, batch),
            _state_entries(self.audio, chosen, batch),
            Perturbations(tuple(self.perturbations.per_entry[i] for i in indices)),
        )


def _state_entries(state: StreamState | None, chosen: mx.array, batch: int) -> StreamState | None:
    """Every batch-leading array of a stream's state (rotary tables included) taken at `chosen`."""

    def take(value):
        if isinstance(value, mx.array):
            return mx.take(value, chosen, axis=0) if value.ndim and value.shape[0] == batch else value
        if isinstance(value, tuple):  # the rotary tables (NamedTuples)
            return type(value)(*(take(item) for item in value))
        return value

    if state is None:
        return None
    return replace(state, **{f.name: take(getattr(state, f.name)) for f in fields(state)})


class LTX2Transformer(nn.Module):
    def __init__(self, config: LTX2Config):
        super().__init__()
        self.config = config
        streams = [self._video_stream()] + ([self._audio_stream()] if config.has_audio else [])
        for stream, in_channels, out_channels in zip(
            streams,
            (config.in_channels, config.audio_in_channels),
            (config.out_channels, config.audio_out_channels),
        ):
            dim, prefix = stream.dim, stream.prefix
            setattr(self, prefix + "patchify_proj", nn.Linear(in_channels, dim))
            setattr(self, prefix + "adaln_single", AdaLNSingle(dim, config.adaln_coefficient))
            if config.has_prompt_adaln:
                setattr(self, prefix + "prompt_adaln_single", AdaLNSingle(dim, 2))
            if config.has_caption_projection:
                setattr(self, prefix + "caption_projection", CaptionProjection(config.caption_channels, dim))
            setattr(self, prefix + "scale_shift_table", mx.zeros((2, dim)))
            setattr(self, prefix + "proj_out", nn.Linear(dim, out_channels))
            if config.has_audio:
                setattr(self, stream.cross_scale_shift, AdaLNSingle(dim, 4))
                setattr(self, stream.cross_gate, AdaLNSingle(dim, 1))
        if config.use_keyframes_abs_pos_embedding:
            self.keyframes_abs_pos_embedding = mx.zeros((1, config.inner_dim))
        self.transformer_blocks = [LTX2Block(index, config) for index in range(config.num_layers)]
        # Token chunks of each block's feed-forward (models/common/token_chunks.py); the pipeline may set it.
        self.feed_forward_chunks = DEFAULT_FEED_FORWARD_CHUNKS

    def _video_stream(self) -> _Stream:
        c = self.config
        return _Stream(
            "",
            c.num_attention_heads,
            c.inner_dim,
            c.positional_embedding_max_pos,
            "av_ca_video_scale_shift_adaln_single",
            "av_ca_a2v_gate_adaln_single",
        )

    def _audio_stream(self) -> _Stream:
        c = self.config
        return _Stream(
            "audio_",
            c.audio_num_attention_heads,
            c.audio_inner_dim,
            c.audio_positional_embedding_max_pos,
            "av_ca_audio_scale_shift_adaln_single",
            "av_ca_v2a_gate_adaln_single",
        )

    def __call__(
        self,
        video: ModalityInput | None,
        audio: ModalityInput | None = None,
        perturbations: Perturbations | None = None,
        after_block: AfterBlock | None = None,
    ) -> tuple[mx.array | None, mx.array | None]:
        """Velocities (video [B, T_v, C_out], audio [B, T_a, C_audio_out]); None for an absent stream.
        `after_block(index, vx, ax)` runs after each block.

        The forward is prepare -> run_blocks -> outputs; a step cache calls those parts itself to
        run only some blocks (pipeline/step_cache_ltx2.py).
        """
        prepared = self.prepare(video, audio, perturbations)
        vx, ax = self.run_blocks(prepared, prepared.video_x, prepared.audio_x, after_block=after_block)
        return self.outputs(prepared, vx, ax)

    def prepare(
        self,
        video: ModalityInput | None,
        audio: ModalityInput | None = None,
        perturbations: Perturbations | None = None,
    ) -> PreparedStreams:
        """Both streams embedded: the first block's inputs and what every block reads besides them."""
        if video is None and audio is None:
            raise ValueError("The transformer needs a video or an audio input.")
        if audio is not None and not self.config.has_audio:
            raise ValueError("This transformer was built video-only; it takes no audio input.")
        batch = (video or audio).latent.shape[0]
        perturbations = Perturbations.none(batch) if perturbations is None else perturbations
        perturbations.check_batch(batch)
        video_state = None if video is None else self._prepare(video, audio, self._video_stream())
        audio_state = None if audio is None else self._prepare(audio, video, self._audio_stream())
        return PreparedStreams(video_state, audio_state, perturbations)

    def run_blocks(
        self, prepared: PreparedStreams, vx: mx.array | None, ax: mx.array | None, start: int = 0,
        stop: int | None = None, after_block: AfterBlock | None = None,
    ) -> tuple[mx.array | None, mx.array | None]:  # fmt: skip
        """Blocks start..stop-1 (all by default) over the streams' hidden states (None: absent);
        `after_block(index, vx, ax)` after each."""
        video_state, audio_state = prepared.video, prepared.audio
        stop = len(self.transformer_blocks) if stop is None else stop
        within_block = getattr(after_block, "within_block", None)
        for index in range(start, stop):
            vx, ax = self.transformer_blocks[index](
                None if video_state is None else replace(video_state, x=vx),
                None if audio_state is None else replace(audio_state, x=ax),
                prepared.perturbations,
                None if within_block is None else functools.partial(within_block, index),
            )
            if after_block is not None:
                after_block(index, vx, ax)
        return vx, ax

    def outputs(
        self, prepared: PreparedStreams, vx: mx.array | None, ax: mx.array | None
    ) -> tuple[mx.array | None, mx.array | None]:
        """The velocities from the last block's hidden states."""
        video_out = None if prepared.video is None else self._output(vx, prepared.video, "")
        audio_out = None if prepared.audio is None else self._output(ax, prepared.audio, "audio_")
        return video_out, audio_out

    def _prepare(self, modality: ModalityInput, other: ModalityInput | None, stream: _Stream) -> StreamState:
        c, prefix = self.config, stream.prefix
        patchify = getattr(self, prefix + "patchify_proj")
        dtype = patchify.weight.dtype
        batch = modality.latent.shape[0]
        x = patchify(modality.latent.astype(dtype))
        if prefix == "" and modality.keyframe_mask is not None and c.use_keyframes_abs_pos_embedding:
            marker = (modality.keyframe_mask.reshape(batch, -1, 1) > 0).astype(dtype)
            x = x + marker * self.keyframes_abs_pos_embedding
        modulation, embedded = self._timestep(getattr(self, prefix + "adaln_single"), modality.timesteps, batch, dtype)
        prompt_modulation = None
        if c.has_prompt_adaln:
            prompt_modulation, _ = self._timestep(
                getattr(self, prefix + "prompt_adaln_single"), _per_entry(modality.sigma, batch), batch, dtype
            )
        context = modality.context.astype(dtype)
        if c.has_caption_projection:
            context = getattr(self, prefix + "caption_projection")(context)
        rope = rotary_table(
            modality.positions, stream.dim, stream.heads, stream.max_pos, c.rope_type,
            c.positional_embedding_theta, c.double_precision_rope, c.use_middle_indices_grid,
        )  # fmt: skip
        state = StreamState(
            x=x,
            context=context.reshape(batch, -1, stream.dim),
            context_mask=_context_bias(modality.context_mask, dtype),
            modulation=modulation,
            embedded_timestep=embedded,
            rope=rope,
            self_attention_mask=_self_attention_bias(modality.attention_mask, dtype),
            prompt_modulation=prompt_modulation,
            enabled=modality.enabled,
            feed_forward_chunks=self.feed_forward_chunks,
        )
        if other is None or not c.has_audio:
            return state
        return self._with_cross(state, modality, other, stream, batch, dtype)

    def _with_cross(
        self, state: StreamState, modality: ModalityInput, other: ModalityInput, stream: _Stream, batch: int,
        dtype: mx.Dtype,
    ) -> StreamState:  # fmt: skip
        """Add the audio-video cross-attention inputs: temporal RoPE, modulation from the other stream's sigma."""
        c = self.config
        cross_rope = rotary_table(
            modality.positions[:, 0:1], c.audio_cross_attention_dim, stream.heads, [c.cross_max_pos],
            c.rope_type, c.positional_embedding_theta, c.double_precision_rope, True,
        )  # fmt: skip
        timestep = _per_entry(other.sigma, batch).astype(mx.float32) * c.timestep_scale_multiplier
        gate_factor = c.av_ca_timestep_scale_multiplier / c.timestep_scale_multiplier
        scale_shift, _ = getattr(self, stream.cross_scale_shift)(timestep, dtype)
        gate, _ = getattr(self, stream.cross_gate)(timestep * gate_factor, dtype)
        return replace(
            state,
            cross_rope=cross_rope,
            cross_scale_shift=scale_shift.reshape(batch, 1, -1),
            cross_gate=gate.reshape(batch, 1, -1),
        )

    def _timestep(
        self, adaln: AdaLNSingle, timesteps: mx.array, batch: int, dtype: mx.Dtype
    ) -> tuple[mx.array, mx.array]:
        """AdaLN of noise levels [B] or [B, T] -> ([B, 1 or T, R * D], [B, 1 or T, D])."""
        scaled = timesteps.astype(mx.float32) * self.config.timestep_scale_multiplier
        modulation, embedded = adaln(scaled, dtype)
        return modulation.reshape(batch, -1, modulation.shape[-1]), embedded.reshape(batch, -1, embedded.shape[-1])

    def _output(self, x: mx.array, state: StreamState, prefix: str) -> mx.array:
        table = getattr(self, prefix + "scale_shift_table")
        values = table[None, None] + state.embedded_timestep[:, :, None]
        shift, scale = values[:, :, 0], values[:, :, 1]
        normed = mx.fast.layer_norm(x, None, None, self.config.norm_eps)
        return getattr(self, prefix + "proj_out")(normed * (1 + scale) + shift)


def _per_entry(sigma: mx.array, batch: int) -> mx.array:
    """A step's noise level as [B] (a scalar is shared by the batch)."""
    sigma = mx.array(sigma).reshape(-1)
    return mx.broadcast_to(sigma, (batch,)) if sigma.size == 1 else sigma


def _context_bias(mask: mx.array | None, dtype: mx.Dtype) -> mx.array | None:
    """[B, L] keep-mask -> additive [B, 1, 1, L]: 0 kept, the dtype's lowest value padded (as the reference)."""
    if mask is None:
        return None
    lowest = mx.finfo(dtype).min
    return ((mask.astype(dtype) - 1) * -lowest).reshape(mask.shape[0], 1, 1, -1)


def _self_attention_bias(mask: mx.array | None, dtype: mx.Dtype) -> mx.array | None:
    """[B, T, T] strengths in [0, 1] -> additive log-strength [B, 1, T, T]; 0 masks fully."""
    if mask is None:
        return None
    strengths = mask.astype(mx.float32)
    smallest = mx.finfo(dtype).smallest_normal
    bias = mx.where(strengths > 0, mx.log(mx.maximum(strengths, smallest)), mx.finfo(dtype).min)
    return bias.astype(dtype)[:, None]
