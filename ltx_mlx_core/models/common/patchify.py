"""Rearrangements between grids, tokens and channels (channels-last).

Latents [B, F, H, W, C] become transformer tokens [B, F*H*W, C] in (f, h, w) order, as the
reference's patchifier with 1x1x1 patches. The VAE folds pixel patches into channels on the
way in and back out on the way out, and folds (time, space) blocks into channels when it
compresses.
"""

from __future__ import annotations

import mlx.core as mx


def patchify(latents: mx.array) -> mx.array:
    """[B, F, H, W, C] -> tokens [B, F*H*W, C]."""
    batch, frames, rows, cols, channels = latents.shape
    return latents.reshape(batch, frames * rows * cols, channels)


def unpatchify(tokens: mx.array, grid: tuple[int, int, int]) -> mx.array:
    """Tokens [B, N, C] -> [B, F, H, W, C] for grid (F, H, W); N must be F*H*W."""
    frames, rows, cols = grid
    if tokens.shape[1] != frames * rows * cols:
        raise ValueError(f"{tokens.shape[1]} tokens cannot form a {frames}x{rows}x{cols} latent grid.")
    return tokens.reshape(tokens.shape[0], frames, rows, cols, tokens.shape[-1])


def patchify_pixels(x: mx.array, patch: int) -> mx.array:
    """[B, F, H*p, W*p, C] -> [B, F, H, W, C*p*p], channel order (c, w-offset, h-offset)."""
    if patch == 1:
        return x
    b, f, h, w, c = x.shape
    x = x.reshape(b, f, h // patch, patch, w // patch, patch, c)
    x = x.transpose(0, 1, 2, 4, 6, 5, 3)
    return x.reshape(b, f, h // patch, w // patch, c * patch * patch)


def unpatchify_pixels(x: mx.array, patch: int) -> mx.array:
    """Inverse of `patchify_pixels`."""
    if patch == 1:
        return x
    b, f, h, w, cpp = x.shape
    c = cpp // (patch * patch)
    x = x.reshape(b, f, h, w, c, patch, patch)
    x = x.transpose(0, 1, 2, 6, 3, 5, 4)
    return x.reshape(b, f, h * patch, w * patch, c)


def offset_major_order(channels: int, patch: int) -> mx.array:
    """Channel permutation from `patchify_pixels`' (c, w-offset, h-offset) order to (h-offset, w-offset, c).

    A convolution whose weights are permuted so can be unpatchified (`unpatchify_pixels_offset_major`)
    by moving whole runs of patch * channels values instead of single values.
    """
    order = [
        c * patch * patch + col * patch + row for row in range(patch) for col in range(patch) for c in range(channels)
    ]
    return mx.array(order)


def unpatchify_pixels_offset_major(x: mx.array, patch: int, bias: mx.array | None = None) -> mx.array:
    """`unpatchify_pixels` for channels in (h-offset, w-offset, c) order (see `offset_major_order`).

    `bias` [patch * patch * c], in the same order, is added in the rearranging copy itself.
    """
    if patch == 1:
        return x if bias is None else x + bias
    b, f, h, w, cpp = x.shape
    c = cpp // (patch * patch)
    x = x.reshape(b, f, h, w, patch, patch * c).transpose(0, 1, 2, 4, 3, 5)
    if bias is not None:
        x = x + bias.reshape(patch, 1, patch * c)  # one strided pass: the add writes the new order
    return x.reshape(b, f, h * patch, w * patch, c)


def space_to_depth(x: mx.array, stride: tuple[int, int, int]) -> mx.array:
    """[B, F*p1, H*p2, W*p3, C] -> [B, F, H, W, C*p1*p2*p3], channel order (c, p1, p2, p3)."""
    p1, p2, p3 = stride
    b, f, h, w, c = x.shape
    x = x.reshape(b, f // p1, p1, h // p2, p2, w // p3, p3, c)
    x = x.transpose(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, f // p1, h // p2, w // p3, c * p1 * p2 * p3)


def depth_to_space(x: mx.array, stride: tuple[int, int, int], bias: mx.array | None = None) -> mx.array:
    """Inverse of `space_to_depth` (the reference's PixelShuffleND(3)).

    `bias` [C*p1*p2*p3], per channel of `x`, is added in the rearranging copy itself.
    """
    p1, p2, p3 = stride
    b, f, h, w, cp = x.shape
    c = cp // (p1 * p2 * p3)
    x = x.reshape(b, f, h, w, c, p1, p2, p3).transpose(0, 1, 5, 2, 6, 3, 7, 4)
    if bias is not None:
        # [c, p1, p2, p3] as a view on the transposed axes (p1, h, p2, w, p3, c); one strided pass.
        x = x + bias.reshape(c, p1, 1, p2, 1, p3).transpose(1, 2, 3, 4, 5, 0)
    return x.reshape(b, f * p1, h * p2, w * p3, c)
