"""The reference CLI's conditioning-media preparation (`ltx_video/inference.py`), runnable here.

`inference.py` imports torchvision (no CPU build here) and PyAV (not installed), so its
functions are compiled from the installed source against stand-ins: `TVF.to_tensor` and
`TVF.gaussian_blur` written after torchvision's own (odd kernel, sigma, reflect padding),
and a `crf_compressor.compress` chosen by the test: the reference's own CRF-0 behaviour
(identity) or its uint8 truncation without the codec.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Optional, Union

import imageio
import ltx_video
import numpy as np
import torch
import torch.nn.functional as F
from ltx_video.pipelines.pipeline_ltx_video import ConditioningItem, LTXVideoPipeline
from PIL import Image


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def gaussian_blur(image: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    half = (kernel_size - 1) * 0.5
    x = torch.linspace(-half, half, steps=kernel_size)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    kernel1d = pdf / pdf.sum()
    kernel = torch.mm(kernel1d[:, None], kernel1d[None, :]).expand(image.shape[0], 1, kernel_size, kernel_size)
    pad = kernel_size // 2
    padded = F.pad(image[None], [pad, pad, pad, pad], mode="reflect")
    return F.conv2d(padded, kernel, groups=image.shape[0])[0]


def compress_at_crf_zero(image: torch.Tensor) -> torch.Tensor:
    """`crf_compressor.compress(image, crf=0)`: the image unchanged."""
    return image


def compress_without_codec(image: torch.Tensor) -> torch.Tensor:
    """`crf_compressor.compress` without the codec: its even-size crop and uint8 truncation."""
    even = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]
    return (even * 255.0).byte().to(image.dtype) / 255.0


CLI_FUNCTIONS = (
    "load_image_to_tensor_with_resize_and_crop",
    "get_media_num_frames",
    "load_media_file",
    "prepare_conditioning",
)


def reference_cli(compress: Callable[[torch.Tensor], torch.Tensor]) -> SimpleNamespace:
    """The CLI's media functions (CLI_FUNCTIONS), with `compress` standing in for the CRF step."""
    source = (Path(ltx_video.__file__).parent / "inference.py").read_text()
    functions = [
        node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name in CLI_FUNCTIONS
    ]
    namespace = dict(
        Image=Image,
        torch=torch,
        imageio=imageio,
        Union=Union,
        List=list,
        Optional=Optional,
        ConditioningItem=ConditioningItem,
        LTXVideoPipeline=LTXVideoPipeline,
        logger=logging.getLogger("reference-inference"),
        TVF=SimpleNamespace(to_tensor=to_tensor, gaussian_blur=gaussian_blur),
        crf_compressor=SimpleNamespace(compress=compress),
    )
    exec(compile(ast.Module(body=functions, type_ignores=[]), "inference.py", "exec"), namespace)
    return SimpleNamespace(**{name: namespace[name] for name in CLI_FUNCTIONS})
