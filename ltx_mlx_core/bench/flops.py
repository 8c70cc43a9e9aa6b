"""Model-FLOPs of a transformer denoising step, counted from the shapes.

Counts multiply-adds as 2 FLOPs for every matrix product the step must do
(linear layers and the two attention products); element-wise work (norms,
RoPE, GELU, softmax) is left out, as model-FLOPs utilisation conventionally does.
"""

from __future__ import annotations

from dataclasses import dataclass

# Dense bf16 tensor-core peaks from the vendors' datasheets (SXM parts), FLOP/s.
BF16_PEAK_FLOPS = {
    "NVIDIA H100 80GB HBM3": 989e12,
    "NVIDIA H100": 989e12,
    "NVIDIA H200": 989e12,
}


@dataclass(frozen=True)
class TransformerShape:
    num_layers: int
    inner_dim: int
    caption_channels: int
    in_channels: int = 128
    ffn_mult: int = 4


def transformer_step_flops(shape: TransformerShape, tokens: int, text_tokens: int, batch: int = 1) -> float:
    n, t, d = tokens, text_tokens, shape.inner_dim
    linear = 2 * n * d * d
    self_attn = 4 * linear + 2 * (2 * n * n * d)
    cross_attn = 2 * linear + 2 * (2 * t * d * d) + 2 * (2 * n * t * d)
    ffn = 2 * (2 * n * d * shape.ffn_mult * d)
    per_block = self_attn + cross_attn + ffn
    outside = 2 * (2 * n * shape.in_channels * d)  # proj_in + proj_out
    outside += 2 * t * shape.caption_channels * d + 2 * t * d * d  # caption projection
    return float(batch * (shape.num_layers * per_block + outside))


def peak_flops_for(device_name: str) -> float | None:
    for name, peak in BF16_PEAK_FLOPS.items():
        if device_name.startswith(name):
            return peak
    return None
