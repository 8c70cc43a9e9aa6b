"""How many GPU operations MLX batches into one command buffer (a CUDA graph, a Metal command buffer).

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

MLX reads the variable once, when its GPU device first starts, so it is set when this package is
imported, before anything of ours imports MLX; a value the user has set is kept.
"""

from __future__ import annotations

import os

OPS_PER_BUFFER_ENV = "MLX_MAX_OPS_PER_BUFFER"
DEFAULT_OPS_PER_BUFFER = 2


def apply_default_ops_per_buffer() -> str:
    """Set MLX_MAX_OPS_PER_BUFFER to DEFAULT_OPS_PER_BUFFER unless it is set; the value in force."""
    return os.environ.setdefault(OPS_PER_BUFFER_ENV, str(DEFAULT_OPS_PER_BUFFER))
