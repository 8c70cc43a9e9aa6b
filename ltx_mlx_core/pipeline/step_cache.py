"""The step cache: skip the transformer's blocks on denoising steps that change little.

Off by default. A request says `step_cache`: "off", "faster" (no visible loss in the published
comparisons), "fastest" (some loss) or a raw threshold ("0.05"); `step_cache_settings` turns that
into a rule for a model family (step_cache_rules.py has the rules):

  LTX-Video 0.9.x   TeaCache with the published LTX polynomial. "faster" is 0.03
                    (TeaCache4LTX-Video: ~1.6x at 50 steps), "fastest" 0.06 with at most 3 steps
                    skipped in a row (ComfyUI-TeaCache's recommendation: ~1.7x).
  LTX-2 family      the first-block cache (no TeaCache polynomial or MagCache table is published
                    for LTX-2): "faster" 0.05 (diffusers' default), "fastest" 0.1 with at most 3
                    in a row. Unmeasured on real weights.

One `StepCache` serves one denoising pass (a resumed pass starts a new one, so its first step is
always computed); in the LTX-2 loop an `LTX2StepCache` holds one per kind of transformer call. Each guidance branch keeps its own state and residual; a branch that did not
run in the previous step starts afresh. The family's driver (step_cache_ltxv.py,
step_cache_ltx2.py) asks `decide` once per step with every branch's probe (one host read of the
measurements per step), runs the blocks for the branches that must compute, and stores their
residuals. The cache records, per step, which branches were computed and which reused.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.step_cache_rules import (
    DECIDE,
    Arrays,
    BranchState,
    CacheRule,
    StepCacheSettings,
    relative_l1,
)

log = logging.getLogger(__name__)

STEP_CACHE_PRESETS = ("off", "faster", "fastest")
FAMILIES = ("ltxv", "ltx2")

_PRESETS: dict[str, dict[str, StepCacheSettings]] = {
    "ltxv": {
        "faster": StepCacheSettings(CacheRule.TEACACHE, 0.03),
        "fastest": StepCacheSettings(CacheRule.TEACACHE, 0.06, max_skip_steps=3),
    },
    "ltx2": {
        "faster": StepCacheSettings(CacheRule.FIRST_BLOCK, 0.05),
        "fastest": StepCacheSettings(CacheRule.FIRST_BLOCK, 0.1, max_skip_steps=3),
    },
}
# The rule a raw threshold applies to, per family.
_THRESHOLD_RULE = {"ltxv": CacheRule.TEACACHE, "ltx2": CacheRule.FIRST_BLOCK}


def normalise_step_cache(value: object) -> str:
    """'off', 'faster', 'fastest' or a threshold >= 0 written as a number; InvalidRequest otherwise."""
    if value is None:
        return "off"
    if isinstance(value, str) and value.strip().lower() in STEP_CACHE_PRESETS:
        return value.strip().lower()
    try:
        threshold = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        threshold = math.nan
    if not (math.isfinite(threshold) and threshold >= 0):
        raise InvalidRequest(
            f"step cache must be off, faster, fastest or a threshold of 0 or more (e.g. 0.05); got '{value}'."
        )
    return repr(threshold)


def step_cache_settings(value: object, family: str = "ltxv") -> StepCacheSettings | None:
    """The rule a request's `step_cache` asks for on a model family ("ltxv" or "ltx2"); None when off."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")
    text = normalise_step_cache(value)
    if text == "off":
        return None
    if text in _PRESETS[family]:
        return _PRESETS[family][text]
    return StepCacheSettings(_THRESHOLD_RULE[family], float(text))


@dataclass(frozen=True)
class StepRecord:
    """One step: the branches whose blocks ran and those that reused their residual."""

    step: int  # 0-based
    computed: tuple[Hashable, ...]
    reused: tuple[Hashable, ...]

    @property
    def skipped(self) -> bool:
        """No branch ran the (remaining) blocks."""
        return not self.computed


class StepCache:
    """Decisions and residuals for one denoising pass of `steps` steps."""

    def __init__(self, settings: StepCacheSettings, steps: int):
        self.settings = settings
        self.steps = steps
        self.records: list[StepRecord] = []
        self._branches: dict[Hashable, BranchState] = {}
        self._step: int | None = None
        self._decisions: dict[Hashable, bool] = {}

    @property
    def branches(self) -> tuple[Hashable, ...]:
        """The branches of the current step (with their states kept)."""
        return tuple(self._branches)

    @property
    def probe(self) -> str | None:
        """What `decide` needs per branch: "modulated_input", "first_block_residual" or None."""
        return self.settings.rule.probe

    def begin_step(self, step: int, branches: Sequence[Hashable], layout: Hashable = None) -> None:
        """Start step `step` (0-based) run by `branches`. Branches absent last step start afresh, and so
        do all when `layout` (what the residuals cover, e.g. which streams) differs from last step's."""
        # Steps may be missing (a step the guidance skips, a pass group absent for a while), not repeated.
        if self._step is not None and step <= self._step:
            raise ValueError(f"step {step} follows step {self._step}; a step cache serves one pass in order")
        kept = {key: state for key, state in self._branches.items() if state.layout == layout}
        self._branches = {key: kept.get(key, BranchState(layout=layout)) for key in branches}
        self._step = step
        self._decisions = {}

    def decide(self, probes: dict[Hashable, Arrays] | None = None) -> dict[Hashable, bool]:
        """Per branch: True to run the blocks, False to reuse its residual. Reads the measurements
        of every branch in one evaluation."""
        step, settings = self._current_step(), self.settings
        changes: dict[Hashable, float | None] = {key: None for key in self._branches}
        if self.probe is not None:
            if probes is None or set(probes) != set(self._branches):
                raise ValueError(f"the {settings.rule.value} rule needs a probe for every branch of the step")
            pending = {
                key: relative_l1(probes[key], state.previous_probe)
                for key, state in self._branches.items()
                if state.previous_probe is not None
            }
            if pending:
                values = mx.stack(list(pending.values())).tolist()
                changes.update(zip(pending, values))
        forced = settings.threshold <= 0 or (settings.compute_last_step and step == self.steps - 1)
        decide = DECIDE[settings.rule]
        for key, state in self._branches.items():
            compute = decide(state, settings, step, self.steps, changes[key], forced) or state.residual is None
            state.consecutive_skips = 0 if compute else state.consecutive_skips + 1
            if self.probe is not None and (compute or settings.rule is CacheRule.TEACACHE):
                # TeaCache compares with the previous step; the first-block cache with the last computed one.
                state.previous_probe = probes[key]
            self._decisions[key] = compute
        return dict(self._decisions)

    def residual(self, key: Hashable) -> Arrays:
        """The residual a skipping branch adds (from the last step it computed)."""
        residual = self._branches[key].residual
        if residual is None:
            raise ValueError(f"branch {key!r} has no residual yet")
        return residual

    def store_residual(self, key: Hashable, residual: Arrays) -> None:
        state = self._branches[key]
        if self.settings.calibrate and state.residual is not None:
            now = mx.linalg.norm(residual[0].astype(mx.float32), axis=-1)
            before = mx.linalg.norm(state.residual[0].astype(mx.float32), axis=-1)
            state.calibration.append(mx.mean(now / (before + 1e-8)))
        state.residual = residual

    def end_step(self) -> StepRecord:
        step = self._current_step()
        missing = [key for key, compute in self._decisions.items() if compute and self._branches[key].residual is None]
        if len(self._decisions) != len(self._branches) or missing:
            raise ValueError(f"step {step}: every branch needs a decision, and a computed one its residual")
        record = StepRecord(
            step,
            tuple(key for key, compute in self._decisions.items() if compute),
            tuple(key for key, compute in self._decisions.items() if not compute),
        )
        self.records.append(record)
        if record.reused:
            log.debug("step %d reused the cached residual of %s", step + 1, ", ".join(map(str, record.reused)))
        return record

    def calibration_ratios(self, key: Hashable) -> list[float]:
        """MagCache calibration: the measured magnitude ratio per computed step (1.0 first)."""
        ratios = self._branches[key].calibration
        return [1.0] + (mx.stack(ratios).tolist() if ratios else [])

    def summary(self) -> dict:
        """For the sidecar: the rule and how many steps ran their blocks and how many reused them."""
        return cache_summary(self.settings, self.records)

    def _current_step(self) -> int:
        if self._step is None:
            raise ValueError("begin_step comes first")
        return self._step


def cache_summary(settings: StepCacheSettings, records: Sequence[StepRecord]) -> dict:
    """The rule, and which of the recorded steps ran their blocks and which reused them (1-based)."""
    skipped = [r.step + 1 for r in records if r.skipped]
    return {
        **settings.describe(),
        "steps": len(records),
        "steps_computed": len(records) - len(skipped),
        "steps_skipped": len(skipped),
        "skipped_steps": skipped,
        "branch_passes_reused": sum(len(r.reused) for r in records),
    }


def branch_rows(branches: Sequence[Hashable], batch: int) -> dict[Hashable, slice]:
    """The batch rows of each branch: a batched forward stacks the branches' equal groups in order."""
    if not branches or batch % len(branches):
        raise ValueError(f"a batch of {batch} cannot hold {len(branches)} equal branch groups")
    per = batch // len(branches)
    return {key: slice(i * per, (i + 1) * per) for i, key in enumerate(branches)}


def run_branches(
    cache: StepCache,
    decisions: dict[Hashable, bool],
    rows: dict[Hashable, slice],
    start: Arrays,
    run_rest: Callable[[Arrays, list[int] | None], Arrays],
) -> Arrays:
    """The hidden states after the cached part of the model, branch by branch.

    `start`: per stream, the hidden states [B, ...] where the cached part begins; `run_rest(x, rows)`
    runs that part over x (the whole batch when rows is None, else those batch rows). Branches
    that compute run it (together, as a sub-batch when some reuse) and store their residual
    (output - start); the others add their stored residual to `start`. When every branch computes,
    the whole batch runs exactly as an uncached forward would.
    """
    computing = [key for key in rows if decisions[key]]
    pieces: dict[Hashable, Arrays] = {}
    outputs: Arrays = ()
    if computing:
        if len(computing) == len(rows):
            outputs, offsets = run_rest(start, None), rows
        else:
            indices = [i for key in computing for i in range(rows[key].start, rows[key].stop)]
            sub_start = tuple(mx.concatenate([x[rows[key]] for key in computing]) for x in start)
            outputs, offsets, position = run_rest(sub_start, indices), {}, 0
            for key in computing:
                size = rows[key].stop - rows[key].start
                offsets[key], position = slice(position, position + size), position + size
        for key in computing:
            piece = tuple(out[offsets[key]] for out in outputs)
            cache.store_residual(key, tuple(out - x[rows[key]] for out, x in zip(piece, start)))
            pieces[key] = piece
    if len(computing) == len(rows):
        return outputs
    for key in rows:
        if key not in pieces:
            pieces[key] = tuple(x[rows[key]] + residual for x, residual in zip(start, cache.residual(key)))
    return tuple(mx.concatenate([pieces[key][i] for key in rows]) for i in range(len(start)))


def step_cache_summary(setting: str, stages: dict[str, dict]) -> dict:
    """The sidecar's record of what the step cache did for one seed, stage by stage and in total."""
    return {
        "setting": setting,
        "steps_computed": sum(s["steps_computed"] for s in stages.values()),
        "steps_skipped": sum(s["steps_skipped"] for s in stages.values()),
        "stages": stages,
    }
