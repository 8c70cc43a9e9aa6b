"""The app's Hosts setting end to end, two ranks on localhost through the real `mlx.launch` (ring, CPU):
the check reports each host, a generation from the window runs across them with stage and step
progress and writes the MP4, Cancel stops the ranks, and a rank killed mid-run ends the job with the
message that names the kept stages, from which a one-machine run of the same request resumes."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from desktop.hosts import check_hosts, read_host_file
from desktop.hosts_run import HostsGenerate, job_folder
from desktop.main_window import MainWindow
from desktop.settings import AppSettings
from ltx_mlx_core.weights.registry import tiny_model_dir
from tests.distributed.launching import REPO
from tests.distributed.test_host_lost import STALL_S, completed, slow_config

GENERATION_TIMEOUT_MS = 400_000
LOCAL_PAIR = [{"ssh": "127.0.0.1", "ips": ["127.0.0.1"]}, {"ssh": "127.0.0.1", "ips": ["127.0.0.1"]}]
STOPPED_WITHIN_S = 20.0  # from Cancel to the last rank gone


@pytest.fixture
def hosts_window(qtbot, home, isolated_app_home, tmp_path, monkeypatch):
    """The window with the tiny model, the Hosts setting on, two ranks on this machine."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the ranks import this checkout
    # A rank left waiting inside MLX by the killed one ends after this many seconds without a step.
    monkeypatch.setenv("LTX_MLX_GROUP_STALL_S", STALL_S)
    os.symlink(home / "data" / "models" / "tiny", tiny_model_dir(), target_is_directory=True)
    (tmp_path / "hosts.json").write_text(json.dumps(LOCAL_PAIR))
    settings = AppSettings()
    settings.update(
        {
            "model": "tiny", "width": 64, "height": 64, "fps": 8.0, "seconds": 1.0, "seed": 7, "seed_locked": True,
            "output_dir": str(tmp_path / "outputs"), "hosts_file": str(tmp_path / "hosts.json"), "hosts_enabled": True,
        }
    )  # fmt: skip
    settings.save()
    window = MainWindow(settings=settings, show_model_manager_if_empty=False)
    qtbot.addWidget(window)
    window.show()
    window.prompt_panel.set_prompt("a red ball")
    assert isinstance(window.service.worker.generate_fn, HostsGenerate)
    yield window
    window.service.shutdown()


def rank_pids(pgid: int) -> dict[int, int]:
    """{rank: pid} of the ranks in the launcher's process group (read from /proc)."""
    ranks = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or os.getpgid(int(entry.name)) != pgid:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ProcessLookupError):
            continue
        for item in environ:
            if item.startswith(b"MLX_RANK="):
                ranks[int(item.split(b"=")[1])] = int(entry.name)
    return ranks


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_check_hosts_reports_each_host_and_its_model(home, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    (tmp_path / "hosts.json").write_text(json.dumps(LOCAL_PAIR))
    hosts = read_host_file(tmp_path / "hosts.json")
    missing = check_hosts(hosts, "tiny")  # this test's home has no model yet
    assert [(s.rank, s.answered, s.connected, s.model_ok) for s in missing] == [(0, True, True, False)] * 1 + [
        (1, True, True, False)
    ]
    assert "is not on this machine" in missing[1].summary
    os.symlink(home / "data" / "models" / "tiny", tiny_model_dir(), target_is_directory=True)
    started = time.monotonic()
    ready = check_hosts(hosts, "tiny")
    print(f"check of 2 local hosts took {time.monotonic() - started:.1f} s: {[s.summary for s in ready]}")
    assert all(s.ok for s in ready) and ready[1].summary.startswith("answers")


def test_a_generation_from_the_window_runs_across_the_hosts(qtbot, hosts_window):
    window = hosts_window
    stages, steps = [], []
    window.service.stage_started.connect(lambda job, name, detail: stages.append(name))
    window.service.step.connect(lambda job, i, n, eta: steps.append((i, n)))
    with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as finished:
        window.generate_action.trigger()
    video = Path(finished.args[0])
    assert video.is_file() and video.parent == Path(window.settings.output_dir())
    sidecar = json.loads(video.with_suffix(".json").read_text())
    assert sidecar["video"] == video.name and sidecar["parallel"]["processes"] == 2
    assert stages == ["load", "text_encode", "first_pass", "upsample", "second_pass", "decode"]
    assert len(steps) >= 6 and window.progress.isVisible()
    print(f"stages {stages}, {len(steps)} step events, parallel {sidecar['parallel']}")
    assert not job_folder(window.build_request()).exists()  # checkpoints dropped once the video is in place


def _start_slow(qtbot, window, tmp_path):
    request = window.build_request()
    request.pipeline_config = slow_config(tmp_path)
    seen = []
    window.service.step.connect(lambda job, i, n, eta: seen.append(window.service.last_stage))
    window.generate_with(request)
    qtbot.waitUntil(lambda: "second_pass" in seen, timeout=GENERATION_TIMEOUT_MS)
    return request, window.service.worker.generate_fn.process.pid


def test_cancel_stops_the_launch_and_every_rank(qtbot, hosts_window, tmp_path):
    window = hosts_window
    _, pgid = _start_slow(qtbot, window, tmp_path)
    ranks = rank_pids(pgid)
    assert sorted(ranks) == [0, 1], ranks
    with qtbot.waitSignal(window.generation_cancelled, timeout=60_000):
        cancelled = time.monotonic()
        window.cancel_action.trigger()
    qtbot.waitUntil(lambda: group_gone(pgid), timeout=int(STOPPED_WITHIN_S * 1000))
    print(f"launcher and ranks {ranks} gone {time.monotonic() - cancelled:.2f} s after Cancel")
    for pid in ranks.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_lost_host_ends_with_the_message_and_one_machine_resumes(qtbot, hosts_window, tmp_path):
    window = hosts_window
    request, pgid = _start_slow(qtbot, window, tmp_path)
    job_dir = job_folder(request)
    with qtbot.waitSignal(window.generation_failed, timeout=60_000) as failed:
        os.kill(rank_pids(pgid)[1], signal.SIGKILL)
        killed = time.monotonic()
    message = failed.args[0]
    print(f"failed {time.monotonic() - killed:.2f} s after rank 1 was killed: {message}")
    assert message.startswith("Host '127.0.0.1' (rank 1) stopped during the generation")
    assert str(job_dir) in message and "resumes" in message
    assert window.error_dialog is not None and window.error_dialog.text() == message
    assert "upsample" in completed(job_dir)
    qtbot.waitUntil(lambda: group_gone(pgid), timeout=int(STOPPED_WITHIN_S * 1000))

    window.settings.set("hosts_enabled", False)  # what turning the switch off in Settings does
    window.hosts.apply()
    stages = []
    window.service.stage_started.connect(lambda job, name, detail: stages.append(name))
    with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as finished:
        window.generate_with(request)
    assert Path(finished.args[0]).is_file()
    assert "first_pass" not in stages and "second_pass" in stages  # resumed from the kept stages
    qtbot.waitUntil(lambda: not job_dir.exists(), timeout=10_000)  # dropped once the resumed run is done
