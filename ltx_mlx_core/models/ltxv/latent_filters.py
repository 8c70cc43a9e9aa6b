"""Latent post-processing of the multi-scale pipeline (channels-last latents).

`adain_filter_latent` matches the per-channel statistics of upsampled latents
to those of the first pass; `tone_map_latents` softly compresses large latent
values before decoding.
"""

from __future__ import annotations

import mlx.core as mx


def adain_filter_latent(latents: mx.array, reference: mx.array, factor: float = 1.0) -> mx.array:
    """AdaIN per (batch, channel) over frames and space, blended with `factor`.

    Statistics use the unbiased standard deviation, as torch.std_mean does.
    """
    axes = tuple(range(1, latents.ndim - 1))

    def mean_std(x: mx.array) -> tuple[mx.array, mx.array]:
        mean = mx.mean(x, axis=axes, keepdims=True)
        std = mx.sqrt(mx.var(x, axis=axes, keepdims=True, ddof=1))
        return mean, std

    ref_mean, ref_std = mean_std(reference)
    mean, std = mean_std(latents)
    matched = (latents - mean) / std * ref_std + ref_mean
    return latents + factor * (matched - latents)


def tone_map_latents(latents: mx.array, compression: float) -> mx.array:
    """Sigmoid compression of |latents| above ~1; compression 0 is the identity, 1 the strongest."""
    if not 0.0 <= compression <= 1.0:
        raise ValueError(f"Tone-map compression must be between 0 and 1, got {compression}.")
    if compression == 0.0:
        return latents  # the formula's exact result, without its passes over the latents
    scale_factor = compression * 0.75
    sigmoid_term = mx.sigmoid(4.0 * scale_factor * (mx.abs(latents) - 1.0))
    return latents * (1.0 - 0.8 * scale_factor * sigmoid_term)
