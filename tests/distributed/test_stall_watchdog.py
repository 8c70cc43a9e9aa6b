"""The stall watchdog times the denoising steps and reports a group that stopped answering once."""

from __future__ import annotations

import threading
import time

import pytest

from ltx_mlx_core.distributed.watchdog import FIRST_STEP_FACTOR, STALL_ENV, StallWatchdog, stall_floor_s
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.events import StageStarted, StepDone

FLOOR_S = 0.3


class Recorder:
    def __init__(self):
        self.waits: list[float] = []
        self.called = threading.Event()

    def __call__(self, waited: float) -> None:
        self.waits.append(waited)
        self.called.set()


def step(stage: str, number: int, total: int = 100) -> StepDone:
    return StepDone(stage=stage, step=number, total=total, elapsed=0.0, eta=0.0)


@pytest.fixture
def watched():
    recorder = Recorder()
    watchdog = StallWatchdog(recorder, floor_s=FLOOR_S)
    yield watchdog, recorder
    watchdog.stop()


def test_steps_that_keep_coming_are_never_a_stall(watched):
    watchdog, recorder = watched
    watchdog.observe(StageStarted("second_pass", 5, 6))
    for number in range(1, 16):
        time.sleep(0.05)
        watchdog.observe(step("second_pass", number))
    assert not recorder.called.wait(0.1)


def test_steps_that_stop_are_reported_once_after_the_limit(watched):
    watchdog, recorder = watched
    watchdog.observe(StageStarted("first_pass", 3, 6))
    watchdog.observe(step("first_pass", 1))
    watchdog.observe(step("first_pass", 2))  # steps of microseconds: the floor decides the limit
    assert watchdog.limit() == FLOOR_S
    stopped = time.monotonic()
    assert recorder.called.wait(5.0)
    took = time.monotonic() - stopped
    assert FLOOR_S <= took < FLOOR_S + 1.0
    time.sleep(FLOOR_S * 2)
    assert len(recorder.waits) == 1 and recorder.waits[0] > FLOOR_S


def test_the_limit_grows_with_the_longest_step_and_the_first_step_gets_the_most(watched):
    watchdog, _ = watched
    assert watchdog.limit() == FIRST_STEP_FACTOR * FLOOR_S
    watchdog.observe(StageStarted("denoise", 3, 4))
    time.sleep(0.1)
    watchdog.observe(step("denoise", 1))
    assert watchdog.limit() >= 20 * 0.1  # STALL_FACTOR times a step of at least 0.1 s


def test_stages_without_collectives_and_a_finished_stage_are_not_watched(watched):
    watchdog, recorder = watched
    watchdog.observe(StageStarted("second_pass", 5, 6))
    watchdog.observe(step("second_pass", 1, total=2))
    watchdog.observe(step("second_pass", 2, total=2))  # the stage's last step: nothing left to wait for
    assert not recorder.called.wait(FLOOR_S * 3)
    watchdog.observe(StageStarted("decode", 6, 6))
    watchdog.observe(step("decode", 1, total=50))  # decoding waits on no other machine
    assert not recorder.called.wait(FLOOR_S * 3)


def test_the_floor_comes_from_the_environment_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv(STALL_ENV, "12.5")
    assert stall_floor_s() == 12.5
    monkeypatch.setenv(STALL_ENV, "soon")
    with pytest.raises(InvalidRequest, match=STALL_ENV):
        stall_floor_s()
    monkeypatch.setenv(STALL_ENV, "0")
    with pytest.raises(InvalidRequest, match="above 0"):
        stall_floor_s()
