"""Imports go one way: each module imports only its own layer and the layers below, and no modules
import each other, directly or round a loop.

Layers, lowest first: ground (errors, paths, media I/O in video/) -> the pieces model families share
(models/common) -> model families and text encoders' glue -> weights -> pipeline -> front ends
(bench, distributed, cli, stitching) -> desktop. Every import counts: at module top, inside a
function, or under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ltx_mlx_core", "desktop")
# (layer, module prefixes), lowest first; a module belongs to the layer of its longest prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "ground",
        (
            "ltx_mlx_core",
            "ltx_mlx_core.errors",
            "ltx_mlx_core.gpu_commands",
            "ltx_mlx_core.paths",
            "ltx_mlx_core.validation",
            "ltx_mlx_core.video",
        ),
    ),
    ("shared model pieces", ("ltx_mlx_core.models.common",)),
    ("models", ("ltx_mlx_core.models", "ltx_mlx_core.text")),
    ("weights", ("ltx_mlx_core.weights",)),
    ("pipeline", ("ltx_mlx_core.pipeline",)),
    ("front ends", ("ltx_mlx_core.bench", "ltx_mlx_core.distributed", "ltx_mlx_core.cli", "ltx_mlx_core.stitching")),
    ("desktop", ("desktop",)),
)


@dataclass(frozen=True)
class Import:
    module: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.module} -> {self.imported} (line {self.line})"


def module_files(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `packages` under `root`."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def first_party_imports(modules: dict[str, Path]) -> list[Import]:
    """Every import of one of `modules` anywhere in their source, resolved to the module imported.

    `from a.b import c` imports module a.b.c when there is one, else a.b; relative imports are
    resolved against the importing module's package.
    """
    found = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            else:
                continue
            for target in dict.fromkeys(targets):
                resolved = _owning_module(target, modules)
                if resolved is not None and resolved != name:
                    found.append(Import(name, resolved, node.lineno))
    return found


def _owning_module(target: str, modules: dict[str, Path]) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def layer_of(module: str) -> int:
    matches = [
        (len(prefix), rank)
        for rank, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or (module.startswith(prefix + ".") and prefix != "ltx_mlx_core")
    ]
    if not matches:
        raise AssertionError(f"{module} is in no layer: place it in LAYERS ({__file__}).")
    return max(matches)[1]


def upward_imports(imports: list[Import]) -> list[Import]:
    return [i for i in imports if layer_of(i.imported) > layer_of(i.module)]


def import_cycles(imports: list[Import]) -> list[list[Import]]:
    """One loop of imports (first module imports the second ... the last imports the first) per
    group of modules that import each other."""
    edges: dict[str, dict[str, Import]] = {}
    for i in imports:
        edges.setdefault(i.module, {}).setdefault(i.imported, i)
    cycles = []
    for group in _strongly_connected(edges):
        cycles.append(_loop_within(sorted(group)[0], group, edges))
    return cycles


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; groups of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges.get(successor, {})))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def _loop_within(start: str, group: set[str], edges: dict[str, dict[str, Import]]) -> list[Import]:
    """The shortest import loop from `start` back to itself inside `group` (breadth first)."""
    paths = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for successor, edge in sorted(edges.get(node, {}).items()):
            if successor == start:
                return paths[node] + [edge]
            if successor in group and successor not in paths:
                paths[successor] = paths[node] + [edge]
                queue.append(successor)
    raise AssertionError(f"no loop through {start}")


def _report(imports: list[Import], cycles: list[list[Import]]) -> str:
    lines = [f"upward import: {i}" for i in imports]
    lines += ["import cycle: " + "; ".join(str(edge) for edge in loop) for loop in cycles]
    return "\n".join(lines)


def test_no_module_imports_a_higher_layer() -> None:
    upward = upward_imports(first_party_imports(module_files(ROOT)))
    assert not upward, (
        "Imports must not go up the layers " + " -> ".join(name for name, _ in LAYERS) + ":\n" + _report(upward, [])
    )


def test_no_modules_import_each_other() -> None:
    cycles = import_cycles(first_party_imports(module_files(ROOT)))
    assert not cycles, "Modules must not import each other (directly or round a loop):\n" + _report([], cycles)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def test_the_scan_finds_upward_imports_at_top_in_functions_and_for_type_checking(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "ltx_mlx_core/__init__.py": "",
            "ltx_mlx_core/errors.py": "",
            "ltx_mlx_core/models/__init__.py": "",
            "ltx_mlx_core/models/common/__init__.py": "",
            "ltx_mlx_core/models/common/norms.py": "from ltx_mlx_core.models.ltxv import blocks\n",
            "ltx_mlx_core/models/ltxv/__init__.py": "",
            "ltx_mlx_core/models/ltxv/blocks.py": "from ltx_mlx_core.errors import *\n",
            "ltx_mlx_core/models/ltxv/top.py": "from ltx_mlx_core.pipeline.run import go\n",
            "ltx_mlx_core/models/ltxv/late.py": "def f():\n    import ltx_mlx_core.weights.loader\n",
            "ltx_mlx_core/models/ltxv/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from .vae import Thing\n    from desktop import app\n",
            "ltx_mlx_core/models/ltxv/vae.py": "",
            "ltx_mlx_core/weights/__init__.py": "",
            "ltx_mlx_core/weights/loader.py": "from ltx_mlx_core.models.ltxv import blocks\n",
            "ltx_mlx_core/pipeline/__init__.py": "",
            "ltx_mlx_core/pipeline/run.py": "def go():\n    pass\n",
            "desktop/__init__.py": "",
            "desktop/app.py": "from ltx_mlx_core.pipeline import run\n",
        },
    )
    imports = first_party_imports(module_files(tmp_path))
    upward = {(i.module, i.imported) for i in upward_imports(imports)}
    assert upward == {
        ("ltx_mlx_core.models.common.norms", "ltx_mlx_core.models.ltxv.blocks"),
        ("ltx_mlx_core.models.ltxv.top", "ltx_mlx_core.pipeline.run"),
        ("ltx_mlx_core.models.ltxv.late", "ltx_mlx_core.weights.loader"),
        ("ltx_mlx_core.models.ltxv.typed", "desktop.app"),
    }
    # Relative imports resolve; imports within a layer and downward ones are fine.
    assert ("ltx_mlx_core.models.ltxv.typed", "ltx_mlx_core.models.ltxv.vae") in {
        (i.module, i.imported) for i in imports
    }
    assert "ltx_mlx_core.models.ltxv.late -> ltx_mlx_core.weights.loader (line 2)" in _report(
        upward_imports(imports), []
    )


def test_the_scan_finds_modules_that_import_each_other_round_a_loop(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "ltx_mlx_core/__init__.py": "",
            "ltx_mlx_core/weights/__init__.py": "",
            "ltx_mlx_core/weights/catalog.py": "from ltx_mlx_core.weights import registry\n",
            "ltx_mlx_core/weights/registry.py": "def f():\n    from ltx_mlx_core.weights.tiny import LABEL\n",
            "ltx_mlx_core/weights/tiny.py": "from ltx_mlx_core.weights.catalog import CATALOG\n",
            "ltx_mlx_core/weights/fp8.py": "from ltx_mlx_core.weights.safetensors_io import read_header\n",
            "ltx_mlx_core/weights/safetensors_io.py": "",
        },
    )
    cycles = import_cycles(first_party_imports(module_files(tmp_path, ("ltx_mlx_core",))))
    assert [[(i.module, i.imported) for i in loop] for loop in cycles] == [
        [
            ("ltx_mlx_core.weights.catalog", "ltx_mlx_core.weights.registry"),
            ("ltx_mlx_core.weights.registry", "ltx_mlx_core.weights.tiny"),
            ("ltx_mlx_core.weights.tiny", "ltx_mlx_core.weights.catalog"),
        ]
    ]
