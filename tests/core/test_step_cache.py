"""The step cache's settings and rules, on measured changes given directly."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.step_cache import (
    StepCache,
    branch_rows,
    normalise_step_cache,
    run_branches,
    step_cache_settings,
)
from ltx_mlx_core.pipeline.step_cache_rules import (
    LTXV_TEACACHE_COEFFICIENTS,
    CacheRule,
    StepCacheSettings,
    resampled_ratios,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("off", "off"), (None, "off"), (" Faster ", "faster"), ("fastest", "fastest"), ("0.05", "0.05"),
     (0.1, "0.1"), ("0", "0.0"), (2, "2.0")],
)  # fmt: skip
def test_step_cache_values_a_person_can_give(value, expected):
    assert normalise_step_cache(value) == expected


@pytest.mark.parametrize("value", ["quick", "-0.1", "nan", "inf", True, [0.1]])
def test_other_step_cache_values_are_refused_with_the_choices(value):
    with pytest.raises(InvalidRequest, match="off, faster, fastest or a threshold"):
        normalise_step_cache(value)


def test_presets_and_raw_thresholds_per_family():
    assert step_cache_settings("off") is None
    faster, fastest = step_cache_settings("faster", "ltxv"), step_cache_settings("fastest", "ltxv")
    assert faster.rule is fastest.rule is CacheRule.TEACACHE and faster.threshold < fastest.threshold
    assert step_cache_settings("0.07", "ltxv") == StepCacheSettings(CacheRule.TEACACHE, 0.07)
    assert step_cache_settings("faster", "ltx2").rule is CacheRule.FIRST_BLOCK
    assert step_cache_settings("0.2", "ltx2") == StepCacheSettings(CacheRule.FIRST_BLOCK, 0.2)


def _probes(changes: list[float]) -> list[mx.array]:
    """Probe arrays whose relative L1 change from one to the next is each of `changes`."""
    probes = [mx.ones((1, 4, 3))]
    for change in changes:
        probes.append(probes[-1] * (1 + change))
    return probes


def _run(settings: StepCacheSettings, probes: list[mx.array | None], branches=("text",)) -> list[bool]:
    """Decisions of one branch over a pass whose step i measures probes[i]; residuals are stand-ins."""
    cache = StepCache(settings, len(probes))
    decisions = []
    for step, probe in enumerate(probes):
        cache.begin_step(step, list(branches))
        decided = cache.decide(None if probe is None else {key: (probe,) for key in branches})
        for key, compute in decided.items():
            if compute:
                cache.store_residual(key, (mx.zeros((1,)),))
        cache.end_step()
        decisions.append(decided[branches[0]])
    return decisions


def test_teacache_accumulates_the_rescaled_change_and_always_computes_first_and_last():
    changes = [0.01, 0.01, 0.01, 0.2, 0.01, 0.01]
    rescaled = np.polyval(LTXV_TEACACHE_COEFFICIENTS, changes)
    threshold = 0.035
    # By hand: 0.0178, 0.0356 (>= 0.035: compute, restart), 0.0178, a large one, 0.0178, last step.
    assert rescaled[0] < threshold <= 2 * rescaled[0]
    decisions = _run(StepCacheSettings(CacheRule.TEACACHE, threshold), _probes(changes))
    assert decisions == [True, False, True, False, True, False, True]


def test_teacache_limits_skips_in_a_row():
    settings = StepCacheSettings(CacheRule.TEACACHE, 10.0, max_skip_steps=2)
    assert _run(settings, _probes([0.01] * 7)) == [True, False, False, True, False, False, True, True]


def test_first_block_cache_compares_with_the_last_computed_step():
    # Each step moves 0.03 from the previous one: against the last *computed* probe the change
    # grows 0.03, ~0.06, so every second step computes (a rule against the previous step never would).
    settings = StepCacheSettings(CacheRule.FIRST_BLOCK, 0.05, compute_last_step=False)
    assert _run(settings, _probes([0.03] * 6)) == [True, False, True, False, True, False, True]


def test_magcache_follows_the_ratio_table_after_the_retained_steps():
    ratios = (1.0, 1.0, 1.01, 1.01, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0)
    settings = StepCacheSettings(CacheRule.MAGCACHE, 0.03, max_skip_steps=2, mag_ratios=ratios, retention_ratio=0.2,
                                 compute_last_step=False)  # fmt: skip
    # Steps 0-1 retained; then errors 0.01, 0.0301 (> 0.03: compute), 0.1 (compute), 0, 0, then a third skip in a row.
    assert _run(settings, [None] * 10) == [True, True, False, True, True, False, False, True, False, False]


def test_magcache_resamples_its_table_as_diffusers_does():
    # Halves round to even, as torch.round does: indices 0, 0, 1, 2, 2.
    assert resampled_ratios([1.0, 2.0, 3.0], 5) == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert resampled_ratios([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 4.0]


@pytest.mark.parametrize(
    "settings",
    [StepCacheSettings(CacheRule.TEACACHE, 0.0), StepCacheSettings(CacheRule.FIRST_BLOCK, 0.0),
     StepCacheSettings(CacheRule.MAGCACHE, 0.0, mag_ratios=(1.0,) * 8, retention_ratio=0.0)],
    ids=["teacache", "first_block", "magcache"],
)  # fmt: skip
def test_threshold_zero_never_skips_even_without_change(settings):
    probes = [mx.ones((1, 4, 3))] * 8  # no change at all: 0 <= 0 would skip without the rule
    assert _run(settings, probes if settings.rule.probe else [None] * 8) == [True] * 8


def test_the_last_step_computes_unless_told_otherwise():
    settings = StepCacheSettings(CacheRule.FIRST_BLOCK, 1.0)
    assert _run(settings, [mx.ones((2,))] * 4) == [True, False, False, True]


def test_a_branch_missing_from_the_previous_step_starts_afresh():
    cache = StepCache(StepCacheSettings(CacheRule.FIRST_BLOCK, 1.0), 10)
    probe = (mx.ones((2,)),)
    for step, branches in enumerate([["uncond", "text"], ["text"], ["uncond", "text"]]):
        cache.begin_step(step, branches)
        decided = cache.decide({key: probe for key in branches})
        for key in branches:
            if decided[key]:
                cache.store_residual(key, probe)
        record = cache.end_step()
    assert record.computed == ("uncond",) and record.reused == ("text",)
    assert cache.summary()["branch_passes_reused"] == 2 and cache.summary()["steps_skipped"] == 1


def test_steps_run_in_order_and_every_computed_branch_stores_a_residual():
    cache = StepCache(StepCacheSettings(CacheRule.FIRST_BLOCK, 1.0), 3)
    cache.begin_step(0, ["text"])
    cache.decide({"text": (mx.ones((2,)),)})
    with pytest.raises(ValueError, match="residual"):
        cache.end_step()
    with pytest.raises(ValueError, match="follows"):
        cache.begin_step(0, ["text"])
    # A step may be missing (the LTX-2 guidance skips whole steps), the branch keeps its state.
    cache.begin_step(2, ["text"])
    assert cache.decide({"text": (mx.ones((2,)),)}) == {"text": True}  # the last step computes


def test_run_branches_runs_only_the_computing_rows_and_adds_the_others_residuals():
    cache = StepCache(StepCacheSettings(CacheRule.FIRST_BLOCK, 1.0), 5)
    rows = branch_rows(["uncond", "text", "perturbed"], 6)
    start = (mx.arange(6, dtype=mx.float32).reshape(6, 1),)
    seen = []

    def add_ten(x, batch_rows):
        seen.append(batch_rows)
        return (x[0] + 10,)

    cache.begin_step(0, list(rows))
    cache.decide({key: (mx.ones((1,)),) for key in rows})
    (first,) = run_branches(cache, {key: True for key in rows}, rows, start, add_ten)
    cache.end_step()
    cache.begin_step(1, list(rows))
    cache.decide({key: (mx.ones((1,)),) for key in rows})
    later = (start[0] * 2,)
    (second,) = run_branches(cache, {"uncond": True, "text": False, "perturbed": True}, rows, later, add_ten)
    assert seen == [None, [0, 1, 4, 5]]
    assert np.array_equal(np.array(first).ravel(), np.arange(6) + 10)
    # Computing rows ran (2x + 10); the text rows added their stored residual (10) to 2x.
    assert np.array_equal(np.array(second).ravel(), np.arange(6) * 2 + 10)


def test_a_batch_that_does_not_split_into_the_branches_is_refused():
    with pytest.raises(ValueError, match="equal branch groups"):
        branch_rows(["uncond", "text"], 3)
