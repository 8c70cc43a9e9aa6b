"""The side-by-side benchmark runs from a fresh clone (CPU, tiny shapes), so it cannot rot.

Only the report's shape is checked: timings on a shared CI machine are not claims.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare_reference  # noqa: E402


def test_every_stage_reports_medians_ratios_and_peaks_for_both_sides(tmp_path) -> None:
    report_path = tmp_path / "comparison.json"
    assert (
        compare_reference.main(
            [
                "--shape",
                "tiny",
                "--width",
                "64",
                "--height",
                "64",
                "--frames",
                "9",
                "--repeats",
                "5",
                "--warmup",
                "1",
                "--json",
                str(report_path),
            ]
        )
        == 0
    )
    (report,) = json.loads(report_path.read_text())
    assert report["video"] == "64x64x9" and report["dtype"] == "float32"
    rows = {row["stage"]: row for row in report["stages"]}
    assert list(rows) == ["transformer_step", "vae_decode", "generation"]
    for row in rows.values():
        for side in ("ours", "reference"):
            assert row[side]["median_s"] > 0 and row[side]["repeats"] == 5
        assert math.isclose(row["ratio_ours_over_reference"], row["ours"]["median_s"] / row["reference"]["median_s"])
    assert rows["transformer_step"]["flops"] > 0
    generation = rows["generation"]["ours"]
    assert generation["with_load_median_s"] >= generation["median_s"]
    assert {"text_encode", "first_pass", "upsample", "second_pass", "decode"} <= set(generation["stages"])
