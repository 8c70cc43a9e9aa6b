"""`ltx-mlx stitch` exports a saved timeline project exactly as the app's document describes it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from desktop.project import Clip, Project, Take
from ltx_mlx_core.video.io import probe_video
from ltx_mlx_core.video.probe import probe_media
from tests.core.test_stitch import frame_numbers, numbered_clip
from tests.sound_clips import rms, sound_clip, sound_of


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
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ltx_mlx_core.cli",
            "stitch",
            str(folder),
            "-o",
            str(out),
            "--crf",
            "0",
            "--preset",
            "ultrafast",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert probe_video(out).frames == project.total_frames == 25 + 11
    assert frame_numbers(out) == list(range(0, 36))


def test_stitch_cli_rejects_a_folder_that_is_not_a_project(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ltx_mlx_core.cli", "stitch", str(tmp_path), "-o", str(tmp_path / "x.mp4")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "is not an ltx-mlx project" in proc.stderr


def test_stitch_cli_mixes_the_project_s_sound_as_the_app_does(tmp_path):
    """Gain and mute saved in the project reach the export; --codec prores writes ProRes + ALAC."""
    folder = tmp_path / "Film.ltxproj"
    project = Project(name="Film", fps=24, width=64, height=48, folder=folder)
    tone = sound_clip(tmp_path / "tone.mp4", 1.0, 24.0, "red", 440)
    for index, (gain, muted) in enumerate(((0.0, False), (-6.0, False), (0.0, True))):
        project.insert_clip(
            index, Clip(takes=[Take(path=project.import_media(tone), frames=24)], gain_db=gain, muted=muted)
        )
    project.save()
    for name, extra in (("film.mov", ["--codec", "prores"]), ("film.mp4", []), ("quiet.mp4", ["--no-audio"])):
        proc = subprocess.run(
            [sys.executable, "-m", "ltx_mlx_core.cli", "stitch", str(folder), "-o", str(tmp_path / name), *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
    assert (probe_media(tmp_path / "film.mov").codec, probe_media(tmp_path / "film.mov").audio_codec) == (
        "prores",
        "alac",
    )
    assert probe_media(tmp_path / "quiet.mp4").audio_codec is None
    sound = sound_of(tmp_path / "film.mov")
    margin = 48000 // 50
    levels = [rms(sound[i * 48000 + margin : (i + 1) * 48000 - margin]) for i in range(3)]
    assert 20 * np.log10(levels[1] / levels[0]) == pytest.approx(-6.0, abs=0.2) and levels[2] < 1e-4
    assert rms(sound_of(tmp_path / "film.mp4")[margin : 48000 - margin]) == pytest.approx(levels[0], rel=0.05)


def test_stitch_cli_refuses_prores_outside_a_mov(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ltx_mlx_core.cli",
            "stitch",
            str(tmp_path),
            "-o",
            str(tmp_path / "x.mp4"),
            "--codec",
            "prores",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "name the output 'x.mov'" in proc.stderr
