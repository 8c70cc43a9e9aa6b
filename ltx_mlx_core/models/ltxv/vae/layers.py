"""Small building blocks of the video VAE, channels-last ([B, F, H, W, C])."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.norms import UnitRMSNorm
from ltx_mlx_core.models.ltxv.vae.fused_norm import activate, pixel_norm_silu


class CausalConv3d(nn.Module):
    """3-D convolution that pads time by repeating edge frames, as the reference does.

    Causal: the first frame is repeated k-1 times in front, so output frame t only
    sees input frames <= t. Non-causal: (k-1)/2 copies of the first and last frame.
    Space is padded by k//2 with ``spatial_padding_mode``. The bias is added last, after
    the edge corrections, so a caller can fold it into its next pass (`convolve`, `output_bias`).

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
        y = self.convolve(x, causal, out_order)
        bias = self.output_bias(out_order)
        return y if bias is None else y + bias

    def output_bias(self, out_order: mx.array | None = None) -> mx.array | None:
        """The bias `convolve` leaves out (permuted like its output channels), or None."""
        if "bias" not in self.conv:
            return None
        return self.conv.bias if out_order is None else self.conv.bias[out_order]

    def convolve(self, x: mx.array, causal: bool = True, out_order: mx.array | None = None) -> mx.array:
        """The convolution without its bias, edge frames corrected.

        Callers that follow the convolution with another full pass over its output (a norm, a
        residual add, a rearrangement) add `output_bias()` in that pass instead of in one of its own.
        """
        front, back = self.time_padding(causal)
        if self.spatial_padding_mode != "zeros" and self.spatial_pad:
            x = pad_spatial(x, self.spatial_pad, self.spatial_padding_mode)
        space = self.spatial_pad if self.spatial_padding_mode == "zeros" else 0
        weight = self.conv.weight if out_order is None else self.conv.weight[out_order]
        y = mx.conv_general(x, weight, padding=([front, space, space], [back, space, space]))
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


class ChannelLayerNorm(nn.Module):
    """LayerNorm over channels; keeps the reference's `<name>.norm.weight` path."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def __call__(self, x: mx.array) -> mx.array:
        return self.norm(x)


def norm_activate(
    norm: nn.Module,
    x: mx.array,
    scale: mx.array | None = None,
    shift: mx.array | None = None,
    bias: mx.array | None = None,
) -> mx.array:
    """norm(x + bias) -> timestep modulation when given -> SiLU; `bias` is a preceding convolution's.

    The pixel-norm form (a unit RMS norm) runs as one fused kernel on GPUs (fused_norm.py), the
    bias added as the kernel reads x.
    """
    if isinstance(norm, UnitRMSNorm):
        return pixel_norm_silu(x, scale, shift, norm.eps, bias)
    return activate(norm(x if bias is None else x + bias), scale, shift)
