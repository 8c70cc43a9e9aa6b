"""Keys of the LTX-2 latent upsampler files -> our parameter names (a pure function).

ltx-core's files and diffusers' `LTX2LatentUpsamplerModel` use the same module paths, which are
ours; conv kernels go from torch [O, I, k...] to MLX [O, k..., I]. The rational resampler's blur
kernel is a fixed buffer the files carry: checked and dropped (we compute it).
"""

from __future__ import annotations

import re

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.upsampler import BLUR_KERNEL_SIZE, binomial_blur_kernel

BLUR_KERNEL_KEY = "upsampler.blur_down.kernel"
_RES = r"(res_blocks|post_upsample_res_blocks)\.\d+\.(conv1|conv2|norm1|norm2)"
_KNOWN_KEY = re.compile(
    r"(initial_conv|initial_norm|final_conv|upsampler\.0|upsampler\.conv|" + _RES + r")\.(weight|bias)"
)


def sanitize_latent_upsampler(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Upsampler file tensors -> our parameters; unknown keys raise CheckpointError."""
    sanitized: dict[str, mx.array] = {}
    for key, value in weights.items():
        if key == BLUR_KERNEL_KEY:
            kernel = np.array(value.astype(mx.float32)).reshape(-1)
            if kernel.size != BLUR_KERNEL_SIZE**2 or not np.allclose(
                kernel, np.array(binomial_blur_kernel()).reshape(-1), atol=1e-6
            ):
                raise CheckpointError(f"The latent upsampler's {key!r} is not the binomial blur it should be.")
            continue
        if not _KNOWN_KEY.fullmatch(key):
            raise CheckpointError(f"The latent upsampler weights contain an unknown key {key!r}.")
        sanitized[key] = mx.moveaxis(value, 1, -1) if value.ndim in (4, 5) else value
    return sanitized
