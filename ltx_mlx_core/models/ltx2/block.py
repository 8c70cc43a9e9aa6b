"""One block of the LTX-2 audio-video transformer.

Per stream (video, then audio): AdaLN-modulated self-attention with RoPE, then text
cross-attention (with LTX-2.3's prompt AdaLN: queries and text both modulated, output gated).
Then the streams exchange information: audio-to-video (video queries, audio keys/values) and
video-to-audio cross-attention, both on temporal-only RoPE, modulated by their own AdaLN
tables; video-to-audio reads the video normalised before audio-to-video updated it, as the
reference does. Last, each stream's modulated feed-forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.adaln import AdaValue, ada_rows, ada_sum, gated_residual, modulate
from ltx_mlx_core.models.common.token_chunks import in_token_chunks
from ltx_mlx_core.models.ltx2.attention import LTX2Attention
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.layers import FeedForward, rms_norm
from ltx_mlx_core.models.ltx2.perturbations import Perturbations, Skip
from ltx_mlx_core.models.ltx2.rope import Rotary

# Rows of the audio-video tables: scale/shift for audio-to-video, scale/shift for video-to-audio, gate.
_A2V_ROWS, _V2A_ROWS, _SCALE_SHIFT_ROWS = slice(0, 2), slice(2, 4), 4


@dataclass(frozen=True)
class StreamState:
    """One stream's hidden states and everything its blocks read besides their weights."""

    x: mx.array  # [B, T, D]
    context: mx.array  # [B, L, D] text, at the stream width
    context_mask: mx.array | None  # additive, [B, 1, 1, L]
    modulation: mx.array  # [B, 1 or T, R * D]
    embedded_timestep: mx.array  # [B, 1 or T, D]
    rope: Rotary
    self_attention_mask: mx.array | None = None  # additive, [B, 1, T, T]
    prompt_modulation: mx.array | None = None  # [B, 1, 2 * D]
    cross_rope: Rotary | None = None
    cross_scale_shift: mx.array | None = None  # [B, 1, 4 * D]
    cross_gate: mx.array | None = None  # [B, 1, D]
    enabled: bool = True
    feed_forward_chunks: int = 1  # token chunks of the feed-forward (models/common/token_chunks.py)


# Attribute-name prefix and self-attention perturbation of each stream (names as the checkpoint's).
_VIDEO = ("", Skip.VIDEO_SELF_ATTENTION)
_AUDIO = ("audio_", Skip.AUDIO_SELF_ATTENTION)


class LTX2Block(nn.Module):
    def __init__(self, index: int, config: LTX2Config):
        super().__init__()
        self.index = index
        self.eps = config.norm_eps
        self.cross_attention_adaln = config.cross_attention_adaln
        gated, eps = config.apply_gated_attention, config.norm_eps
        streams = [("", config.inner_dim, config.num_attention_heads, config.attention_head_dim, config.ff_bias)]
        if config.has_audio:
            streams.append(
                (
                    "audio_",
                    config.audio_inner_dim,
                    config.audio_num_attention_heads,
                    config.audio_attention_head_dim,
                    config.audio_ff_bias,
                )
            )
        for prefix, dim, heads, head_dim, ff_bias in streams:
            setattr(self, prefix + "attn1", LTX2Attention(dim, heads, head_dim, None, eps, gated))
            setattr(self, prefix + "attn2", LTX2Attention(dim, heads, head_dim, dim, eps, gated))
            setattr(self, prefix + "ff", FeedForward(dim, bias=ff_bias))
            setattr(self, prefix + "scale_shift_table", mx.zeros((config.adaln_coefficient, dim)))
            if config.cross_attention_adaln:
                setattr(self, prefix + "prompt_scale_shift_table", mx.zeros((2, dim)))
        if config.has_audio:
            video_dim, audio_dim = config.inner_dim, config.audio_inner_dim
            audio_heads, audio_head_dim = config.audio_num_attention_heads, config.audio_attention_head_dim
            self.audio_to_video_attn = LTX2Attention(video_dim, audio_heads, audio_head_dim, audio_dim, eps, gated)
            self.video_to_audio_attn = LTX2Attention(audio_dim, audio_heads, audio_head_dim, video_dim, eps, gated)
            self.scale_shift_table_a2v_ca_audio = mx.zeros((5, audio_dim))
            self.scale_shift_table_a2v_ca_video = mx.zeros((5, video_dim))

    def __call__(
        self,
        video: StreamState | None,
        audio: StreamState | None,
        perturbations: Perturbations,
        after_attention: Callable[[mx.array | None, mx.array | None], None] | None = None,
    ) -> tuple[mx.array | None, mx.array | None]:
        """The streams' hidden states after this block (None for an absent stream); `after_attention`
        sees them between the attentions and the feed-forwards (an evaluation point, pipeline/block_eval.py)."""
        vx = None if video is None else video.x
        ax = None if audio is None else audio.x
        run_video = video is not None and video.enabled
        run_audio = audio is not None and audio.enabled
        if run_video:
            vx = self._attend(vx, video, _VIDEO, perturbations)
        if run_audio:
            ax = self._attend(ax, audio, _AUDIO, perturbations)
        if (run_video or run_audio) and video is not None and audio is not None:
            vx, ax = self._exchange(vx, ax, video, audio, run_video, run_audio, perturbations)
        if after_attention is not None and (run_video or run_audio):
            after_attention(vx, ax)
        if run_video:
            vx = self._feed_forward(vx, video, "")
        if run_audio:
            ax = self._feed_forward(ax, audio, "audio_")
        return vx, ax

    def _attend(
        self, x: mx.array, state: StreamState, stream: tuple[str, Skip], perturbations: Perturbations
    ) -> mx.array:
        prefix, skip = stream
        table = getattr(self, prefix + "scale_shift_table")
        shift, scale, gate = ada_rows(table, state.modulation, slice(0, 3))
        skip_all = perturbations.all_skipped(skip, self.index)
        keep = None if skip_all else perturbations.keep_mask(skip, self.index, x.dtype)
        attended = getattr(self, prefix + "attn1")(
            modulate(rms_norm(x, self.eps), scale, shift),
            mask=state.self_attention_mask,
            rope=state.rope,
            keep=keep,
            skip_all=skip_all,
        )
        x = gated_residual(x, gate, attended)

        text_attention = getattr(self, prefix + "attn2")
        if not self.cross_attention_adaln:
            return x + text_attention(rms_norm(x, self.eps), context=state.context, mask=state.context_mask)
        shift_q, scale_q, gate_q = ada_rows(table, state.modulation, slice(6, 9))
        prompt_table = getattr(self, prefix + "prompt_scale_shift_table")
        if state.prompt_modulation is None:
            # Without the prompt AdaLN embedder the text modulation is the static table alone.
            shift_kv, scale_kv = prompt_table[0], prompt_table[1]
        else:
            shift_kv, scale_kv = ada_rows(prompt_table, state.prompt_modulation, slice(0, 2))
        attended = text_attention(
            modulate(rms_norm(x, self.eps), scale_q, shift_q),
            context=modulate(state.context, scale_kv, shift_kv),
            mask=state.context_mask,
        )
        return gated_residual(x, gate_q, attended)

    def _exchange(
        self,
        vx: mx.array,
        ax: mx.array,
        video: StreamState,
        audio: StreamState,
        run_video: bool,
        run_audio: bool,
        perturbations: Perturbations,
    ) -> tuple[mx.array, mx.array]:
        video_normed, audio_normed = rms_norm(vx, self.eps), rms_norm(ax, self.eps)
        if run_video and not perturbations.all_skipped(Skip.AUDIO_TO_VIDEO, self.index):
            update = self._cross_modal(
                self.audio_to_video_attn,
                (video_normed, video, self.scale_shift_table_a2v_ca_video),
                (audio_normed, audio, self.scale_shift_table_a2v_ca_audio),
                _A2V_ROWS,
            )
            keep = perturbations.keep_mask(Skip.AUDIO_TO_VIDEO, self.index, vx.dtype)
            vx = _gated_update(vx, *update, keep)
        if run_audio and not perturbations.all_skipped(Skip.VIDEO_TO_AUDIO, self.index):
            update = self._cross_modal(
                self.video_to_audio_attn,
                (audio_normed, audio, self.scale_shift_table_a2v_ca_audio),
                (video_normed, video, self.scale_shift_table_a2v_ca_video),
                _V2A_ROWS,
            )
            keep = perturbations.keep_mask(Skip.VIDEO_TO_AUDIO, self.index, ax.dtype)
            ax = _gated_update(ax, *update, keep)
        return vx, ax

    @staticmethod
    def _cross_modal(
        attention: LTX2Attention,
        query: tuple[mx.array, StreamState, mx.array],
        key: tuple[mx.array, StreamState, mx.array],
        rows: slice,
    ) -> tuple[mx.array, AdaValue]:
        """Cross-attention between streams and its gate; each side is (normalised x, state, AdaLN table [5, D])."""
        query_normed, query_state, query_table = query
        key_normed, key_state, key_table = key
        scale_q, shift_q = ada_rows(query_table[:_SCALE_SHIFT_ROWS], query_state.cross_scale_shift, rows)
        scale_k, shift_k = ada_rows(key_table[:_SCALE_SHIFT_ROWS], key_state.cross_scale_shift, rows)
        (gate,) = ada_rows(query_table[_SCALE_SHIFT_ROWS:], query_state.cross_gate, slice(None))
        attended = attention(
            modulate(query_normed, scale_q, shift_q),
            context=modulate(key_normed, scale_k, shift_k),
            rope=query_state.cross_rope,
            key_rope=key_state.cross_rope,
        )
        return attended, gate

    def _feed_forward(self, x: mx.array, state: StreamState, prefix: str) -> mx.array:
        shift, scale, gate = ada_rows(getattr(self, prefix + "scale_shift_table"), state.modulation, slice(3, 6))
        ff = getattr(self, prefix + "ff")

        def branch(x: mx.array, shift: AdaValue, scale: AdaValue, gate: AdaValue) -> mx.array:
            return gated_residual(x, gate, ff(modulate(rms_norm(x, self.eps), scale, shift)))

        return in_token_chunks(branch, state.feed_forward_chunks, x, shift, scale, gate)


def _gated_update(x: mx.array, attended: mx.array, gate: AdaValue, keep: mx.array | None) -> mx.array:
    """x + attended * gate (* keep: 0 drops the update for a perturbed batch entry)."""
    if keep is None:
        return gated_residual(x, gate, attended)
    return x + attended * ada_sum(gate) * keep
