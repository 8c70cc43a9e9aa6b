"""The step cache around the LTX-2 family's audio-video transformer: one step's velocities.

Video and audio decide together: each branch makes one decision for both streams (the
first-block cache recomputes when either stream's first-block residual changed past the
threshold), and a branch either runs the blocks for both streams or reuses both residuals,
never one of each. The streams' residuals are stored and reused as a pair. A stream that is
absent, or present but disabled (context only), passes through unchanged either way.

Rules: the first-block cache (residual from the first block's output to the last block's)
and MagCache (from the embedded inputs to the last block's output, with a ratio table the
caller calibrates: `StepCacheSettings(calibrate=True)`). TeaCache needs a polynomial fitted
for the model, and none is published for LTX-2, so it is refused here.

A batched call holds one equal group of entries per branch in the order of `branches` (for
example [conditional, STG, modality-isolated]); separate calls name their one branch each.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import mlx.core as mx

from ltx_mlx_core.models.ltx2.perturbations import Perturbations
from ltx_mlx_core.models.ltx2.transformer import AfterBlock, LTX2Transformer, ModalityInput, PreparedStreams
from ltx_mlx_core.pipeline.step_cache import StepCache, StepRecord, branch_rows, run_branches
from ltx_mlx_core.pipeline.step_cache_rules import CacheRule


def cached_av_call(
    transformer: LTX2Transformer,
    cache: StepCache,
    step: int,
    branches: Sequence[Hashable],
    video: ModalityInput | None,
    audio: ModalityInput | None = None,
    perturbations: Perturbations | None = None,
    after_block: AfterBlock | None = None,
) -> tuple[mx.array | None, mx.array | None, StepRecord]:
    """`transformer(video, audio, perturbations, after_block)` for step `step` (0-based) of the cache's
    pass, and what the step reused."""
    rule = cache.settings.rule
    if rule is CacheRule.TEACACHE:
        raise ValueError("TeaCache has no published polynomial for LTX-2; use the first-block cache or MagCache.")
    prepared = transformer.prepare(video, audio, perturbations)
    streams = _cached_streams(prepared)
    rows = branch_rows(branches, len(prepared.perturbations.per_entry))
    layers = len(transformer.transformer_blocks)
    # A stream switched on or off between steps changes what a residual holds: start afresh.
    cache.begin_step(step, branches, layout=tuple(streams))

    states = [prepared.video_x, prepared.audio_x]
    first = 0
    start = tuple(states[i] for i in streams)
    if rule is CacheRule.FIRST_BLOCK:
        first = 1
        after_first = list(transformer.run_blocks(prepared, *states, 0, 1, after_block))
        residuals = [after_first[i] - states[i] for i in streams]
        decisions = cache.decide({key: tuple(r[part] for r in residuals) for key, part in rows.items()})
        states = after_first
        start = tuple(states[i] for i in streams)
    else:
        decisions = cache.decide()

    def run_rest(cached: tuple[mx.array, ...], batch_rows: list[int] | None) -> tuple[mx.array, ...]:
        selected = prepared if batch_rows is None else prepared.entries(batch_rows)
        full = [None if x is None else (x if batch_rows is None else x[mx.array(batch_rows)]) for x in states]
        for index, x in zip(streams, cached):
            full[index] = x
        out = transformer.run_blocks(selected, *full, first, layers, after_block)
        return tuple(out[i] for i in streams)

    finished = run_branches(cache, decisions, rows, start, run_rest)
    for index, x in zip(streams, finished):
        states[index] = x
    video_out, audio_out = transformer.outputs(prepared, *states)
    return video_out, audio_out, cache.end_step()


def _cached_streams(prepared: PreparedStreams) -> list[int]:
    """Indices (0 video, 1 audio) of the streams the blocks update."""
    streams = [i for i, state in enumerate((prepared.video, prepared.audio)) if state is not None and state.enabled]
    if not streams:
        raise ValueError("no stream is enabled: the blocks would change nothing")
    return streams
