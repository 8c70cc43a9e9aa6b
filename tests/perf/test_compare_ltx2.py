"""The LTX-2 side-by-side benchmark runs on a CPU at toy widths, so it cannot rot.

Only the report is checked (timings on a shared CI machine are not claims), plus the one property
the Mac budgets rest on: streaming the quantised blocks leaves fewer weights resident.
The peer (mlx-video-with-audio) and the decodes are left out: the peer is not a dependency, and
the full-size decoders are too slow for a CPU test.
"""

from __future__ import annotations

import json

import pytest

from ltx_mlx_core.bench.workloads_ltx2 import AVShape
from tests.perf import compare_ltx2
from tests.perf.ltx2_peer_tiling import auto_rule, peer_tile_plan
from tests.perf.stage_ratios import stage_ratios


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


def test_peer_tiling_stage_decodes_on_the_peers_auto_tiles_in_latents() -> None:
    # 768x512x121: the peer's --tiling auto picks 384 px tiles overlapping 64, 48 frames overlapping 16.
    assert auto_rule(512, 768, 121) == ((384, 64), (48, 16))
    tiling, record = peer_tile_plan(AVShape(768, 512, 121))
    assert (tiling.spatial_tile, tiling.spatial_overlap, tiling.temporal_tile, tiling.temporal_overlap) == (12, 2, 6, 2)
    assert record["peer_tiling"] == "spatial 384px/64, temporal 48f/16"
    assert record["tiles"] == "4x2x3"  # as many tiles per axis as the peer cuts (ceil((n - overlap) / step))
    # A clip the peer decodes whole is decoded whole here too.
    assert auto_rule(512, 512, 65) == (None, None)
    assert peer_tile_plan(AVShape(512, 512, 65))[1]["tiles"] == "1x1x1"


def test_tiled_decodes_are_set_against_the_side_that_tiles_the_same_way() -> None:
    timing = {"median_s": 1.0, "peak_memory_bytes": 1}
    rows = [{"stage": stage, **timing} for stage in ("vae", "vae-peer-tiling", "ref-vae", "peer-vae")]
    ratios = stage_ratios(rows, compare_ltx2.RATIOS)
    assert {"vae/ref-vae time", "vae-peer-tiling/peer-vae time", "vae-peer-tiling/peer-vae peak"} <= set(ratios)
    assert not any(name.startswith("vae/peer-vae") for name in ratios)
