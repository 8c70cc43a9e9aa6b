"""Both families' transformers split over two processes equal one process's forward.

Two ranks (`mlx.launch --backend ring -n 2`, CPU) build the same random tiny transformer; each
compares the tensor-parallel forward (attentions and feed-forwards sharded) and the
sequence-parallel forward (tokens dealt out, K/V all-gathered; odd token counts, so the last rank
is padded) with the single-process forward, on inputs that use every path: per-token timesteps,
text masks, STG (0.9.x), the audio stream, gated attention and a self-attention mask (LTX-2.3).
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.distributed.launching import REPO, launch

BOUND = 1e-4  # relative to the output's largest magnitude, float32


@pytest.mark.parametrize("family", ["ltxv", "ltx2"])
def test_split_transformer_equals_one_process(family, tmp_path):
    worker = REPO / "tests" / "distributed" / "transformer_worker.py"
    finished = launch([sys.executable, str(worker), family, str(tmp_path)])
    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert [r["rank"] for r in reports] == [0, 1], finished.stderr
    for report in reports:
        assert report["tensor_error"] <= BOUND, report
        assert report["sequence_error"] <= BOUND, report
        # Each rank holds half of every split tensor and all of the rest.
        assert report["rank_bytes"] == report["full_bytes"] - report["split_bytes"] // 2, report
    assert reports[0]["rank_bytes"] == reports[1]["rank_bytes"]
