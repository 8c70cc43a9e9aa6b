"""Stage timing: component loads count under 'load' wherever they happen, never in the stage around them."""

from __future__ import annotations

from ltx_mlx_core.pipeline.timing import StageTimer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_load_inside_a_stage_counts_as_load_and_repeated_stages_add_up() -> None:
    clock = FakeClock()
    timer = StageTimer(clock)
    with timer.stage("load"):
        clock.now += 1.0  # the load stage's own work (estimate, preview fit)
        with timer.load():
            clock.now += 4.0
    with timer.stage("first_pass"):
        with timer.load():
            clock.now += 10.0  # the transformer, loaded when the pass needs it
        clock.now += 2.0
    for _ in range(2):
        with timer.stage("decode"):
            clock.now += 3.0
    clock.now += 0.5  # between stages: only in the total
    assert timer.timings() == {"load": 15.0, "first_pass": 2.0, "decode": 6.0, "total": 23.5}
