"""Small building blocks of the video VAE, channels-last ([B, F, H, W, C])."""
from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.fusion import fuse_elementwise_on_gpu


class CausalConv3d(nn.Module):
    """3-D convolution that pads time by repeating edge frames, as the reference does.

    Causal: the first frame is repeated k-1 times in front, so output frame t only
    sees input frames <= t. Non-causal: (k-1)/2 copies of the first and last frame.
    Space is padded by k//2 with ``spatial_padding_mode``.

    The repeated frames are never materialised (that copy of the whole input cost as much
    as a third of a convolution on the decoder's largest level): the convolution runs
    zero-padded in time, then each edge output frame gets what the missing copies would
    have added, a 2-D convolution of the edge frame with the sum of the taps that saw them.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        spatial_padding_mode: str = "zeros",
    ):
        super().__init__()
        self.time_kernel_size = kernel_size
        self.spatial_pad = kernel_size // 2
        self.spatial_padding_mode = spatial_padding_mode
        # The inner module keeps the reference's parameter path (`<name>.conv.weight`).
        conv_padding = (0, self.spatial_pad, self.spatial_pad) if spatial_padding_mode == "zeros" else 0
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size, padding=conv_padding)

    def time_padding(self, causal: bool) -> tuple[int, int]:
        """Edge frames repeated (in front, behind)."""
        k = self.time_kernel_size
        return (k - 1, 0) if causal else ((k - 1) // 2, (k - 1) // 2)

    def __call__(self, x: mx.array, causal: bool = True, out_order: mx.array | None = None) -> mx.array:
        """`out_order`: optional output-channel permutation (applied to the weights, not the output)."""
        front, back = self.time_padding(causal)
        if self.spatial_padding_mode != "zeros" and self.spatial_pad:
            x = pad_spatial(x, self.spatial_pad, self.spatial_padding_mode)
        space = self.spatial_pad if self.spatial_padding_mode == "zeros" else 0
        weight = self.conv.weight if out_order is None else self.conv.weight[out_order]
        y = mx.conv_general(x, weight, padding=([front, space, space], [back, space, space]))
        if "bias" in self.conv:
            y = y + (self.conv.bias if out_order is None else self.conv.bias[out_order])
        for out_frame, edge_frame, taps in edge_taps(x.shape[1], self.time_kernel_size, front, back):
            edge_weight = weight[:, taps[0]] if len(taps) == 1 else weight[:, taps].sum(axis=1)
            # .at[].add updates y in place; `y[:, t] = y[:, t] + c` copied all of y for each edge frame.
            y = y.at[:, out_frame].add(
                mx.conv_general(x[:, edge_frame], edge_weight, padding=([space, space], [space, space]))
            )
        return y


def edge_taps(frames: int, kernel: int, front: int, back: int) -> list[tuple[int, int, list[int]]]:
    """(output frame, edge input frame, kernel taps) for every tap that reads a repeated edge frame.

    Output frame t reads padded frames t .. t+k-1; padded frame q is input frame q - front,
    so q < front reads a copy of frame 0 and q >= front + frames a copy of the last frame.
    """
    out_frames = frames + front + back - kernel + 1
    corrections = []
    for t in range(out_frames):
        before = [j for j in range(kernel) if t + j < front]
        after = [j for j in range(kernel) if t + j >= front + frames]
        if before:
            corrections.append((t, 0, before))
        if after:
            corrections.append((t, frames - 1, after))
    return corrections


def pad_spatial(x: mx.array, pad: int, mode: str) -> mx.array:
    """Pad H and W of [B, F, H, W, C] by `pad` with "replicate" or "reflect"."""
    if mode == "replicate":
        return mx.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad), (0, 0)], mode="edge")
    if mode == "reflect":
        for axis in (2, 3):
            length = x.shape[axis]
            front = mx.take(x, mx.arange(pad, 0, -1), axis=axis)
            back = mx.take(x, mx.arange(length - 2, length - 2 - pad, -1), axis=axis)
            x = mx.concatenate([front, x, back], axis=axis)
        return x
    raise ValueError(f"Unsupported spatial padding mode {mode!r}.")


@fuse_elementwise_on_gpu
def modulated_silu(normed: mx.array, scale: mx.array, shift: mx.array) -> mx.array:
    """SiLU(normed * (1 + scale) + shift): the decoder's timestep conditioning and activation in one pass."""
    return nn.silu(normed * (1 + scale) + shift)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over channels; keeps the reference's `<name>.norm.weight` path."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def __call__(self, x: mx.array) -> mx.array:
        return self.norm(x)


def make_norm(norm_layer: str, channels: int, groups: int, eps: float) -> nn.Module | None:
    """GroupNorm module for "group_norm"; None means the parameter-free pixel norm."""
    if norm_layer == "group_norm":
        return nn.GroupNorm(groups, channels, eps=eps, pytorch_compatible=True)
    return None


def norm_activate(norm: nn.Module | None, x: mx.array, scale: mx.array | None = None,
                  shift: mx.array | None = None) -> mx.array:
    """norm (the pixel norm when None) -> timestep modulation when given -> SiLU.

    The pixel-norm form runs as one fused kernel on GPUs (fused_norm.py).
    """
    if norm is None:
        from ltx_mlx_core.models.vae.fused_norm import pixel_norm_silu

        return pixel_norm_silu(x, scale, shift)
    return activate(norm(x), scale, shift)


def activate(normed: mx.array, scale: mx.array | None, shift: mx.array | None) -> mx.array:
    """SiLU of normalised values, timestep-modulated first when `scale`/`shift` are given."""
    return nn.silu(normed) if scale is None else modulated_silu(normed, scale, shift)


def sinusoidal_timestep_embedding(timesteps: mx.array, dim: int = 256) -> mx.array:
    """[N] -> [N, dim] as diffusers' Timesteps(dim, flip_sin_to_cos=True, shift=0)."""
    half = dim // 2
    exponent = -math.log(10000.0) * mx.arange(half, dtype=mx.float32) / half
    angles = timesteps.astype(mx.float32)[:, None] * mx.exp(exponent)[None, :]
    return mx.concatenate([mx.cos(angles), mx.sin(angles)], axis=-1)


class TimestepMLP(nn.Module):
    """diffusers' TimestepEmbedding: linear -> SiLU -> linear."""

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def __call__(self, x: mx.array) -> mx.array:
        return self.linear_2(nn.silu(self.linear_1(x)))


class TimestepEmbedder(nn.Module):
    """PixArt-alpha combined embedder without size conditions: timestep [B] -> [B, dim]."""

    def __init__(self, dim: int):
        super().__init__()
        self.timestep_embedder = TimestepMLP(256, dim)

    def __call__(self, timestep: mx.array, dtype: mx.Dtype) -> mx.array:
        return self.timestep_embedder(sinusoidal_timestep_embedding(timestep).astype(dtype))


def patchify(x: mx.array, patch: int) -> mx.array:
    """[B, F, H*p, W*p, C] -> [B, F, H, W, C*p*p], channel order (c, w-offset, h-offset)."""
    if patch == 1:
        return x
    b, f, h, w, c = x.shape
    x = x.reshape(b, f, h // patch, patch, w // patch, patch, c)
    x = x.transpose(0, 1, 2, 4, 6, 5, 3)
    return x.reshape(b, f, h // patch, w // patch, c * patch * patch)


def unpatchify(x: mx.array, patch: int) -> mx.array:
    """Inverse of `patchify`."""
    if patch == 1:
        return x
    b, f, h, w, cpp = x.shape
    c = cpp // (patch * patch)
    x = x.reshape(b, f, h, w, c, patch, patch)
    x = x.transpose(0, 1, 2, 6, 3, 5, 4)
    return x.reshape(b, f, h * patch, w * patch, c)


def offset_major_order(channels: int, patch: int) -> mx.array:
    """Channel permutation from `patchify`'s (c, w-offset, h-offset) order to (h-offset, w-offset, c).

    A convolution whose weights are permuted so can be unpatchified (`unpatchify_offset_major`)
    by moving whole runs of patch * channels values instead of single values.
    """
    order = [c * patch * patch + col * patch + row
             for row in range(patch) for col in range(patch) for c in range(channels)]
    return mx.array(order)


def unpatchify_offset_major(x: mx.array, patch: int) -> mx.array:
    """`unpatchify` for channels in (h-offset, w-offset, c) order (see `offset_major_order`)."""
    if patch == 1:
        return x
    b, f, h, w, cpp = x.shape
    c = cpp // (patch * patch)
    x = x.reshape(b, f, h, w, patch, patch * c).transpose(0, 1, 2, 4, 3, 5)
    return x.reshape(b, f, h * patch, w * patch, c)


def space_to_depth(x: mx.array, stride: tuple[int, int, int]) -> mx.array:
    """[B, F*p1, H*p2, W*p3, C] -> [B, F, H, W, C*p1*p2*p3], channel order (c, p1, p2, p3)."""
    p1, p2, p3 = stride
    b, f, h, w, c = x.shape
    x = x.reshape(b, f // p1, p1, h // p2, p2, w // p3, p3, c)
    x = x.transpose(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, f // p1, h // p2, w // p3, c * p1 * p2 * p3)


def depth_to_space(x: mx.array, stride: tuple[int, int, int]) -> mx.array:
    """Inverse of `space_to_depth` (the reference's PixelShuffleND(3))."""
    p1, p2, p3 = stride
    b, f, h, w, cp = x.shape
    c = cp // (p1 * p2 * p3)
    x = x.reshape(b, f, h, w, c, p1, p2, p3)
    x = x.transpose(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, f * p1, h * p2, w * p3, c)
