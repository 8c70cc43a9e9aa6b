"""Every timeline edit's `check` refuses exactly what its `apply` would, and changes nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.project import ProjectError
from desktop.timeline.commands import SwitchTake
from tests.core.test_project_model import OPS, accepted, make_command, start_clips, starting_project

EDITS = sorted(set(OPS) - {"undo", "redo"})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=start_clips, op=st.sampled_from(EDITS), a=st.integers(0, 40), b=st.integers(0, 40), c=st.integers(0, 40))
def test_check_refuses_exactly_the_edits_that_cannot_apply(qapp, start, op, a, b, c):
    project = starting_project(start)
    command = make_command(project, op, a, b, c)
    if op == "switch" and command is not None:  # also a take the clip does not have
        command = SwitchTake(project, command.clip_id, b % 4)
    if command is None:
        return
    document = project.to_dict()
    try:
        command.check()
        checked = True
    except ProjectError:
        checked = False
    assert project.to_dict() == document, "check changes nothing"
    assert checked == accepted(project, command), (op, a, b, c)
