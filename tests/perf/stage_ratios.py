"""Ratios between a benchmark report's stages: time (median), time without building weights, peak."""

from __future__ import annotations

from typing import Any


def stage_ratios(rows: list[dict[str, Any]], pairs: tuple[tuple[str, str], ...]) -> dict[str, float]:
    """ "a/b time", "a/b peak" (and "a/b time without building weights" where both built theirs inside the
    timed call) for every (a, b) in `pairs` whose rows both have timings; failed stages have none."""
    by = {row["stage"]: row for row in rows if "median_s" in row}
    out = {}
    for ours, other in pairs:
        if ours in by and other in by:
            out[f"{ours}/{other} time"] = by[ours]["median_s"] / by[other]["median_s"]
            if "build_s" in by[ours] and "build_s" in by[other]:
                # Both generations build their modules inside the timed call; compare the rest too.
                out[f"{ours}/{other} time without building weights"] = (by[ours]["median_s"] - by[ours]["build_s"]) / (
                    by[other]["median_s"] - by[other]["build_s"]
                )
            if by[other]["peak_memory_bytes"]:
                out[f"{ours}/{other} peak"] = by[ours]["peak_memory_bytes"] / by[other]["peak_memory_bytes"]
    return out
