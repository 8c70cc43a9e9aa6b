"""A machine that drops out mid-generation ends the run on the others with a clear error, not a hang,
and the stage checkpoints let the run finish in one process.

The two ranks are started as `mlx.launch` starts them (MLX_RANK, MLX_HOSTFILE) but by the test, so
it can kill rank 1 itself once the first pass and the upsampling are checkpointed; the launcher
would otherwise stop rank 0 too as soon as rank 1 died.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import mlx.core as mx
import numpy as np

from ltx_mlx_core.paths import configs_dir
from tests.distributed.launching import REPO, TIMEOUT_S, cli, environment, start_ranks

EXIT_WITHIN_S = 30.0  # from the kill to rank 0's exit: ~1 s when MLX raises, the stall floor when it hangs
# The tiny model's steps take ~10 ms, so the stall watchdog's floor is what it waits when MLX hangs.
STALL_S = "5"
SECOND_PASS_STEPS = 200  # long enough that the kill lands inside the second pass


def slow_config(folder) -> str:
    """The tiny model's two-pass config with a long second pass."""
    text = (configs_dir() / "tiny.yaml").read_text()
    steps = ", ".join(f"{t:.4f}" for t in np.linspace(0.9094, 0.05, SECOND_PASS_STEPS))
    text = text.replace("timesteps: [0.9094, 0.4219]", f"timesteps: [{steps}]")
    path = folder / "slow.yaml"
    path.write_text(text)
    return str(path)


def completed(job_dir) -> list[str]:
    try:
        manifest = json.loads((job_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return []
    return [stage for stages in manifest.get("completed", {}).values() for stage in stages]


def test_lost_rank_stops_the_other_and_one_process_resumes(home, tmp_path):
    job_dir = tmp_path / "job"
    args = (
        "generate", "--model", "tiny", "--prompt", "a red ball", "--width", "64", "--height", "64",
        "--frames", "9", "--steps-config", slow_config(tmp_path), "--parallel", "tensor",
        "--job-dir", str(job_dir), "--output", str(tmp_path / "clip.mp4"),
    )  # fmt: skip
    ranks = start_ranks(cli(*args), home, tmp_path / "hosts.json", LTX_MLX_GROUP_STALL_S=STALL_S)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while "upsample" not in completed(job_dir):
            assert ranks[0].poll() is None, ranks[0].communicate()[1]
            assert time.monotonic() < deadline, "the run never reached its second pass"
            time.sleep(0.05)
        ranks[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        _, errors = ranks[0].communicate(timeout=EXIT_WITHIN_S * 2)
        took = time.monotonic() - killed
    finally:
        for rank in ranks:
            if rank.poll() is None:
                rank.kill()
    print(f"rank 0 exited {took:.2f} s after rank 1 was killed")
    assert took <= EXIT_WITHIN_S
    assert ranks[0].returncode == 1
    assert "Another machine of the group stopped answering" in errors, errors
    assert str(job_dir) in errors  # it says where the finished stages are
    assert not (tmp_path / "clip.mp4").exists()
    assert "second_pass" not in completed(job_dir)

    upsampled = np.array(mx.load(str(job_dir / "seed0_upsample.safetensors"))["latents"])
    alone = subprocess.run(cli(*args), cwd=REPO, env=environment(home), capture_output=True, text=True, timeout=600)
    assert alone.returncode == 0, alone.stderr
    assert (tmp_path / "clip.mp4").is_file()
    # It resumed: no first pass, the checkpointed upsampled latents untouched.
    assert "first_pass" not in alone.stderr and "second_pass" in alone.stderr
    assert np.array_equal(np.array(mx.load(str(job_dir / "seed0_upsample.safetensors"))["latents"]), upsampled)
