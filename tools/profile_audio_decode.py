"""Where LTX-2.3's audio decode spends its time: the VAE decoder, each vocoder, and their kernels.

    python tools/profile_audio_decode.py --json out.json      # GPU: 121 frames at 24 fps of sound

Random weights of the release's shapes, float32 as the pipeline decodes sound. Times are medians
of evaluated calls (bench/timing.py). The kernel rows use the shapes of the vocoder's last stage,
where the signal is longest: depthwise FIR (the anti-aliasing filters), Snake, a dilated conv,
and the whole anti-aliased activation.

The "ops:" rows count the operations of each part's graph in the form a GPU runs (fused kernels; a
reshape of a transposed view is a copy, a kernel), on any device, without evaluating it
(bench/graph_ops.py): with few operations per command buffer every kernel is a launch, and the
vocoders' time follows the count.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_mlx_core.gpu_commands  # noqa: E402,F401  (before MLX starts: sets its ops per command buffer)

# isort: split
import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402

from ltx_mlx_core.bench.graph_ops import count_graph_ops  # noqa: E402
from ltx_mlx_core.bench.timing import time_mlx  # noqa: E402
from ltx_mlx_core.bench.workloads import randomize_parameters  # noqa: E402
from ltx_mlx_core.bench.workloads_ltx2 import AVShape  # noqa: E402
from ltx_mlx_core.models.common.fusion import fused_on_every_device  # noqa: E402
from ltx_mlx_core.models.ltx2.antialias import Activation1d, Snake, depthwise_fir  # noqa: E402
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE  # noqa: E402
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE  # noqa: E402
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout  # noqa: E402
from ltx_mlx_core.weights.ltx2_full_size import full_size  # noqa: E402


def grouped_conv_fir(x: mx.array, taps: mx.array) -> mx.array:
    """The depthwise FIR as one grouped convolution (how models/ltx2/antialias.py ran it before 2026-12-03)."""
    channels = x.shape[-1]
    weight = mx.broadcast_to(taps.astype(x.dtype)[None, :, None], (channels, taps.shape[0], 1))
    return mx.conv1d(x, weight, groups=channels)


def conv_as_matmuls(x: mx.array, weight: mx.array, dilation: int) -> mx.array:
    """Conv1d [B, L, C] x [O, K, C] with 'same' padding as K shifted matrix products."""
    count = weight.shape[1]
    pad = dilation * (count - 1) // 2
    xp = mx.pad(x, [(0, 0), (pad, pad), (0, 0)])
    length = x.shape[1]
    total = xp[:, :length] @ weight[:, 0].T
    for k in range(1, count):
        total = total + xp[:, k * dilation : k * dilation + length] @ weight[:, k].T
    return total


def conv_as_im2col(x: mx.array, weight: mx.array, dilation: int) -> mx.array:
    count = weight.shape[1]
    pad = dilation * (count - 1) // 2
    xp = mx.pad(x, [(0, 0), (pad, pad), (0, 0)])
    length = x.shape[1]
    columns = mx.concatenate([xp[:, k * dilation : k * dilation + length] for k in range(count)], axis=-1)
    return columns @ weight.reshape(weight.shape[0], -1).T


def variant_rows(timed, x: mx.array, x2: mx.array, taps: mx.array, width: int, prefix: str = "") -> None:
    """Other ways to compute the vocoder's kernels, on the same inputs, to pick the fastest per device."""
    timed(prefix + "FIR as shifted sums (depthwise_fir)", lambda: depthwise_fir(x2, taps))
    timed(prefix + "FIR as grouped conv", lambda: grouped_conv_fir(x2, taps))
    snake = Snake(width, True)
    fused_snake = mx.compile(snake.__call__)
    timed(prefix + "Snake plain", lambda: snake(x2))
    timed(prefix + "Snake compiled", lambda: fused_snake(x2))
    for size, dilation in ((11, 5), (7, 3), (3, 1)):
        weight = mx.random.normal((width, size, width)) * 0.02
        mx.eval(weight)
        label = f"{prefix}conv K={size} d={dilation}"
        timed(
            label + " (mx.conv1d)",
            lambda w=weight, d=dilation: mx.conv1d(x, w, padding=d * (w.shape[1] - 1) // 2, dilation=d),
        )
        timed(label + " as matmuls", lambda w=weight, d=dilation: conv_as_matmuls(x, w, d))
        timed(label + " as im2col", lambda w=weight, d=dilation: conv_as_im2col(x, w, d))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    shape = AVShape(768, 512, args.frames)
    sizes = full_size("2.3")
    vae = AudioVAE(sizes.audio_vae, encoder=False)
    vocoder = VocoderWithBWE(sizes.vocoder)
    randomize_parameters(vae, mx.float32)
    randomize_parameters(vocoder, mx.float32)
    layout = AudioLatentLayout()
    latents = mx.random.normal((1, shape.audio_tokens, layout.mel_bins, layout.channels))
    mx.eval(latents, vae.parameters(), vocoder.parameters())
    rows = []

    def timed(name, fn, **extra):
        t = time_mlx(fn, args.repeats, 1)
        rows.append({"part": name, **t.to_dict(), **extra})
        print(
            f"{name:34s} {t.median * 1000:9.2f} ms  peak {t.peak_memory_bytes / 2**30:.2f} GiB {extra or ''}",
            flush=True,
        )

    def counted(name, fn):
        with fused_on_every_device():
            ops = count_graph_ops(fn())
        rows.append({"part": "ops: " + name, **ops.to_dict()})
        print(
            f"{'ops: ' + name:34s} {ops.kernels:6d} kernels ({ops.total} operations: "
            f"{ops.views} views, {ops.reshapes} reshapes; of the kernels {ops.copies} copies, {ops.fused} fused)",
            flush=True,
        )

    mel4 = vae.decode_channels_last(latents)
    mx.eval(mel4)
    b, frames, bins, channels = mel4.shape
    mel = mel4.transpose(0, 1, 3, 2).reshape(b, frames, channels * bins)
    low = vocoder.vocoder.forward_channels_last(mel)
    mx.eval(mel, low)
    counted("audio VAE decoder", lambda: vae.decode_channels_last(latents))
    counted("vocoder 16 kHz", lambda: vocoder.vocoder.forward_channels_last(mel))
    counted("vocoder + BWE 48 kHz", lambda: vocoder.forward_channels_last(mel))
    timed("audio VAE decoder", lambda: vae.decode_channels_last(latents), mel_frames=frames)
    timed("vocoder 16 kHz", lambda: vocoder.vocoder.forward_channels_last(mel), samples=low.shape[1])
    timed("vocoder + BWE 48 kHz", lambda: vocoder.forward_channels_last(mel))
    length, width = low.shape[1], vocoder.vocoder.config.upsample_initial_channel // 2**5
    x = mx.random.normal((1, length, width))
    x2 = mx.random.normal((1, 2 * length, width))
    taps = mx.random.normal((12,))
    mx.eval(x, x2, taps)
    timed("depthwise FIR K=12 (x2 signal)", lambda: depthwise_fir(x2, taps, stride=2), shape=list(x2.shape))
    snake = Snake(width, True)
    timed("Snake (x2 signal)", lambda: snake(x2))
    act = Activation1d(Snake(width, True), 2, 12)
    mx.eval(act.parameters())
    counted("anti-aliased activation", lambda: act(x))
    timed("anti-aliased activation", lambda: act(x))
    dilated = nn.Conv1d(width, width, 11, padding=25, dilation=5)
    timed("conv K=11 dilation 5", lambda: dilated(x))
    dense = nn.Conv1d(width, width, 3, padding=1)
    timed("conv K=3", lambda: dense(x))
    up = nn.ConvTranspose1d(2 * width, width, 4, stride=2, padding=1)
    half = mx.random.normal((1, length // 2, 2 * width))
    timed("transposed conv x2", lambda: up(half))
    variant_rows(timed, x, x2, taps, width)
    wide_length = low.shape[1] // 40  # the first stage: 512 channels at 1/40 of the final rate
    wide = mx.random.normal((1, wide_length, 512))
    mx.eval(wide)
    variant_rows(timed, wide, wide, taps, 512, prefix="C=512 ")
    if args.json:
        args.json.write_text(json.dumps({"device": str(mx.default_device()), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
