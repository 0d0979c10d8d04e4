"""The benchmark's uploads: a rendered donut as a phone would photograph it, at four sizes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from devtools.renders.pillow import render
from PIL import Image

# name → (Content-Type, size); the 12 MP one is a 4000x3000 phone photo.
SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png"}
KINDS = {
    "jpeg_224": ("image/jpeg", (224, 224)),
    "jpeg_1mp": ("image/jpeg", (1152, 864)),
    "jpeg_12mp": ("image/jpeg", (4000, 3000)),
    "png_1mp": ("image/png", (1152, 864)),
}


def make_images(seed: int = 4242) -> dict[str, tuple[str, bytes]]:
    base = render("donut", seed, 320)
    rng = np.random.default_rng(seed)
    images = {}
    for name, (content_type, size) in KINDS.items():
        # Upscaled, then sensor-like noise, so the files are as large as real photos.
        pixels = np.asarray(base.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        pixels = np.clip(pixels + rng.normal(0, 4, pixels.shape).astype(np.int16), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG" if content_type == "image/jpeg" else "PNG", quality=90)
        images[name] = (content_type, buffer.getvalue())
    return images


def write_images(folder: Path) -> None:
    """The processes being measured read these files, so that making them (a 12 MP
    image is slow to make) never counts in a cold start or a peak RSS."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (content_type, data) in make_images().items():
        (folder / f"{name}{SUFFIX[content_type]}").write_bytes(data)


def read_images(folder: Path) -> dict[str, tuple[str, bytes]]:
    return {
        name: (content_type, (folder / f"{name}{SUFFIX[content_type]}").read_bytes())
        for name, (content_type, _) in KINDS.items()
    }
