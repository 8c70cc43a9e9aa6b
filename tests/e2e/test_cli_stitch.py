"""`ltx-mlx stitch` exports a saved timeline project exactly as the app's document describes it."""
from __future__ import annotations

import subprocess
import sys

from desktop.project import Clip, Project, Take
from ltx_mlx_core.video.io import probe_video
from tests.core.test_stitch import frame_numbers, numbered_clip


def test_stitch_cli_exports_a_project_with_overlap_dropped_and_trim(tmp_path):
    folder = tmp_path / "Film.ltxproj"
    project = Project(name="Film", fps=24, width=64, height=48, folder=folder)
    a = numbered_clip(tmp_path / "a.mp4", 0, 25)
    b = numbered_clip(tmp_path / "b.mp4", 16, 25)
    first = Clip(takes=[Take(path=project.import_media(a), frames=25)])
    second = Clip(takes=[Take(path=project.import_media(b), frames=25)], overlap_in=9, trim_out=20)
    project.insert_clip(0, first)
    project.insert_clip(1, second)
    project.save()
    out = tmp_path / "film.mp4"
    proc = subprocess.run([sys.executable, "-m", "ltx_mlx_core.cli", "stitch", str(folder), "-o", str(out),
                           "--crf", "0", "--preset", "ultrafast"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert probe_video(out).frames == project.total_frames == 25 + 11
    assert frame_numbers(out) == list(range(0, 36))


def test_stitch_cli_rejects_a_folder_that_is_not_a_project(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ltx_mlx_core.cli", "stitch", str(tmp_path), "-o",
                           str(tmp_path / "x.mp4")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "is not an ltx-mlx project" in proc.stderr
