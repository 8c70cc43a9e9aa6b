"""Makes the LTX-2 references (ltx-core 1.0.0, diffusers' LTX2 classes) importable in tests.

ltx-core's audio package imports `torchaudio` (only its mel front end uses it), and torchaudio
cannot be installed beside the pinned CPU torch. transformers and diffusers probe for
torchaudio when they are imported, so they are imported first, with the real state of the
environment; then an inert stand-in takes torchaudio's place so that ltx-core's other classes
import. Any use of the stand-in raises.

Import this module before any `ltx_core` import: `from tests.parity import ltx2_reference`.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import diffusers  # noqa: F401  (imported before the stand-in exists: it probes for torchaudio)
import transformers  # noqa: F401  (likewise)


class _InertTorchaudio(types.ModuleType):
    """A module object on which every use fails loudly."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            # Introspection (inspect.getmodule, pickling) probes dunders with getattr defaults.
            raise AttributeError(name)
        raise RuntimeError(
            f"torchaudio.{name} was used, but torchaudio is only a stand-in in these tests "
            "(ltx-core's mel front end is not part of any reference compared here)."
        )


def install_torchaudio_stand_in() -> bool:
    """Put the stand-in in sys.modules unless a real torchaudio is importable; True if installed."""
    if "torchaudio" in sys.modules:
        return isinstance(sys.modules["torchaudio"], _InertTorchaudio)
    if importlib.util.find_spec("torchaudio") is not None:
        return False
    sys.modules["torchaudio"] = _InertTorchaudio("torchaudio")
    return True


TORCHAUDIO_STAND_IN = install_torchaudio_stand_in()
