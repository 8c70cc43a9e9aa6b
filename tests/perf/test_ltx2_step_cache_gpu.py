"""The LTX-2 step-cache GPU runner runs on a CPU at toy widths, so it cannot rot.

Timings on a shared CI machine are not claims; what is checked is the report: every preset timed,
one time per step, and the skips the cache made counted (a huge raw threshold must reuse every
step but the first and last, "off" none).
"""

from __future__ import annotations

import json

import pytest

from tests.perf import ltx2_step_cache_gpu


@pytest.mark.slow
def test_each_preset_is_timed_and_its_skips_counted(tmp_path) -> None:
    path = tmp_path / "cache.json"
    argv = ["--tiny", "--layers", "2", "--width", "64", "--height", "64", "--frames", "17", "--context-tokens", "16"]
    argv += ["--presets", "off,1000000", "--steps", "4", "--warmup-steps", "2", "--repeats", "2", "--json", str(path)]
    assert ltx2_step_cache_gpu.main(argv) == 0
    report = json.loads(path.read_text())
    assert report["stg_blocks"] == [1]  # the dev defaults' block 28 moved to the last one kept
    rows = {row["preset"]: row for row in report["rows"]}
    assert sorted(rows) == ["1000000", "off"]
    assert rows["off"]["steps_skipped"] == 0 and rows["off"]["speedup_vs_off"] == 1.0
    assert rows["1000000"]["skipped_steps"] == [2, 3] and rows["1000000"]["same_skips_every_repeat"]
    assert len(report["runs"]) == 4 and all(len(run["step_seconds"]) == 4 for run in report["runs"])
    assert all(row["median_s"] > 0 and row["repeats"] == 2 for row in rows.values())
