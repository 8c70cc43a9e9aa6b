"""Reference side of the LTX-2 text-path parity tests: ltx-core's classes, random weights, files.

ltx-core's audio package imports `torchaudio`, which cannot be installed here: `ltx2_reference`
puts its inert stand-in in place first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import diffusers  # noqa: F401  (imported before the stand-in, see above)
import torch
import transformers  # noqa: F401

# ltx-core is imported only here, after the stand-in; the tests take its classes from this module.
from ltx_core.model.transformer.rope import LTXRopeType  # noqa: E402
from ltx_core.text_encoders.gemma.embeddings_connector import (  # noqa: E402
    AudioEmbeddings1DConnectorConfigurator,
    Embeddings1DConnector,
    Embeddings1DConnectorConfigurator,
)
from ltx_core.text_encoders.gemma.embeddings_processor import (  # noqa: E402
    EmbeddingsProcessor,
    convert_to_additive_mask,
)
from ltx_core.text_encoders.gemma.encoders.base_encoder import GemmaTextEncoder  # noqa: E402
from ltx_core.text_encoders.gemma.encoders.encoder_configurator import EmbeddingsProcessorConfigurator  # noqa: E402
from ltx_core.text_encoders.gemma.feature_extractor import FeatureExtractorV1, FeatureExtractorV2  # noqa: E402
from ltx_core.text_encoders.gemma.tokenizer import LTXVGemmaTokenizer  # noqa: E402
from safetensors.torch import save_file

from tests.parity import ltx2_reference  # noqa: F401  (installs the one torchaudio stand-in)

__all__ = [
    "AudioEmbeddings1DConnectorConfigurator",
    "Embeddings1DConnector",
    "Embeddings1DConnectorConfigurator",
    "EmbeddingsProcessor",
    "EmbeddingsProcessorConfigurator",
    "FeatureExtractorV1",
    "FeatureExtractorV2",
    "GemmaTextEncoder",
    "LTXRopeType",
    "LTXVGemmaTokenizer",
    "convert_to_additive_mask",
]


def randomize_(module: torch.nn.Module, seed: int, std: float = 0.2) -> torch.nn.Module:
    """Every parameter and persistent buffer drawn at random, so that norms and scalars are exercised."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if not tensor.is_floating_point() or name.endswith(("inv_freq", "embed_scale", "position_ids")):
                continue
            if name.endswith("layer_scalar"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * std)
    return module.eval()


def save_state_dict(state: dict[str, torch.Tensor], path: Path, config: dict[str, Any] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().contiguous() for key, value in state.items()}
    metadata = {"config": json.dumps(config)} if config is not None else None
    save_file(tensors, str(path), metadata=metadata)
    return path
