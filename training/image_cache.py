"""Training images decoded once: each file is decoded as the service decodes it (JPEGs in
Pillow's draft mode), shrunk to the side training needs, and kept on disk keyed by the
file's content and that side, so that the folder check, training, calibration and export,
in this run and the next, never decode the same photo twice.

The cache lives in $XDG_CACHE_HOME/donut-or-not/images (~/.cache/… by default): one .npy
file of RGB bytes per image and side, written atomically; deleting the folder is safe.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from chalicelib.errors import ApiError
from chalicelib.imaging import decode

_NO_PIXEL_LIMIT = 10**12  # training photos are the user's own: no decompression-bomb guard


class UnreadableImage(ValueError):
    """An image file that does not decode; the message says why."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "donut-or-not" / "images"


def load(path: Path, side: int) -> Image.Image:
    """path's picture, upright RGB, its shorter side shrunk to side (never enlarged)."""
    data = path.read_bytes()
    cached = cache_dir() / f"{hashlib.sha256(data).hexdigest()}-{side}.npy"
    try:
        return Image.fromarray(np.load(cached, allow_pickle=False), "RGB")
    except (OSError, ValueError):  # not cached yet, or a file another run left half-written
        pass
    image = decoded(data, side)
    scale = side / min(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.BILINEAR, reducing_gap=3.0)
    _store(cached, np.asarray(image))
    return image


def decoded(data: bytes, side: int) -> Image.Image:
    """The picture exactly as the service decodes an upload (a JPEG drafted to no less
    than side), never shrunk further: what evaluation must see."""
    try:
        return decode(data, side, _NO_PIXEL_LIMIT)
    except ApiError as exc:
        raise UnreadableImage(exc.message) from exc


def _store(path: Path, pixels: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=".npy")
    except OSError:
        return  # a read-only cache only costs a decode next time
    try:
        with os.fdopen(fd, "wb") as file:
            np.save(file, pixels, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # nor does a full one
    finally:
        Path(tmp).unlink(missing_ok=True)
