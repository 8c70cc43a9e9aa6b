"""Generations across the hosts of the Hosts setting: `mlx.launch --hostfile FILE -- python -m ltx_mlx_core.cli
generate ... --progress-json` as a subprocess, turned back into the engine's events.

`HostsGenerate` is a generate function for `GenerationService.set_generate_fn`: it yields the
stages and steps rank 0 reports (no previews: frames do not cross the stream), then a `Finished`
whose `WrittenResult` is the video rank 0 already wrote, which the worker moves into place. Closing
it (cancel) stops the launcher's whole process group, the ranks with it. A host that drops out
ends the run with `HostLost`, whose message says where the finished stages are kept and that a
one-machine run resumes from them: `HostsSwitch` gives the window's one-machine generations
`resuming`, which picks up the job folder a failed shared run of the same request left.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from desktop.hosts import check_rank0_is_here, launch_command, read_host_file, start_launch, stop_launch, strip_colours
from ltx_mlx_core import paths
from ltx_mlx_core.distributed.group import HostLost
from ltx_mlx_core.errors import GenerationError
from ltx_mlx_core.pipeline import generate
from ltx_mlx_core.pipeline.checkpoints import MANIFEST_NAME, request_hash
from ltx_mlx_core.pipeline.events import Finished, StageStarted, StepDone, VideoResult
from ltx_mlx_core.pipeline.progress_output import parse_progress_line
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.results import check_outputs, sidecar_path
from ltx_mlx_core.video.atomic import write_json
from ltx_mlx_core.video.io import write_video

log = logging.getLogger(__name__)

HEARTBEAT_S = 0.25  # how often a silent run hands control back, so the worker sees a cancel
_NODE_FAILED = re.compile(r"Node with rank (\d+) (?:exited with code (-?\d+)|was killed)")
TURN_OFF = "turn off 'Run generations across hosts' in File → Settings and generate again"


@dataclasses.dataclass(frozen=True)
class StillRunning:
    """Yielded while rank 0 is silent (a model loading): not an engine event, the worker skips it."""


@dataclasses.dataclass
class WrittenResult(VideoResult):
    """A finished video rank 0 already wrote (with its sidecar); `place` moves it where the app wants it."""

    files: list[Path] = dataclasses.field(default_factory=list)
    job_dir: Path | None = None

    def place(self, output_path: Path) -> list[Path]:
        targets = check_outputs(Path(output_path), self.seeds)
        for source, target in zip(self.files, targets, strict=True):
            sidecar = json.loads(sidecar_path(source).read_text())
            sidecar["video"] = target.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), target)
            write_json(sidecar_path(target), sidecar)
            sidecar_path(source).unlink()
        if self.job_dir is not None:
            shutil.rmtree(self.job_dir, ignore_errors=True)  # the checkpoints are no longer needed
        return targets


def job_folder(request: GenerationRequest) -> Path:
    """Where a shared run of this request keeps its stage checkpoints (one folder per request)."""
    return paths.cache_dir() / "hosts-jobs" / request_hash(request)[:16]


def _with_files(request: GenerationRequest, job_dir: Path) -> GenerationRequest:
    """The request with pasted (in-memory) conditioning saved as files, which the command line can name."""
    items = []
    for index, item in enumerate(request.conditioning):
        if item.frames is not None:
            if item.frames.shape[0] == 1:
                path = job_dir / f"conditioning{index}.png"
                _write_png(path, item.frames[0])
            else:
                path = job_dir / f"conditioning{index}.mp4"
                write_video(path, item.frames, request.fps)
            item = dataclasses.replace(item, path=str(path), frames=None)
        items.append(item)
    return dataclasses.replace(request, conditioning=items, job_dir=str(job_dir))


def _write_png(path: Path, frame: np.ndarray) -> None:
    Image.fromarray(frame).save(path)


class HostsGenerate:
    """Generate function that runs each request across the hosts of `host_file` (see the module docstring)."""

    def __init__(self, host_file: str | Path, crf: int = 18, python: str = sys.executable):
        self.host_file = Path(host_file)
        self.crf = crf
        self.python = python
        self.process = None  # the running launcher (tests look at its process group)

    def command(self, request: GenerationRequest, output: Path) -> list[str]:
        return [
            self.python, "-m", "ltx_mlx_core.cli", "generate",
            "--model", request.model, "--prompt", request.prompt,
            "--request-json", json.dumps(request.to_dict(), default=str),
            "--job-dir", str(request.job_dir), "--output", str(output), "--crf", str(self.crf),
            "--progress-json",
        ]  # fmt: skip

    def __call__(self, request: GenerationRequest) -> Iterator[object]:
        host_file = read_host_file(self.host_file)
        check_rank0_is_here(host_file)
        job_dir = job_folder(request)
        job_dir.mkdir(parents=True, exist_ok=True)
        shared = _with_files(request, job_dir)
        output = job_dir / "out" / "clip.mp4"
        shutil.rmtree(output.parent, ignore_errors=True)
        output.parent.mkdir()
        log.info("Generating across %d hosts of %s", len(host_file.hosts), host_file.path)
        self.process = process = start_launch(launch_command(host_file, self.command(shared, output)))
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read_lines, args=(process.stderr, lines), daemon=True).start()
        threading.Thread(target=_read_lines, args=(process.stdout, queue.Queue()), daemon=True).start()
        finished, error, other = None, None, []
        try:
            while True:
                try:
                    line = lines.get(timeout=HEARTBEAT_S)
                except queue.Empty:
                    yield StillRunning()
                    continue
                if line is None:
                    break
                event = parse_progress_line(line)
                if event is None:
                    other.append(strip_colours(line))
                    log.debug("hosts: %s", other[-1])
                elif event["event"] == "stage":
                    yield StageStarted(event["name"], event["index"], event["total"], event.get("detail", ""))
                elif event["event"] == "step":
                    yield StepDone(event["stage"], event["step"], event["total"], event["elapsed"], event["eta"])
                elif event["event"] == "finished":
                    finished = event
                elif event["event"] == "error":
                    error = event
            code = process.wait()
            if finished is not None and code == 0:
                files = [Path(p) for p in finished["outputs"]]
                yield Finished(_written(request, files, finished.get("parallel") or {}, job_dir))
                return
            raise _failure(error, other, host_file.hosts, job_dir, code)
        finally:
            stop_launch(process)


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _written(request: GenerationRequest, files: list[Path], parallel: dict, job_dir: Path) -> WrittenResult:
    return WrittenResult(
        videos=[],
        seeds=list(request.seeds),
        fps=request.fps,
        request=request,
        parallel=parallel,
        files=files,
        job_dir=job_dir,
    )


def resume_note(job_dir: Path) -> str:
    return f"Nothing finished is lost: the stages done so far are kept in '{job_dir}'; {TURN_OFF} and this machine resumes from them."


def _failure(error: dict | None, other: list[str], hosts, job_dir: Path, code: int) -> GenerationError:
    """The sentence the window shows for a shared run that ended without a video."""
    if error is not None and error.get("kind") != "HostLost":
        return GenerationError(error["message"])  # the run's own refusal or failure, as one machine says it
    failed = [m for line in other if (m := _NODE_FAILED.search(line))]
    # The first rank to end ("was killed" is the launcher stopping the others after it).
    lost = [int(m.group(1)) for m in failed if m.group(2) is not None][:1]
    if error is not None or lost:
        names = ", ".join(f"'{hosts[r].ssh}' (rank {r})" for r in lost if r < len(hosts)) or "another host"
        return HostLost(f"Host {names} stopped during the generation, so it was stopped. {resume_note(job_dir)}")
    last = next((line for line in reversed(other) if line.strip()), "")
    return GenerationError(
        f"The run across hosts ended without a video (exit code {code}){': ' + last if last else ''}. {resume_note(job_dir)}"
    )


def resuming(generate_fn: Callable[[GenerationRequest], Iterator[object]] = generate):
    """A one-machine generate function that resumes from the job folder a shared run of the same request left."""

    def run(request: GenerationRequest) -> Iterator[object]:
        folder = job_folder(request)
        if request.job_dir is not None or not (folder / MANIFEST_NAME).is_file():
            yield from generate_fn(request)
            return
        log.info("Resuming from the stages of a run across hosts in %s", folder)
        done = False
        try:
            for event in generate_fn(dataclasses.replace(request, job_dir=str(folder))):
                done = done or isinstance(event, Finished)
                yield event
        finally:
            if done:
                shutil.rmtree(folder, ignore_errors=True)

    return run


class HostsSwitch:
    """Points the service's generate function at the hosts or at this machine, as the settings say."""

    def __init__(self, service, settings):
        self.service = service
        self.settings = settings
        self.local = resuming(service.worker.generate_fn)
        self.apply()

    def apply(self) -> HostsGenerate | None:
        path = self.settings.get("hosts_file")
        if self.settings.get("hosts_enabled") and path:
            hosts = HostsGenerate(path, crf=int(self.settings.get("video_crf")))
            self.service.set_generate_fn(hosts)
            return hosts
        self.service.set_generate_fn(self.local)
        return None
