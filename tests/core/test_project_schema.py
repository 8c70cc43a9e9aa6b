"""One project validator for `ltx-mlx stitch` and the app: the same file is refused the same way."""

from __future__ import annotations

import copy
import json

import pytest

from desktop.project import Clip, Project, ProjectError, Take, load_project
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.project_file import read_project, segments_from_project
from ltx_mlx_core.video.project_schema import FORMAT_VERSION, validate_project
from tests.core.malformed_projects import GOOD, VARIANTS, snapshot, write_project


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_malformed_project_is_refused_alike_by_the_cli_reader_and_the_app(tmp_path, name):
    content, fragment = VARIANTS[name]
    folder = write_project(tmp_path / "Film.ltxproj", content)
    before = snapshot(tmp_path)
    with pytest.raises(InvalidRequest) as cli_refusal:
        read_project(folder)
    with pytest.raises(ProjectError) as app_refusal:
        load_project(folder)
    assert fragment in str(cli_refusal.value)
    assert str(app_refusal.value) == str(cli_refusal.value)
    assert "\n" not in str(cli_refusal.value)
    assert snapshot(tmp_path) == before


def test_the_app_writes_the_version_the_validator_reads():
    project = Project(name="Film", clips=[Clip(takes=[Take(path="media/a.mp4", frames=9)])])
    data = project.to_dict()
    assert data["version"] == FORMAT_VERSION
    checked = validate_project(json.loads(json.dumps(data)))
    assert Project.from_dict(checked).to_dict() == data


def test_a_good_project_becomes_segments_with_defaults_filled_in(tmp_path):
    sparse = copy.deepcopy(GOOD)
    for key in ("active", "trim_in", "trim_out", "overlap_in"):
        sparse["clips"][0].pop(key)
    sparse["clips"][0]["from_a_newer_minor_version"] = True  # unknown keys are left out, not fatal
    folder = write_project(tmp_path / "Film.ltxproj", json.dumps(sparse).encode())
    data, root = read_project(folder)
    assert root == folder and "from_a_newer_minor_version" not in data["clips"][0]
    first, second = segments_from_project(data, root)
    assert (first.trim_in, first.trim_out, first.drop_first, first.crossfade) == (0, None, 0, 0)
    assert second.crossfade == 4 and second.path == str(folder / "media/b.mp4")
    assert len(load_project(folder).clips) == 2


def test_a_missing_project_file_says_it_is_not_a_project(tmp_path):
    with pytest.raises(InvalidRequest, match="is not an ltx-mlx project \\(no project.json\\)"):
        read_project(tmp_path / "Nothing.ltxproj")
    with pytest.raises(ProjectError, match="is not an ltx-mlx project"):
        load_project(tmp_path / "Nothing.ltxproj")
