"""Checks of the single values a person types: seeds, frame rates, quality, counts, text.

One sentence per refusal, the same wherever the value comes from: the request
(`GenerationRequest.validate`), the command line's arguments (the `*_argument`
parsers, for argparse's `type=`) and the stitcher all call these, before any
model loads or any file is written.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, TypeVar

from ltx_mlx_core.errors import InvalidRequest

T = TypeVar("T")

# mx.random.key takes an unsigned 64-bit seed.
SEED_LIMIT = 2**64
CRF_MIN, CRF_MAX = 0, 51  # libx264's range: 0 lossless … 51 worst
MAX_FPS = 1000.0


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_seed(seed: Any) -> int:
    if not _is_whole(seed) or not 0 <= seed < SEED_LIMIT:
        raise InvalidRequest(f"a seed must be a whole number from 0 to 2^64-1 ({SEED_LIMIT - 1}); got {seed}.")
    return seed


def check_fps(fps: Any, name: str = "fps") -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
        raise InvalidRequest(f"{name} must be a number above 0 and at most {MAX_FPS:g}; got {fps}.")
    return float(fps)


def check_crf(crf: Any) -> int:
    if not _is_whole(crf) or not CRF_MIN <= crf <= CRF_MAX:
        raise InvalidRequest(f"CRF must be a whole number from {CRF_MIN} (lossless) to {CRF_MAX}; got {crf}.")
    return crf


def check_whole(value: Any, name: str, minimum: int) -> int:
    if not _is_whole(value) or value < minimum:
        raise InvalidRequest(f"{name} must be a whole number of at least {minimum}; got {value}.")
    return value


def check_text(text: Any, name: str) -> str:
    """Text we can tokenise and write to a JSON sidecar: a str that encodes as UTF-8.

    Command-line bytes that are not UTF-8 reach Python as lone surrogates (PEP 383);
    they would fail deep in the tokenizer or when the sidecar is written.
    """
    if not isinstance(text, str):
        raise InvalidRequest(f"the {name} must be text; got {type(text).__name__}.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidRequest(
            f"the {name} is not valid UTF-8 text (undecodable bytes at character {error.start + 1}); "
            "check the encoding of the terminal or script that passes it."
        ) from None
    return text


def _argument(convert: Callable[[str], T], check: Callable[[T], T], expected: str) -> Callable[[str], T]:
    """An argparse `type=`: argparse shows an ArgumentTypeError's text as is (other errors it rewords)."""

    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got '{text}'") from None
        try:
            return check(value)
        except InvalidRequest as error:
            raise argparse.ArgumentTypeError(str(error).rstrip(".")) from None

    parse.__name__ = expected
    return parse


def whole_number_argument(minimum: int) -> Callable[[str], int]:
    return _argument(int, lambda value: check_whole(value, "the value", minimum), "a whole number")


positive_int = whole_number_argument(1)
fps_argument = _argument(float, check_fps, "a frame rate")
crf_argument = _argument(int, check_crf, "a whole number")
