"""The LTX-2 audio references, importable without torchaudio.

ltx-core's audio package imports `torchaudio` at module level, but only its mel front end
(`AudioProcessor`) uses it, and torchaudio cannot be installed beside the pinned CPU torch.
transformers and diffusers are imported first (they probe for torchaudio when imported), then an
inert stand-in goes into `sys.modules` so ltx-core's audio VAE and vocoder classes import.
Nothing may call the stand-in: any attribute read raises.
"""

from __future__ import annotations

import sys
import types

import diffusers  # noqa: F401  (imported before the stand-in exists: it probes for torchaudio)
import transformers  # noqa: F401  (same)
import transformers.audio_utils  # noqa: F401


class _InertTorchaudio(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(
            f"torchaudio.{name} was used, but torchaudio is only an inert stand-in in the tests: "
            "the mel front end is checked against transformers.audio_utils instead."
        )


if "torchaudio" not in sys.modules:
    sys.modules["torchaudio"] = _InertTorchaudio("torchaudio")

from diffusers import AutoencoderKLLTX2Audio  # noqa: E402
from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder, LTX2VocoderWithBWE  # noqa: E402
from ltx_core.model.audio_vae import (  # noqa: E402
    AudioDecoderConfigurator,
    AudioEncoderConfigurator,
    VocoderConfigurator,
)
from ltx_core.model.audio_vae.vocoder import Vocoder, VocoderWithBWE  # noqa: E402

__all__ = [
    "AudioDecoderConfigurator",
    "AudioEncoderConfigurator",
    "AutoencoderKLLTX2Audio",
    "LTX2Vocoder",
    "LTX2VocoderWithBWE",
    "Vocoder",
    "VocoderConfigurator",
    "VocoderWithBWE",
]
