"""GenerationService/worker: event → signal mapping, queueing, cancel semantics, failures (no window)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from desktop.generation_service import GenerationService
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.events import Finished, Preview, StageStarted, StepDone, VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest


def scripted_generate(
    steps: int = 3, gate: threading.Event | None = None, seen: list | None = None, step_seconds: float = 0.0
):
    """A fake core generator: a stage, `steps` steps with previews, then Finished."""

    def generate(request):
        yield StageStarted("denoise", 1, 2)
        for i in range(1, steps + 1):
            if gate is not None:
                gate.wait(5)
            time.sleep(step_seconds)
            if seen is not None:
                seen.append(i)
            yield StepDone("denoise", i, steps, elapsed=0.1 * i, eta=0.1 * (steps - i))
            yield Preview(np.zeros((2, 8, 8, 3), np.uint8), "latent", i)
        yield Finished(VideoResult([np.zeros((9, 32, 32, 3), np.uint8)], request.seeds, 8.0, request))

    return generate


def fake_write(result, output_path: Path) -> list[Path]:
    output_path.write_bytes(b"mp4")
    return [output_path]


@pytest.fixture
def service(qtbot):
    svc = GenerationService(generate_fn=scripted_generate(), write_fn=fake_write)
    yield svc
    svc.shutdown()


def test_events_become_signals_in_order_on_the_gui_thread(qtbot, service, tmp_path):
    received = []
    service.stage_started.connect(lambda job, name: received.append(("stage", name)))
    service.step.connect(lambda job, i, n, eta: received.append(("step", i, n, round(eta, 2))))
    service.preview.connect(lambda job, frames: received.append(("preview", frames.shape)))
    with qtbot.waitSignal(service.job_finished, timeout=10_000) as done:
        job = service.submit(GenerationRequest(prompt="x"), tmp_path / "a.mp4")
    assert done.args == [job, str(tmp_path / "a.mp4")]
    assert received[0] == ("stage", "denoise")
    assert [r for r in received if r[0] == "step"] == [("step", 1, 3, 0.2), ("step", 2, 3, 0.1), ("step", 3, 3, 0.0)]
    assert sum(r[0] == "preview" for r in received) == 3
    assert not service.is_busy()


def test_jobs_run_one_at_a_time_in_submission_order(qtbot, service, tmp_path):
    finished = []
    service.job_finished.connect(lambda job, path: finished.append(job))
    first = service.submit(GenerationRequest(prompt="1"), tmp_path / "1.mp4")
    second = service.submit(GenerationRequest(prompt="2"), tmp_path / "2.mp4")
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=10_000)
    assert finished == [first, second]


def test_cancel_stops_at_the_next_step_and_closes_the_generator(qtbot, service, tmp_path):
    seen: list[int] = []
    service.set_generate_fn(scripted_generate(steps=50, seen=seen, step_seconds=0.05))
    job = service.submit(GenerationRequest(prompt="x"), tmp_path / "c.mp4")
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=10_000)
    with qtbot.waitSignal(service.job_cancelled, timeout=10_000) as cancelled:
        service.cancel(job)
    assert cancelled.args == [job]
    assert len(seen) < 10
    assert not (tmp_path / "c.mp4").exists()


def test_cancelling_a_queued_job_drops_it_before_it_starts(qtbot, service, tmp_path):
    gate = threading.Event()
    service.set_generate_fn(scripted_generate(steps=2, gate=gate))
    running = service.submit(GenerationRequest(prompt="1"), tmp_path / "1.mp4")
    queued = service.submit(GenerationRequest(prompt="2"), tmp_path / "2.mp4")
    with qtbot.waitSignal(service.job_cancelled) as cancelled:
        service.cancel(queued)
    assert cancelled.args == [queued]
    with qtbot.waitSignal(service.job_finished, timeout=10_000) as done:
        gate.set()
    assert done.args[0] == running
    qtbot.wait(100)
    assert not (tmp_path / "2.mp4").exists()


def test_invalid_requests_and_unexpected_errors_fail_with_a_readable_message(qtbot, service, tmp_path):
    def refuse(request):
        raise InvalidRequest("width must be a positive multiple of 32 pixels; got 100. Try 96.")

    service.set_generate_fn(refuse)
    with qtbot.waitSignal(service.job_failed, timeout=10_000) as failed:
        service.submit(GenerationRequest(prompt="x"), tmp_path / "a.mp4")
    assert failed.args[1] == "width must be a positive multiple of 32 pixels; got 100. Try 96."

    def crash(request):
        yield StageStarted("load", 1, 2)
        raise KeyError("boom")

    service.set_generate_fn(crash)
    with qtbot.waitSignal(service.job_failed, timeout=10_000) as failed:
        service.submit(GenerationRequest(prompt="x"), tmp_path / "b.mp4")
    assert "KeyError" in failed.args[1] and "log folder" in failed.args[1]
    assert not service.is_busy()
