"""The dtypes the sound models' weights are held in: kernels as the checkpoint stores them, vectors wide.

LTX-2.3's vocoder loses about 19 % computing in bf16, so the sound models compute in float32
(pipeline/ltx2/models.py AUDIO_DTYPE). Their convolution and projection kernels need not be float32
for that: a convolution of float32 activations with a bf16 kernel upcasts the kernel (exactly) and
computes in float32, so a release's bf16 kernels kept as stored give float32's very numbers at half
the memory. Vectors (biases, Snake parameters, anti-aliasing filters, latent statistics) enter
elementwise kernels, where a bf16 operand would make some math bf16 (exp of a bf16 Snake parameter),
so they take the compute dtype; they are a few KiB. So do small kernels: each held narrow costs a
cast kernel per decode (a GPU launch), and LTX-2.3's 94 kernels under NARROW_MIN_ELEMENTS are 4 MiB
together in float32, where its 134 larger ones are the other 0.27 GiB in bf16.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

# How the released LTX-2 checkpoints store the audio VAE and the vocoders.
RELEASE_STORAGE_DTYPE = mx.bfloat16
# Kernels with fewer elements (256 KiB in float32) are held in the compute dtype.
NARROW_MIN_ELEMENTS = 1 << 16


def held_dtype(value: mx.array, compute: mx.Dtype, min_elements: int = NARROW_MIN_ELEMENTS) -> mx.Dtype:
    """The dtype a sound model holds a stored tensor in, computing in `compute`.

    A kernel (2 dims or more) of at least `min_elements` stays as stored when that is no wider than
    `compute`; anything else floating takes `compute`."""
    if not mx.issubdtype(value.dtype, mx.floating):
        return value.dtype
    if value.ndim >= 2 and value.size >= min_elements and value.dtype.size <= compute.size:
        return value.dtype
    return compute


def as_held(value: mx.array, compute: mx.Dtype, min_elements: int = NARROW_MIN_ELEMENTS) -> mx.array:
    dtype = held_dtype(value, compute, min_elements)
    return value if value.dtype == dtype else value.astype(dtype)


def store_kernels_as(
    module: nn.Module, storage: mx.Dtype, compute: mx.Dtype, min_elements: int = NARROW_MIN_ELEMENTS
) -> None:
    """Give `module` the dtypes it would have loaded from a checkpoint storing `storage`, computing in
    `compute` (random-weight models built as the release stores them)."""
    floating = mx.issubdtype
    leaves = [
        (name, as_held(value.astype(storage) if floating(value.dtype, mx.floating) else value, compute, min_elements))
        for name, value in tree_flatten(module.parameters())
    ]
    module.update(tree_unflatten(leaves))
