"""A stand-in for PyAV where it is missing: ltx-pipelines imports it (and names it in annotations) at
module level, but the benchmark never writes a file with it. Import before ltx_pipelines."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types


class _AbsentModule(types.ModuleType):
    def __getattr__(self, name: str) -> _AbsentModule:
        if name.startswith("__"):  # module protocol (__file__, __path__...): absent, as for any module
            raise AttributeError(name)
        return self


_present = sys.modules.get("av")
# A module without a spec is another stand-in (find_spec refuses it); replace it with one that has attributes.
if (_present is None and importlib.util.find_spec("av") is None) or (
    _present is not None and _present.__spec__ is None
):
    stand_in = _AbsentModule("av")
    stand_in.__spec__ = importlib.machinery.ModuleSpec("av", None)  # others probe with find_spec
    sys.modules["av"] = stand_in
