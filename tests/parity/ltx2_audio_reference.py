"""The LTX-2 audio references (ltx-core's audio VAE and vocoders, diffusers' LTX2 audio classes).

ltx-core's audio package imports torchaudio, which cannot be installed here: `ltx2_reference`
puts its inert stand-in in place first. The mel front end is checked against
transformers.audio_utils instead of torchaudio.
"""

from __future__ import annotations

import transformers.audio_utils  # noqa: F401  (before the stand-in: the mel reference)

from tests.parity import ltx2_reference  # noqa: F401  (installs the one torchaudio stand-in)

# isort: split
from diffusers import AutoencoderKLLTX2Audio
from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder, LTX2VocoderWithBWE
from ltx_core.model.audio_vae import (
    AudioDecoderConfigurator,
    AudioEncoderConfigurator,
    VocoderConfigurator,
)
from ltx_core.model.audio_vae.vocoder import Vocoder, VocoderWithBWE

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
