"""`mlx.launch --hostfile hosts.json -- python -m ltx_mlx_core.distributed.check --model ID`: do the hosts
answer, and does each have the model?

Every rank prints one JSON line about itself as soon as it starts (before it joins the group, so a
host that starts but cannot reach the others is still heard from), then joins the group; rank 0
gathers every rank's report over the group itself and prints them as one line:

    {"check": "rank", "rank": 1, "hostname": "studio-2", "model_ok": true, "model": "...", ...}
    {"check": "group", "size": 2, "hosts": [{...rank 0...}, {...rank 1...}]}

The gathered line proves the group's link works in both directions; a host missing from it did
not answer. Model resolution reads file headers only: nothing is loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from typing import Any

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.weights.registry import resolve_model

REPORT_BYTES = 4096  # each rank's report, padded to one size for the all_gather


def rank_report(model: str) -> dict[str, Any]:
    report: dict[str, Any] = {
        "rank": int(os.environ.get("MLX_RANK", "0")),
        "hostname": socket.gethostname(),
        "python": sys.executable,
        "mlx": mx.__version__,
        "device": mx.default_device().type.name,
    }
    try:
        files = resolve_model(model)
    except LtxMlxError as error:
        report.update(model_ok=False, model_error=str(error))
    else:
        report.update(model_ok=True, model=files.model_id, checkpoint=str(files.checkpoint))
    return report


def _encode(report: dict[str, Any]) -> mx.array:
    data = json.dumps(report).encode()[:REPORT_BYTES]
    return mx.array(np.frombuffer(data.ljust(REPORT_BYTES, b" "), dtype=np.uint8))


def gather_reports(report: dict[str, Any], group: mx.distributed.Group) -> list[dict[str, Any]]:
    """Every rank's report, in rank order, over the group's own link."""
    gathered = np.array(mx.distributed.all_gather(_encode(report)[None], group=group, stream=mx.cpu))
    return [json.loads(bytes(row).decode().rstrip()) for row in gathered.reshape(group.size(), REPORT_BYTES)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltx_mlx_core.distributed.check")
    parser.add_argument("--model", required=True, help="the model id every host should have installed")
    args = parser.parse_args(argv)
    report = rank_report(args.model)
    print(json.dumps({"check": "rank", **report}), flush=True)
    group = mx.distributed.init()
    reports = gather_reports(report, group)
    if group.rank() == 0:
        print(json.dumps({"check": "group", "size": group.size(), "hosts": reports}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
