"""Running a per-token branch (the feed-forward) over the tokens a chunk at a time.

The feed-forward's hidden layer is four times the model width; over all of a clip's tokens it
and its activation are the largest tensors of a block (two [T, 4D] arrays). Every operation of
the branch acts on each token alone, so it can run on slices of the tokens and the results be
joined: the wide tensors then exist for one chunk at a time, provided the chunks run one after
the other. MLX orders a graph breadth first, so chunks joined by a concatenation would run side
by side (all their hidden layers allocated together); here each chunk reads its input from the
previous chunk's result, which makes them one chain.
"""

from __future__ import annotations

from collections.abc import Callable

import mlx.core as mx

from ltx_mlx_core.models.common.adaln import AdaValue

# The transformers' default feed-forward chunks (their `feed_forward_chunks` attribute).
DEFAULT_FEED_FORWARD_CHUNKS = 1
# Chunks below this many tokens are not worth a separate matmul: the branch runs whole.
MIN_CHUNK_TOKENS = 128


def chunk_bounds(tokens: int, chunks: int) -> list[tuple[int, int]]:
    """[start, stop) of `chunks` near-equal spans of `tokens` (fewer when chunks would be too small)."""
    chunks = max(1, min(chunks, tokens // MIN_CHUNK_TOKENS))
    edges = [tokens * i // chunks for i in range(chunks + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _tokens_of(value, start: int, stop: int, tokens: int):
    """The span's part of a per-token argument; arguments broadcast over the tokens pass as they are."""
    if isinstance(value, AdaValue):
        return AdaValue(value.row, _tokens_of(value.timestep, start, stop, tokens))
    if isinstance(value, mx.array) and value.ndim >= 2 and value.shape[1] == tokens:
        return value[:, start:stop]
    return value


def in_token_chunks(branch: Callable[..., mx.array], chunks: int, x: mx.array, *per_token) -> mx.array:
    """branch(x, *per_token) computed over `chunks` spans of x's tokens (axis 1): the branch's result
    has x's shape, and each span of it is written over that span of x in turn.

    `per_token` arguments shaped [B, T, ...] (or AdaValues with such a timestep term) are cut
    like x; those shaped [B, 1, ...] or smaller are passed whole. Each span is read from the
    result of the writes before it (which left that span as x had it), so the spans form one
    chain that MLX evaluates in order, and the writes reuse one buffer.
    """
    tokens = x.shape[1]
    bounds = chunk_bounds(tokens, chunks)
    if len(bounds) == 1:
        return branch(x, *per_token)
    result = x
    for start, stop in bounds:
        span = branch(result[:, start:stop], *(_tokens_of(value, start, stop, tokens) for value in per_token))
        result = mx.slice_update(result, span, mx.array([start]), axes=(1,))
    return result
