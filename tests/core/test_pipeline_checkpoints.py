"""Stage checkpoints: atomic, tied to the request, resumable in stage order."""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np

from ltx_mlx_core.pipeline.checkpoints import MANIFEST_NAME, StageCheckpoints, request_hash
from ltx_mlx_core.pipeline.request import ConditioningItem, GenerationRequest

STAGES = ["first_pass", "upsample", "second_pass"]


def _latents(seed: int) -> mx.array:
    return mx.random.normal((1, 2, 3, 4, 8), key=mx.random.key(seed))


def test_saved_latents_load_back_bit_exact(tmp_path):
    checkpoints = StageCheckpoints(tmp_path, "abc")
    latents = _latents(1)
    checkpoints.save(7, "first_pass", latents)
    assert checkpoints.has(7, "first_pass")
    assert np.array_equal(np.array(checkpoints.load(7, "first_pass")), np.array(latents))
    # No temporary files are left behind by the atomic writes.
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_NAME, "seed7_first_pass.safetensors"]


def test_last_completed_follows_stage_order_per_seed(tmp_path):
    checkpoints = StageCheckpoints(tmp_path, "abc")
    checkpoints.save(1, "first_pass", _latents(1))
    checkpoints.save(1, "upsample", _latents(2))
    checkpoints.save(2, "first_pass", _latents(3))
    reopened = StageCheckpoints(tmp_path, "abc")
    assert reopened.last_completed(1, STAGES) == "upsample"
    assert reopened.last_completed(2, STAGES) == "first_pass"
    assert reopened.last_completed(3, STAGES) is None


def test_checkpoints_of_another_request_are_not_reused(tmp_path):
    StageCheckpoints(tmp_path, "abc").save(1, "first_pass", _latents(1))
    assert StageCheckpoints(tmp_path, "other").last_completed(1, STAGES) is None


def test_a_missing_latents_file_means_the_stage_is_not_done(tmp_path):
    checkpoints = StageCheckpoints(tmp_path, "abc")
    checkpoints.save(1, "first_pass", _latents(1))
    (tmp_path / "seed1_first_pass.safetensors").unlink()
    assert StageCheckpoints(tmp_path, "abc").last_completed(1, STAGES) is None


def test_an_unreadable_manifest_starts_afresh(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    assert StageCheckpoints(tmp_path, "abc").completed_stages(1) == []


def test_request_hash_ignores_where_and_how_but_not_what():
    base = GenerationRequest(prompt="a cat", seeds=[1], job_dir="/a", residency="auto")
    moved = GenerationRequest(prompt="a cat", seeds=[1, 2], job_dir="/b", residency="stream_blocks")
    other = GenerationRequest(prompt="a dog", seeds=[1])
    assert request_hash(base) == request_hash(moved)
    assert request_hash(base) != request_hash(other)
    assert request_hash(base, {"steps": 3}) != request_hash(base, {"steps": 4})


def test_request_hash_sees_in_memory_conditioning_pixels():
    pixels = np.zeros((1, 32, 32, 3), np.uint8)
    a = GenerationRequest(prompt="x", conditioning=[ConditioningItem(frames=pixels)])
    b = GenerationRequest(prompt="x", conditioning=[ConditioningItem(frames=pixels + 1)])
    assert request_hash(a) != request_hash(b)
    json.dumps(a.to_dict())  # the sidecar stays serialisable
