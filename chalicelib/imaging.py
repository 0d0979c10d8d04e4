"""Image bytes → RGB picture → the array a model's metadata asks for.

Decoding is bounded: the pixel count is checked from the header before any pixel is
allocated, and JPEGs are decoded at the smallest DCT scale that still covers the model's
resize size (a 12 MP photo is never fully decoded to feed a 224 px model).
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from chalicelib import heif
from chalicelib.errors import BadRequest, Code, PayloadTooLarge
from chalicelib.image_formats import FORMATS, MEDIA_TYPES, check_pixels, megapixels
from chalicelib.metadata import ModelMetadata

_SIXTEEN_BIT_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N"}
_WHITE = (255, 255, 255)


def decode(data: bytes, min_side: int, max_pixels: int) -> Image.Image:
    """Decodes the first frame of an image into upright RGB.

    The shorter side of the result is at least min_side unless the source is smaller.
    """
    if not data:
        raise BadRequest(Code.EMPTY_BODY, "the request body is empty: send the image bytes")
    # Pillow refuses above twice its MAX_IMAGE_PIXELS, and checks inside its plugins too,
    # before check_pixels below can see the header: a GIF's first frame may declare a
    # disposal canvas far beyond the screen size, which Image.open itself allocates and
    # fills (found by tests/test_fuzz.py: 1.2 GB from a 54-byte GIF).
    Image.MAX_IMAGE_PIXELS = max_pixels // 2
    formats = list(FORMATS)
    if heif.is_heif(data):
        heif.register()
    else:
        formats.remove("HEIF")  # its parser sees only what says it is HEIF
    try:
        with warnings.catch_warnings():
            # Pillow warns of its own bomb limit (ours below decides) and of a file's oddities
            # ("Tag data larger than file"): client-made noise in the logs, never ours to act on.
            warnings.simplefilter("ignore")
            image: Image.Image = Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as exc:  # Pillow's words name a "DOS attack": ours do not
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({megapixels(int(declared[1]))})" if declared else ""
        raise PayloadTooLarge(
            Code.TOO_MANY_PIXELS, f"the image{size} is over the limit of {megapixels(max_pixels)}"
        ) from exc
    except Exception as exc:  # Pillow's parsers raise more than OSError on hostile bytes: see below
        from chalicelib import tiff  # only for a body Pillow cannot open

        if tiff.is_tiff(data):  # a TIFF variant Pillow lacks (planar RGB, float samples…)
            return to_rgb(tiff.read(data, max_pixels))
        raise BadRequest(
            Code.NOT_AN_IMAGE,
            # No "the body": the folder check says the same of a training photo, its file named.
            "not an image in a supported format (" + ", ".join(sorted(MEDIA_TYPES)) + ")",
        ) from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise BadRequest(Code.CORRUPT_IMAGE, "the image has no pixels")
    check_pixels(width, height, max_pixels)
    if image.format in ("JPEG", "MPO"):  # MPO: phone cameras' multi-picture JPEGs
        image.draft("RGB", (min_side, min_side))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.load()
            image = ImageOps.exif_transpose(image)
    except Exception as exc:
        # Whatever Pillow raises while reading a stranger's bytes means the bytes are bad:
        # not only OSError and ValueError, but TypeError for a TIFF whose strip offset is a
        # float (found by tests/test_fuzz.py), DecompressionBombError for a bomb in a frame.
        raise BadRequest(Code.CORRUPT_IMAGE, f"the image data is corrupt or truncated ({exc})") from exc
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Converts any Pillow mode to RGB; transparency is composited on white."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own I→L conversion clips at 255 instead of scaling 16-bit values.
        wide = np.asarray(image, dtype=np.float32)
        image = Image.fromarray(np.clip(wide / 257.0, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image if image.mode == "RGB" else image.convert("RGB")


def preprocess(image: Image.Image, meta: ModelMetadata) -> np.ndarray:
    """Resize (shorter side to resize_size), centre-crop to input_size and normalise.

    Returns float32 NCHW with N = 1."""
    return normalise(centre_square(image, meta.resize_size, meta.input_size), meta)


def centre_square(image: Image.Image, resize_size: int, input_size: int) -> np.ndarray:
    """uint8 (input_size, input_size, 3): the centre crop of the image resized to a
    resize_size shorter side. Only the crop's source region is resampled, so the cost
    and memory stay bounded whatever the aspect ratio (3000x1 included)."""
    square = image.resize(
        (input_size, input_size), Image.Resampling.BILINEAR, box=crop_box(image.size, resize_size, input_size)
    )
    return np.asarray(square)


def crop_box(size: tuple[int, int], resize_size: int, input_size: int) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in the image's pixels: the square the model sees."""
    width, height = size
    crop = input_size * min(width, height) / resize_size  # the crop's side in source pixels
    left, top = (width - crop) / 2, (height - crop) / 2
    return left, top, left + crop, top + crop


def normalise(pixels: np.ndarray, meta: ModelMetadata) -> np.ndarray:
    """uint8 HWC pixels → float32 NCHW (N = 1), normalised as the metadata says."""
    std = np.asarray(meta.std, dtype=np.float32)
    normalised = pixels.astype(np.float32) * (1.0 / (255.0 * std)) - np.asarray(meta.mean, dtype=np.float32) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])
