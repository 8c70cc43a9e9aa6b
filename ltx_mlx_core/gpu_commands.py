"""MLX's GPU settings we choose: operations per command buffer (a CUDA graph, a Metal command buffer),
and how many convolution plans its CUDA backend keeps.

MLX keeps every input of a kernel allocated until the command buffer holding that kernel has
completed, and the host encodes far ahead of the GPU. With MLX's default batch (20 operations on
CUDA), about a block's worth of intermediates is alive at once; with a few they are released soon
after the GPU has used them. Measured on an H200 (docs/PERFORMANCE.md, "Activation memory"):
the LTX-Video 2B step's peak goes from 4.48 to 4.14 GiB (one evaluation per step: 11.47 to 4.10),
the LTX-2.3 22B step's from 37.99 to 37.14 GiB, for 2.3 % more time on the 22B; 1 operation per
buffer saves a little more (37.00 GiB) but costs 6.5 %. On 2026-12-03 (after the LTX-2 block's
modulation and RoPE were fused) the 22B step ran 0.4248 s at 2 (spread 0.4205-0.4335 s) against
0.5085 s at 3 and 0.4590 s at 4, whose repeats swung between 0.41 and 0.56 s.

With 2, MLX 0.32.4's CUDA backend once failed the LTX-2.3 audio decode ("cudaGraphLaunch failed:
misaligned address") while it still ran grouped and 512-tap convolutions; the decode as it is now
(strided-view STFT, fused FIR sums) runs at 2 (0.214 s for 5 s of sound). A user who meets such a
failure can set the variable (3, or 20 as MLX's own default) and keep everything else.

MLX's CUDA backend builds a cuDNN plan for every convolution shape it meets and keeps the last 128
(MLX_CUDA_CONV_CACHE_SIZE). One LTX-2 generation meets more: the video VAE's, the upsampler's, the
audio VAE's and above all the two vocoders' (each dilation and kernel size at each rate). So every
generation's decodes rebuilt plans the one before had evicted: inside a generation the sound decode
took 0.35-0.42 s and the video decode 0.61 s, against 0.105 s and 0.205 s alone, and a second sound
decode right after the first 0.13 s (H200, docs/PERFORMANCE.md). A plan is a few kilobytes of host
memory; Metal has no such cache, so the setting only matters on CUDA.

MLX reads these variables once, when its GPU device first starts, so they are set when this package
is imported, before anything of ours imports MLX; a value the user has set is kept.
"""

from __future__ import annotations

import os

OPS_PER_BUFFER_ENV = "MLX_MAX_OPS_PER_BUFFER"
DEFAULT_OPS_PER_BUFFER = 2


CONV_CACHE_ENV = "MLX_CUDA_CONV_CACHE_SIZE"
DEFAULT_CONV_CACHE_SIZE = 1024
GPU_DEFAULTS = {OPS_PER_BUFFER_ENV: DEFAULT_OPS_PER_BUFFER, CONV_CACHE_ENV: DEFAULT_CONV_CACHE_SIZE}


def apply_gpu_defaults() -> dict[str, str]:
    """Set each of GPU_DEFAULTS that the user has not set; the values in force."""
    return {name: os.environ.setdefault(name, str(value)) for name, value in GPU_DEFAULTS.items()}
