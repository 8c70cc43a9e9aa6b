"""The LTX-2 side-by-side benchmark runs on a CPU at toy widths, so it cannot rot.

Only the report is checked (timings on a shared CI machine are not claims), plus the one property
the Mac budgets rest on: streaming the quantised blocks leaves fewer weights resident.
The peer (mlx-video-with-audio) and the decodes are left out: the peer is not a dependency, and
the full-size decoders are too slow for a CPU test.
"""

from __future__ import annotations

import json

import pytest

from tests.perf import compare_ltx2


@pytest.mark.slow
def test_reference_ours_and_budget_stages_report_medians_peaks_and_ratios(tmp_path) -> None:
    path = tmp_path / "ltx2.json"
    stages = "reference,ours,q4,q4-stream"
    argv = ["--tiny", "--layers", "2", "--width", "64", "--height", "64", "--frames", "17"]
    assert compare_ltx2.main([*argv, "--stages", stages, "--repeats", "2", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    rows = {row["stage"]: row for row in report["rows"]}
    assert sorted(rows) == sorted(stages.split(","))
    assert all("error" not in row and row["median_s"] > 0 for row in rows.values())
    assert {"ours/reference time", "q4-stream/q4 time"} <= set(report["ratios"])
    assert rows["q4-stream"]["weights_bytes"] < rows["q4"]["weights_bytes"]
    assert rows["q4-stream"]["streamed_bytes_per_step"] > 0


@pytest.mark.slow
def test_whole_generations_and_sound_decodes_report_medians_peaks_and_stages(tmp_path) -> None:
    path = tmp_path / "ltx2-gen.json"
    stages = "audio,audio-graph,ref-audio,gen,ref-gen"
    argv = ["--tiny", "--layers", "1", "--width", "64", "--height", "64", "--frames", "9", "--warmup", "0"]
    argv += ["--gen-warmup", "0", "--gen-repeats", "1", "--repeats", "1"]
    assert compare_ltx2.main([*argv, "--stages", stages, "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    rows = {row["stage"]: row for row in report["rows"]}
    assert sorted(rows) == sorted(stages.split(","))
    assert all("error" not in row and row["median_s"] > 0 and "peak_memory_bytes" in row for row in rows.values())
    assert rows["gen"]["peak_memory_bytes"] > 0
    peaks = rows["gen"]["stage_peaks_bytes"]
    assert {"load", "stage_1", "stage_2", "decode_audio"} <= set(peaks) and max(peaks.values()) == rows["gen"][
        "peak_memory_bytes"
    ]
    stage_names = {"text_encode", "stage_1", "upsample", "stage_2", "decode_video", "decode_audio"}
    assert set(rows["gen"]["stages_s"]) == set(rows["ref-gen"]["stages_s"]) == stage_names
    assert all(seconds > 0 for seconds in rows["ref-gen"]["stages_s"].values())
    # A stage's time leaves out the modules it built: the reference's text encode builds Gemma.
    assert sum(rows["ref-gen"]["stages_s"].values()) <= rows["ref-gen"]["median_s"] - rows["ref-gen"]["build_s"]
    assert rows["gen"]["steps"]["stage_1"] == 8 and rows["gen"]["steps"]["stage_2"] == 3
    assert {"gen/ref-gen time", "audio/ref-audio time", "audio/audio-graph peak"} <= set(report["ratios"])
    # Both sides build every module inside the timed call: the clocks saw that part, and only that.
    assert all(0 < rows[name]["build_s"] < rows[name]["median_s"] for name in ("gen", "ref-gen"))
    assert "gen/ref-gen time without building weights" in report["ratios"]
    assert "mlx_max_ops_per_buffer" in report
