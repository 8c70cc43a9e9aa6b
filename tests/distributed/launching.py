"""Start two processes on localhost the way `mlx.launch --backend ring` does (CPU, TCP ring)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The launcher mlx installs beside the interpreter (`mlx.launch`); it runs any command on every rank.
MLX_LAUNCH = Path(sys.executable).parent / "mlx.launch"
TIMEOUT_S = 600


def free_ports(count: int) -> int:
    """A first port such that it and the next count - 1 were free a moment ago (ring ranks listen there)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count < 65536 and all(_is_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no free ports for the ring backend")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def environment(home: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LTX_MLX_MEMORY_LIMIT_BYTES", "MLX_RANK", "MLX_HOSTFILE")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", **extra)
    if home is not None:
        env["LTX_MLX_HOME"] = str(home)
    return env


def launch(command: list[str], home: Path | None = None, processes: int = 2) -> subprocess.CompletedProcess:
    """`mlx.launch --backend ring -n PROCESSES -- COMMAND` on localhost (its exit code is not the ranks': check outputs)."""
    launcher = [
        str(MLX_LAUNCH),
        "--backend",
        "ring",
        "-n",
        str(processes),
        "--starting-port",
        str(free_ports(processes)),
    ]
    return subprocess.run(
        [*launcher, "--", *command], cwd=REPO, env=environment(home), capture_output=True, text=True, timeout=TIMEOUT_S
    )


def start_ranks(
    command: list[str], home: Path, hostfile: Path, processes: int = 2, **extra: str
) -> list[subprocess.Popen]:
    """The ranks as separate processes (what mlx.launch starts), so a test can kill one of them."""
    first = free_ports(processes)
    hostfile.write_text(json.dumps([[f"127.0.0.1:{first + rank}"] for rank in range(processes)]))
    return [
        subprocess.Popen(
            command,
            cwd=REPO,
            env=environment(home, MLX_RANK=str(rank), MLX_HOSTFILE=str(hostfile), **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(processes)
    ]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ltx_mlx_core.cli", *args]
