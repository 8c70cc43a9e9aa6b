"""One stream's tokens under denoising, and the conditioning items that shape them.

A `TokenState` is the reference's patchified `LatentState`: the tokens, the clean tokens
they started from, a per-token denoise mask (1: denoise fully, 0: keep clean, 1 - strength
in between) that scales each token's noise level, and the positions the transformer reads.
Conditioning acts on it before noise is mixed in, as ltx-core's conditioning items do:

- `ReplaceLatents` puts encoded latents over the clip's own from a latent frame on (an
  image at frame 0, the tail of a clip being extended);
- `AppendKeyframe` appends encoded latents as extra tokens placed at a pixel frame (an
  image elsewhere, every keyframe of an interpolation); they are dropped after denoising;
- `ReplaceAudio` holds given audio latents from an audio latent frame on (the sound of a
  clip being extended, or the whole track of an audio-to-video generation).

`noised` then mixes noise into every token by its mask x the stage's noise scale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.patchify import patchify
from ltx_mlx_core.models.ltx2.positions import VIDEO_SCALE_FACTORS, audio_positions, video_positions
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout, patchify_audio


@dataclass(frozen=True)
class TokenState:
    latent: mx.array  # [B, T, C]
    clean: mx.array  # [B, T, C]
    denoise_mask: mx.array  # [B, T] float32
    positions: mx.array  # [B, 3, T, 2] video, [B, 1, T, 2] audio
    target_tokens: int  # tokens of the clip itself; appended conditioning tokens follow them
    attention_mask: mx.array | None = None  # [B, T, T] self-attention strengths, None: full
    # Nonzero on tokens of latent frames that hold a single pixel frame (LTX-2.5's keyframe embedding).
    keyframe_mask: mx.array | None = None  # [B, T]

    def with_latent(self, latent: mx.array) -> TokenState:
        return replace(self, latent=latent)

    def timesteps(self, sigma: float) -> mx.array:
        """Each token's noise level [B, T]: the step's sigma scaled by the token's mask."""
        return self.denoise_mask * mx.array(sigma, dtype=mx.float32)

    def generated(self) -> mx.array:
        """The clip's tokens [B, target_tokens, C], without appended conditioning."""
        return self.latent[:, : self.target_tokens]


def video_state(
    batch: int, grid: tuple[int, int, int], fps: float, initial: mx.array | None, channels: int
) -> TokenState:
    """Tokens of a video latent grid: `initial` latents [B, F, H, W, C] or zeros, all to be denoised."""
    frames, rows, cols = grid
    if initial is None:
        tokens = mx.zeros((batch, frames * rows * cols, channels), dtype=mx.float32)
    else:
        if tuple(initial.shape) != (batch, frames, rows, cols, channels):
            raise ValueError(f"Initial video latents {tuple(initial.shape)} do not fit the grid {grid}.")
        tokens = patchify(initial)
    count = tokens.shape[1]
    keyframes = mx.concatenate([mx.ones((batch, rows * cols)), mx.zeros((batch, count - rows * cols))], axis=1)
    return TokenState(
        latent=tokens,
        clean=tokens,
        denoise_mask=mx.ones((batch, count), dtype=mx.float32),
        positions=video_positions(batch, frames, rows, cols, fps),
        target_tokens=count,
        keyframe_mask=keyframes,
    )


def audio_state(batch: int, frames: int, layout: AudioLatentLayout, initial: mx.array | None) -> TokenState:
    """Tokens of `frames` audio latent frames: `initial` latents [B, C, T, F] or zeros, all to be denoised."""
    if initial is None:
        tokens = mx.zeros((batch, frames, layout.token_channels), dtype=mx.float32)
    else:
        if tuple(initial.shape) != (batch, layout.channels, frames, layout.mel_bins):
            raise ValueError(f"Initial audio latents {tuple(initial.shape)} do not hold {frames} frames.")
        tokens = patchify_audio(initial)
    return TokenState(
        latent=tokens,
        clean=tokens,
        denoise_mask=mx.ones((batch, frames), dtype=mx.float32),
        positions=audio_positions(batch, frames, layout.sample_rate, layout.hop_length, layout.downsample),
        target_tokens=frames,
    )


def _check_strength(strength: float) -> None:
    if not 0.0 <= strength <= 1.0:
        raise InvalidRequest(f"A conditioning strength must be between 0 and 1; got {strength}.")


def _overwrite(state: TokenState, start: int, tokens: mx.array, strength: float) -> TokenState:
    stop = start + tokens.shape[1]
    tokens = mx.broadcast_to(tokens.astype(state.latent.dtype), (state.latent.shape[0], *tokens.shape[1:]))

    def put(values: mx.array, new: mx.array) -> mx.array:
        return mx.concatenate([values[:, :start], new, values[:, stop:]], axis=1)

    mask = mx.full((state.latent.shape[0], stop - start), 1.0 - strength, dtype=mx.float32)
    return replace(
        state,
        latent=put(state.latent, tokens),
        clean=put(state.clean, tokens),
        denoise_mask=put(state.denoise_mask, mask),
    )


@dataclass(frozen=True)
class ReplaceLatents:
    """Encoded video latents [1, f, H, W, C] over the clip's latent frames latent_index .. latent_index + f."""

    latents: mx.array
    latent_index: int
    strength: float = 1.0

    def apply(self, state: TokenState, grid: tuple[int, int, int], fps: float) -> TokenState:
        _check_strength(self.strength)
        frames, rows, cols = grid
        count, height, width = self.latents.shape[1:4]
        if (height, width) != (rows, cols):
            raise InvalidRequest(
                f"Conditioning latents of {width}x{height} cannot replace latents of a {cols}x{rows} grid."
            )
        if not 0 <= self.latent_index <= frames - count:
            raise InvalidRequest(
                f"{count} conditioning latent frame(s) from latent frame {self.latent_index} do not fit the "
                f"clip's {frames}."
            )
        return _overwrite(state, self.latent_index * rows * cols, patchify(self.latents), self.strength)


@dataclass(frozen=True)
class AppendKeyframe:
    """Encoded latents [1, f, H, W, C] appended as tokens placed from pixel frame `frame` on."""

    latents: mx.array
    frame: int
    strength: float = 1.0

    def apply(self, state: TokenState, grid: tuple[int, int, int], fps: float) -> TokenState:
        _check_strength(self.strength)
        batch = state.latent.shape[0]
        count, rows, cols = self.latents.shape[1:4]
        tokens = patchify(self.latents).astype(state.latent.dtype)
        tokens = mx.broadcast_to(tokens, (batch, *tokens.shape[1:]))
        # Pixel bounds (frame 0's latent is causal: it covers one frame), shifted to `frame`, then seconds.
        pixels = video_positions(batch, count, rows, cols, 1.0, VIDEO_SCALE_FACTORS, causal=self.frame == 0)
        time = (pixels[:, :1] + float(self.frame)) / mx.array(fps, dtype=mx.float32)
        positions = mx.concatenate([time, pixels[:, 1:]], axis=1)
        added = tokens.shape[1]
        attention = state.attention_mask
        if attention is not None:
            attention = _extend_attention(attention, state.target_tokens, added)
        keyframes = state.keyframe_mask
        if keyframes is not None:
            # A keyframe of one latent frame holds one pixel frame.
            marker = 1.0 if count == 1 else 0.0
            keyframes = mx.concatenate([keyframes, mx.full((batch, added), marker)], axis=1)
        return replace(
            state,
            latent=mx.concatenate([state.latent, tokens], axis=1),
            clean=mx.concatenate([state.clean, tokens], axis=1),
            denoise_mask=mx.concatenate(
                [state.denoise_mask, mx.full((batch, added), 1.0 - self.strength, dtype=mx.float32)], axis=1
            ),
            positions=mx.concatenate([state.positions, positions], axis=2),
            attention_mask=attention,
            keyframe_mask=keyframes,
        )


def _extend_attention(mask: mx.array, noisy: int, added: int) -> mx.array:
    """Grow a [B, N, N] self-attention mask by `added` tokens that attend fully to the clip's own tokens and to
    themselves, and not to earlier conditioning tokens (ltx-core's `build_attention_mask` with full strength)."""
    batch, existing = mask.shape[0], mask.shape[1]
    top = mx.concatenate(
        [
            mask,
            mx.concatenate([mx.ones((batch, noisy, added)), mx.zeros((batch, existing - noisy, added))], axis=1),
        ],
        axis=2,
    )
    bottom = mx.concatenate(
        [
            mx.ones((batch, added, noisy)),
            mx.zeros((batch, added, existing - noisy)),
            mx.ones((batch, added, added)),
        ],
        axis=2,
    )
    return mx.concatenate([top, bottom.astype(mask.dtype)], axis=1)


@dataclass(frozen=True)
class ReplaceAudio:
    """Audio latents [1, C, t, F] held from audio latent frame `frame` on; what runs past the clip is dropped."""

    latents: mx.array
    frame: int = 0
    strength: float = 1.0

    def apply(self, state: TokenState) -> TokenState:
        _check_strength(self.strength)
        frames = state.target_tokens
        if not 0 <= self.frame < frames:
            raise InvalidRequest(
                f"Audio conditioning from latent frame {self.frame} starts outside the clip's {frames}."
            )
        tokens = patchify_audio(self.latents)[:, : frames - self.frame]
        return _overwrite(state, self.frame, tokens, self.strength)


def noised(state: TokenState, noise: mx.array, scale: float) -> TokenState:
    """Noise mixed into every token by its mask x `scale` (the reference's `GaussianNoiser`)."""
    amount = (state.denoise_mask * mx.array(scale, dtype=mx.float32))[..., None]
    latent = noise.astype(mx.float32) * amount + state.latent.astype(mx.float32) * (1 - amount)
    return state.with_latent(latent.astype(state.latent.dtype))
