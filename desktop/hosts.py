"""The Hosts setting's plain side (no Qt): the host file, the launcher command, and the check.

The host file is `mlx.launch`'s JSON hostfile: a list of {"ssh": NAME, "ips": [ADDRESS, ...]}, or
an object with that list under "hosts" (and optionally "backend" and "envs"). Rank 0 is the first
host; it writes the video, so it must be this machine.

`check_hosts` runs `ltx_mlx_core.distributed.check` through the launcher: each rank reports itself
when it starts, and rank 0 reports the whole group once the ranks have reached one another.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ltx_mlx_core.errors import InvalidRequest

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0  # from SIGTERM (ranks clean up) to SIGKILL
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Host:
    rank: int
    ssh: str
    ips: tuple[str, ...]


@dataclass(frozen=True)
class HostFile:
    path: Path
    hosts: tuple[Host, ...]
    backend: str = ""

    @property
    def all_local(self) -> bool:
        return all(is_this_machine(host.ssh) for host in self.hosts)


def is_this_machine(name: str) -> bool:
    return name in LOCAL_NAMES or name in (socket.gethostname(), socket.gethostname().split(".")[0])


def read_host_file(path: str | Path) -> HostFile:
    """The hosts of an mlx.launch hostfile; InvalidRequest with what is wrong otherwise."""
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise InvalidRequest(f"The host file '{path}' cannot be read ({error.strerror or error}).") from error
    except ValueError as error:
        raise InvalidRequest(f"The host file '{path.name}' is not JSON ({error}).") from error
    entries = data.get("hosts") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("ssh"), str) for e in entries):
        raise InvalidRequest(
            f"The host file '{path.name}' is not an mlx.launch hostfile: it should list hosts as "
            '[{"ssh": "name", "ips": ["address"]}, ...].'
        )
    if len(entries) < 2:
        raise InvalidRequest(f"The host file '{path.name}' lists {len(entries)} host; a shared run needs two or more.")
    hosts = tuple(Host(rank, e["ssh"], tuple(e.get("ips") or ())) for rank, e in enumerate(entries))
    backend = data.get("backend", "") if isinstance(data, dict) else ""
    return HostFile(path, hosts, backend)


def check_rank0_is_here(host_file: HostFile) -> None:
    first = host_file.hosts[0].ssh
    if not is_this_machine(first):
        raise InvalidRequest(
            f"The first host of '{host_file.path.name}' is '{first}', but rank 0 writes the video, so the "
            "first host must be this machine (127.0.0.1 or its own name)."
        )


def launcher() -> list[str]:
    """`mlx.launch` as installed beside this interpreter (else on PATH)."""
    beside = Path(sys.executable).parent / "mlx.launch"
    return [str(beside)] if beside.is_file() else ["mlx.launch"]


def free_starting_port(count: int) -> int:
    """A first port such that it and the next count - 1 were free a moment ago (ring ranks listen there)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count < 65536 and all(_port_free(first + i) for i in range(count)):
            return first
    raise InvalidRequest("No free network ports were found for the hosts on this machine.")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def launch_command(host_file: HostFile, command: list[str]) -> list[str]:
    """mlx.launch over the host file; where every host is this machine, on ports free here
    (several ranks on one machine would otherwise meet another run's on the default port)."""
    ports = ["--starting-port", str(free_starting_port(len(host_file.hosts)))] if host_file.all_local else []
    return [*launcher(), "--hostfile", str(host_file.path), *ports, "--", *command]


def start_launch(command: list[str]) -> subprocess.Popen:
    """The launcher in a session of its own, so stopping it stops every rank it started here."""
    # stdin is a pipe nobody writes: the launcher polls it, and /dev/null would keep it spinning.
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )


def stop_launch(process: subprocess.Popen) -> None:
    """SIGTERM to the launcher's process group (the ranks run their cleanup), SIGKILL if it lingers."""
    if process.poll() is not None and not _group_alive(process.pid):
        return
    for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        if not _group_alive(process.pid):
            break
    log.info("Stopped the launch (process group %d)", process.pid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class HostStatus:
    rank: int
    host: str
    answered: bool = False
    connected: bool = False  # reached the other ranks (rank 0 gathered its report over the group)
    model_ok: bool = False
    hostname: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.answered and self.connected and self.model_ok

    @property
    def summary(self) -> str:
        if not self.answered:
            return "did not answer" + (f": {self.detail}" if self.detail else "")
        where = f" ({self.hostname})" if self.hostname else ""
        if not self.model_ok:
            return f"answers{where}; model missing: {self.detail}"
        if not self.connected:
            return f"answers{where} and has the model, but did not reach the other hosts"
        return f"answers{where}, has the model"


def check_hosts(host_file: HostFile, model: str, timeout_s: float = CHECK_TIMEOUT_S) -> list[HostStatus]:
    """Each host's answer to `python -m ltx_mlx_core.distributed.check --model MODEL`, in rank order."""
    command = [sys.executable, "-m", "ltx_mlx_core.distributed.check", "--model", model]
    process = start_launch(launch_command(host_file, command))
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop_launch(process)
        out, err = process.communicate()
        err += f"\nno answer within {timeout_s:.0f} s"
    finally:
        stop_launch(process)
    reports, group = {}, None
    for line in out.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("check") == "rank":
            reports[data.get("rank")] = data
        elif isinstance(data, dict) and data.get("check") == "group":
            group = data
    gathered = {report.get("rank") for report in (group or {}).get("hosts", [])}
    problem = _last_message(err)
    statuses = []
    for host in host_file.hosts:
        report = reports.get(host.rank)
        if report is None:
            statuses.append(HostStatus(host.rank, host.ssh, detail=problem))
            continue
        statuses.append(
            HostStatus(
                host.rank,
                host.ssh,
                answered=True,
                connected=host.rank in gathered,
                model_ok=bool(report.get("model_ok")),
                hostname=str(report.get("hostname", "")),
                detail=str(report.get("model_error", "")),
            )
        )
    log.info("Host check of %s: %s", host_file.path, [s.summary for s in statuses])
    return statuses


def _last_message(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return strip_colours(lines[-1]) if lines else ""


def strip_colours(text: str) -> str:
    """The launcher colours its warnings with ANSI escapes."""
    return text.replace("\033[33m", "").replace("\033[32m", "").replace("\033[31m", "").replace("\033[0m", "").strip()
