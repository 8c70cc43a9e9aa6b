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

`LTX2StepCache` serves one denoising pass of the LTX-2 loop, whose step may take several
transformer calls (guidance passes that cannot share a batch: other context shapes, a stream
sitting out one pass): one `StepCache` per kind of call, its branches the guidance passes, and
one record per step joining what every call of the step did.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import mlx.core as mx

from ltx_mlx_core.models.ltx2.perturbations import Perturbations
from ltx_mlx_core.models.ltx2.transformer import AfterBlock, LTX2Transformer, ModalityInput, PreparedStreams
from ltx_mlx_core.pipeline.step_cache import StepCache, StepRecord, branch_rows, cache_summary, run_branches
from ltx_mlx_core.pipeline.step_cache_rules import CacheRule, StepCacheSettings

_TEACACHE_REFUSED = "TeaCache has no published polynomial for LTX-2; use the first-block cache or MagCache."


class LTX2StepCache:
    """The step cache of one LTX-2 denoising pass of `steps` steps (a fresh one per stage)."""

    def __init__(self, settings: StepCacheSettings, steps: int):
        if settings.rule is CacheRule.TEACACHE:
            raise ValueError(_TEACACHE_REFUSED)
        self.settings = settings
        self.steps = steps
        # One per step that called the transformer; a step the guidance skips entirely has none.
        self.records: list[StepRecord] = []
        self._calls: dict[Hashable, StepCache] = {}
        self._step: int | None = None
        self._step_records: list[StepRecord] = []

    def __call__(
        self,
        transformer: LTX2Transformer,
        step: int,
        call: Hashable,
        branches: Sequence[Hashable],
        video: ModalityInput | None,
        audio: ModalityInput | None = None,
        perturbations: Perturbations | None = None,
        after_block: AfterBlock | None = None,
    ) -> tuple[mx.array | None, mx.array | None]:
        """One transformer call of step `step` (0-based): `call` names its kind (calls of one kind keep
        their branches' states from step to step), `branches` its batch's branch groups in order."""
        if self._step is not None and step < self._step:
            raise ValueError(f"step {step} follows step {self._step}; a step cache serves one pass in order")
        if step != self._step:
            self.end_step()
            self._step = step
        cache = self._calls.setdefault(call, StepCache(self.settings, self.steps))
        taken = {key for record in self._step_records for key in record.computed + record.reused}
        if taken & set(branches):
            raise ValueError(f"step {step}: a branch runs in one transformer call per step")
        video_out, audio_out, record = cached_av_call(
            transformer, cache, step, branches, video, audio, perturbations, after_block
        )
        self._step_records.append(record)
        return video_out, audio_out

    def end_step(self) -> StepRecord | None:
        """Close the current step (the next step's first call does it too): its record, None when it
        called the transformer no time."""
        if not self._step_records:
            return None
        records, self._step_records = self._step_records, []
        joined = StepRecord(
            records[0].step,
            tuple(key for r in records for key in r.computed),
            tuple(key for r in records for key in r.reused),
        )
        self.records.append(joined)
        return joined

    def calibration_ratios(self, branch: Hashable) -> list[float]:
        """MagCache calibration (settings with `calibrate=True`): the video residual's magnitude ratio per
        step of `branch` (a guidance pass), from the calls that ran it; the table a MagCache run reads."""
        found = [cache.calibration_ratios(branch) for cache in self._calls.values() if branch in cache.branches]
        if len(found) != 1:
            raise ValueError(f"branch {branch!r} ran in {len(found)} kinds of transformer call; calibrate one")
        return found[0]

    def summary(self) -> dict:
        """For the sidecar (`step_cache_summary`'s per-stage entries)."""
        self.end_step()
        return cache_summary(self.settings, self.records)


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
        raise ValueError(_TEACACHE_REFUSED)
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
