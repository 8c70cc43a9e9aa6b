"""Tensor parallelism for the transformers of both families, with MLX's sharded linear layers.

Every attention's heads are dealt out to the group: q, k, v (and LTX-2.3's per-head gate logits)
become `AllToShardedLinear` (each rank computes its heads' channels from the whole input), the
output projection `ShardedToAllLinear` (each rank multiplies its channels, one all-sum gives every
rank the whole result). The feed-forwards are cut the same way through their hidden units. What
is left whole (embedders, AdaLN tables, norms' statistics, the output layer) is small.

Per block that is one all-sum of [B, T, D] per attention and per feed-forward, plus two tiny
all-sums for the q/k norms (norms.py). Quantised layers (8/4-bit) shard through MLX's quantised
variants, which `shard_linear` picks by itself.
"""

from __future__ import annotations

import logging

import mlx.core as mx
import mlx.nn as nn
from mlx.nn.layers.distributed import shard_linear
from mlx.utils import tree_flatten

from ltx_mlx_core.distributed.norms import ShardedLayerNorm, ShardedRMSNorm
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.attention import Attention, AttentionShard
from ltx_mlx_core.models.ltx2.attention import LTX2Attention
from ltx_mlx_core.models.ltx2.layers import FeedForward as LTX2FeedForward
from ltx_mlx_core.models.ltxv.transformer_blocks import FeedForward as LTXVFeedForward

log = logging.getLogger(__name__)

# The modules that are split, per family; everything else stays whole on every rank.
ATTENTIONS = (Attention, LTX2Attention)
FEED_FORWARDS = (LTXVFeedForward, LTX2FeedForward)


def shard_transformer(model: nn.Module, group: mx.distributed.Group) -> int:
    """Split `model`'s attentions and feed-forwards over `group` in place; returns how many were split.

    The model's parameters may still be lazy (read from the checkpoint but not evaluated): the
    shards are lazy slices of them, so evaluating a shard reads one tensor, keeps its slice and
    drops the rest.
    """
    split = 0
    for module in list(model.modules()):
        if isinstance(module, ATTENTIONS):
            _shard_attention(module, group)
            split += 1
        elif isinstance(module, FEED_FORWARDS):
            gated = getattr(module, "activation", None) == "geglu"  # [values; gates] halves cut separately
            module.proj_in = shard_linear(module.proj_in, "all-to-sharded", segments=2 if gated else 1, group=group)
            module.proj_out = shard_linear(module.proj_out, "sharded-to-all", group=group)
            split += 1
    log.info("tensor parallel: %d attentions and feed-forwards split over %d ranks", split, group.size())
    return split


def _shard_attention(attention: Attention | LTX2Attention, group: mx.distributed.Group) -> None:
    size, rank = group.size(), group.rank()
    if attention.heads % size:
        raise InvalidRequest(
            f"An attention of this model has {attention.heads} heads, which cannot be dealt evenly to {size} "
            "machines; use a number of machines that divides it, or sequence parallel."
        )
    width = attention.heads * attention.head_dim
    local = width // size
    for name in ("to_q", "to_k", "to_v", "to_gate_logits"):
        if name in attention:
            setattr(attention, name, shard_linear(getattr(attention, name), "all-to-sharded", group=group))
    attention.to_out = shard_linear(attention.to_out, "sharded-to-all", group=group)
    channels = slice(rank * local, (rank + 1) * local)
    for name in ("q_norm", "k_norm"):
        norm = getattr(attention, name, None)
        if isinstance(norm, nn.RMSNorm):
            setattr(attention, name, ShardedRMSNorm(norm.weight[channels], width, norm.eps, group))
        elif isinstance(norm, nn.LayerNorm):
            weight = norm.weight[channels] if "weight" in norm else None
            bias = norm.bias[channels] if "bias" in norm else None
            setattr(attention, name, ShardedLayerNorm(weight, bias, width, norm.eps, group))
    attention.heads //= size
    attention.shard = AttentionShard(start=channels.start, stop=channels.stop)


# What shard_transformer cuts, by the checkpoint's tensor names (both families, both layouts): layers
# whose outputs are dealt out ("all-to-sharded": rows and bias cut), layers whose inputs are
# ("sharded-to-all": columns cut, bias whole), and the q/k norms, cut with their heads.
_OUTPUTS_SPLIT = (".to_q", ".to_k", ".to_v", ".to_gate_logits", "ff.proj_in", "ff.net.0.proj")
_INPUTS_SPLIT = (".to_out", ".to_out.0", "ff.proj_out", "ff.net.2")
_NORMS_SPLIT = (".q_norm", ".k_norm", ".norm_q", ".norm_k")


def shard_shapes(shapes: dict[str, tuple[int, ...]], size: int) -> dict[str, tuple[int, ...]]:
    """The transformer's tensor shapes as one of `size` ranks holds them after `shard_transformer`
    (what memory planning needs before anything loads)."""
    sharded = {}
    for name, shape in shapes.items():
        module, _, kind = name.rpartition(".")
        if module.endswith(_OUTPUTS_SPLIT + _NORMS_SPLIT):
            shape = (shape[0] // size, *shape[1:])
        elif module.endswith(_INPUTS_SPLIT) and kind == "weight" and len(shape) == 2:
            shape = (shape[0], shape[1] // size)
        sharded[name] = shape
    return sharded


def transformer_bytes(model: nn.Module) -> int:
    """Bytes of the transformer's parameters this process holds."""
    return sum(p.nbytes for _, p in tree_flatten(model.parameters()))


def materialise_one_by_one(model: nn.Module) -> None:
    """Evaluate the parameters one tensor at a time, so a lazy checkpoint tensor is read, cut to this
    rank's shard and dropped before the next is read (the whole file is never in memory)."""
    for _, parameter in tree_flatten(model.parameters()):
        mx.eval(parameter)
