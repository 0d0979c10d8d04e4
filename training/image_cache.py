"""Training images decoded once: each file is decoded as the service decodes an upload
(JPEGs in Pillow's draft mode), resized and centre-cropped as the service does, and the
resulting pixels (the model's input before normalising) are kept on disk keyed by the
file's content and the model's sizes. The folder check, training, calibration, export and
evaluation, in this run and the next, read those: no photo is decoded twice, and none is
scored otherwise than the service would score it.

The cache lives in $XDG_CACHE_HOME/donut-or-not/images (~/.cache/… by default): one file
of raw RGB bytes per image and size, written atomically; deleting the folder is safe.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np
from chalicelib.errors import ApiError
from chalicelib.imaging import centre_square, decode
from chalicelib.model_cache import write_atomically

_NO_PIXEL_LIMIT = 10**12  # training photos are the user's own: no decompression-bomb guard


class UnreadableImage(ValueError):
    """An image file that does not decode; the message says why."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "donut-or-not" / "images"


def service_view(path: Path, resize_size: int, input_size: int) -> np.ndarray:
    """uint8 (input_size, input_size, 3): exactly what the service would feed a model of
    these sizes for this file as an upload, before normalising."""
    data = path.read_bytes()
    cached = cache_dir() / f"{hashlib.sha256(data).hexdigest()}-{resize_size}-{input_size}.rgb"
    shape = (input_size, input_size, 3)
    # Raw bytes, not .npy: np.load parses its header with ast, which CPython 3.11 cannot do
    # from several threads at once (gh-106905), and the folder check and features read in threads.
    try:
        stored = cached.read_bytes()
    except OSError:  # not cached yet
        stored = b""
    if len(stored) == math.prod(shape):
        return np.frombuffer(bytearray(stored), np.uint8).reshape(shape)
    try:
        pixels = centre_square(decode(data, resize_size, _NO_PIXEL_LIMIT), resize_size, input_size)
    except ApiError as exc:
        raise UnreadableImage(exc.message) from exc
    _store(cached, pixels)
    return pixels


def _store(path: Path, pixels: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, np.ascontiguousarray(pixels).tobytes(), durable=False)
    except OSError:
        pass  # a read-only or full cache only costs a decode next time
