"""ltx-core's audio package imports beside the torchaudio stand-in, and the stand-in cannot be used."""

from __future__ import annotations

import sys

import pytest

from tests.parity import ltx2_reference

# isort: split
from ltx_core.model.audio_vae import AudioDecoderConfigurator, AudioProcessor


def test_ltx_core_audio_package_imports_with_the_stand_in() -> None:
    assert AudioDecoderConfigurator is not None
    if not ltx2_reference.TORCHAUDIO_STAND_IN:
        pytest.skip("a real torchaudio is installed here")
    with pytest.raises(RuntimeError, match="stand-in"):
        AudioProcessor(target_sample_rate=16000, mel_bins=64, mel_hop_length=160, n_fft=1024)
    assert getattr(sys.modules["torchaudio"], "__file__", None) is None
