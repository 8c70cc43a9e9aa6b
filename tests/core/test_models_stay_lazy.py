"""Model code builds graphs and never evaluates them: evaluation is the pipeline's step/tile boundary."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "ltx_mlx_core"
# Model code and the text encoders built on mlx-lm.
MODEL_PACKAGES = (CORE / "models", CORE / "text")
EVALUATING_CALLS = {"eval", "async_eval", "synchronize"}


def _evaluating_calls(source: str, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if node.func.attr in EVALUATING_CALLS and isinstance(owner, ast.Name) and owner.id == "mx":
                found.append(f"{name}:{node.lineno} mx.{node.func.attr}")
    return found


def test_no_model_module_calls_mx_eval() -> None:
    files = sorted(path for package in MODEL_PACKAGES for path in package.rglob("*.py"))
    assert len(files) > 10 and any(path.parent.name == "text" for path in files)  # the scan sees both
    assert [call for path in files for call in _evaluating_calls(path.read_text(), path.name)] == []


def test_the_scan_finds_an_evaluation() -> None:
    sample = "import mlx.core as mx\n\ndef f(x):\n    y = x + 1\n    mx.eval(y)\n    return y\n"
    assert _evaluating_calls(sample, "probe.py") == ["probe.py:5 mx.eval"]
