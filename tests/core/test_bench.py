"""`ltx-mlx bench` and the random-weight model components it falls back on."""

from __future__ import annotations

import json
import math

import pytest

from ltx_mlx_core.bench.generation import bench_generation
from ltx_mlx_core.bench.random_model import MODEL_SHAPES, RandomComponents, RandomModelSpec
from ltx_mlx_core.cli import main
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.config import load_pipeline_config
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.schedule import timesteps_from_config
from ltx_mlx_core.weights.components import FileComponents
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.tiny import ModelShapes, make_tiny_model

SMALL = dict(width=64, height=64, num_frames=9)


def _elements(shapes: dict) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def test_bench_reports_every_stage_of_the_tiny_model_as_a_table_and_json(tmp_path, capsys) -> None:
    make_tiny_model()
    report_path = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--model",
            "tiny",
            "--width",
            "64",
            "--height",
            "64",
            "--frames",
            "9",
            "--repeats",
            "2",
            "--warmup",
            "0",
            "--json",
            str(report_path),
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    stages = {row["stage"]: row for row in report["stages"]}
    assert list(stages) == ["load", "text_encode", "first_pass", "upsample", "second_pass", "decode"]
    # As many steps as tiny.yaml's schedules have timesteps, one upsample, one decoded tile.
    passes = dict(load_pipeline_config("tiny.yaml").passes())
    for name in ("first_pass", "second_pass"):
        assert stages[name]["steps"] == len(timesteps_from_config(passes[name]))
    assert stages["upsample"]["steps"] == stages["decode"]["steps"] == 1
    for row in report["stages"]:
        assert row["median_s"] > 0 and row["per_step_s"] == pytest.approx(row["median_s"] / max(row["steps"], 1))
        assert row["stage"] in table
    assert report["weights"] == "installed" and report["repeats"] == 2 and report["video"] == "64x64x9"
    assert report["residency"] in ("resident", "stream_components", "stream_blocks")
    assert 0 < report["total_without_load_s"] < report["total_s"]
    assert report["peak_memory_bytes"] > 0 and report["dtype"] == "float32"
    # Each stage has its own peak; the run's is the largest of them.
    assert all(row["peak_memory_bytes"] > 0 for row in report["stages"])
    assert max(row["peak_memory_bytes"] for row in report["stages"]) == report["peak_memory_bytes"]
    assert "peak GiB" in table


def test_random_components_have_the_installed_models_exact_shapes(tmp_path) -> None:
    make_tiny_model()
    installed = FileComponents(resolve_model("tiny")).shapes()
    random = RandomComponents("tiny", RandomModelSpec(ModelShapes(), "tiny.yaml")).shapes()
    assert _elements(random.transformer) == _elements(installed.transformer)
    assert _elements(random.vae) == _elements(installed.vae)
    assert _elements(random.upsampler) == _elements(installed.upsampler)
    # The installed estimate leaves T5's token embedding out (it is read as a lookup table).
    assert _elements(random.text_encoder) >= _elements(installed.text_encoder)


def test_catalog_shapes_match_the_published_parameter_counts() -> None:
    counts = {
        model_id: _elements(RandomComponents.for_model(model_id).shapes().transformer)
        for model_id in ("ltxv-2b-0.9.8-distilled", "ltxv-13b-0.9.8-distilled")
    }
    assert counts == {"ltxv-2b-0.9.8-distilled": 1_923_385_472, "ltxv-13b-0.9.8-distilled": 13_042_569_344}
    assert set(MODEL_SHAPES) >= {"ltxv-2b-0.9.8-distilled-fp8", "ltxv-13b-0.9.8-distilled-fp8"}


def test_a_random_weight_model_generates_through_the_pipeline_like_an_installed_one() -> None:
    components = RandomComponents("tiny-random", RandomModelSpec(ModelShapes(), "tiny.yaml"))
    request = GenerationRequest(prompt="a boat", model="tiny-random", **SMALL)
    report = bench_generation(components, request, repeats=1, warmup=0, weights="random weights (exact shapes)")
    assert [s.stage for s in report.stages] == [
        "load",
        "text_encode",
        "first_pass",
        "upsample",
        "second_pass",
        "decode",
    ]
    assert report.weights.startswith("random")


def test_random_weights_refuse_block_streaming_and_unknown_models() -> None:
    components = RandomComponents("tiny-random", RandomModelSpec(ModelShapes(), "tiny.yaml"))
    request = GenerationRequest(prompt="a boat", model="tiny-random", residency="stream_blocks", **SMALL)
    with pytest.raises(InvalidRequest, match="no file to stream"):
        bench_generation(components, request, repeats=1, warmup=0)
    with pytest.raises(InvalidRequest, match="random weights exist for"):
        RandomComponents.for_model("ltxv-99b")


def test_bench_of_an_unknown_model_is_invalid_input(capsys) -> None:
    assert main(["bench", "--model", "no-such-model", "--repeats", "1"]) == 2
    assert "no-such-model" in capsys.readouterr().err
