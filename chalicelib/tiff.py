"""TIFF variants Pillow cannot open, read with tifffile: planar RGB (PlanarConfiguration 2,
as scientific and scanning software write it), float samples, and other sample layouts.

tifffile is imported only when such a file arrives: never on the cold-start path.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from chalicelib.errors import ApiError, BadRequest, Code, PayloadTooLarge
from chalicelib.image_formats import check_pixels

SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}  # samples per pixel → Pillow mode
BYTES_PER_PIXEL_LIMIT = 4  # decoded bytes a pixel may take, as RGBA; float64 RGB would take 24


# Tags TIFF allows one value in. tifffile reads a tag with several as a tuple, and then
# multiplies it out as a size (the fuzzer: an ImageDepth of three values, times 266
# million strips, made a 1.9 GB tuple from a 344-byte file).
_SINGLE_VALUED = {
    254: "NewSubfileType",
    256: "ImageWidth",
    257: "ImageLength",
    259: "Compression",
    262: "PhotometricInterpretation",
    274: "Orientation",
    277: "SamplesPerPixel",
    278: "RowsPerStrip",
    284: "PlanarConfiguration",
    317: "Predictor",
    322: "TileWidth",
    323: "TileLength",
    32997: "ImageDepth",
    32998: "TileDepth",
}

# Bytes per value of each TIFF field type (TIFF 6.0 and BigTIFF); others count as one.
_TYPE_SIZES = {3: 2, 4: 4, 5: 8, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}


def is_tiff(data: bytes) -> bool:
    return data[:4] in SIGNATURES


def check_first_directory(data: bytes) -> None:
    """Refuses a first image directory whose entries claim more values than the file could
    hold: tifffile allocates what a tag's count says (the fuzzer found a StripOffsets count
    of 50 million in a 300-byte file, 1.4 GB), so the counts are bounded by the file first;
    and one that gives a single-valued tag several values."""
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")
    try:
        if big:
            (offset,) = struct.unpack_from(order + "Q", data, 8)
            (entries,) = struct.unpack_from(order + "Q", data, offset)
            entry, layout, first = 20, order + "HHQ", offset + 8
        else:
            (offset,) = struct.unpack_from(order + "I", data, 4)
            (entries,) = struct.unpack_from(order + "H", data, offset)
            entry, layout, first = 12, order + "HHI", offset + 2
        if first + entries * entry > len(data):
            raise ValueError(f"{entries} directory entries run past the end of the file")
        for index in range(entries):
            tag, kind, count = struct.unpack_from(layout, data, first + index * entry)
            if tag in _SINGLE_VALUED and count != 1:
                raise ValueError(f"tag {tag} ({_SINGLE_VALUED[tag]}) holds {count} values; TIFF allows one")
            if count * _TYPE_SIZES.get(kind, 1) > len(data):
                raise ValueError(f"tag {tag} claims {count} values, more than the file's {len(data)} bytes hold")
    except (struct.error, ValueError, OverflowError) as exc:  # OverflowError: an offset past any file
        raise BadRequest(Code.CORRUPT_IMAGE, f"the TIFF's first image directory is corrupt: {exc}") from exc


def read(data: bytes, max_pixels: int) -> Image.Image:
    """The first image of a TIFF as 8-bit L, RGB or RGBA; the pixel limit is checked from
    the header, before any pixel is decoded. A variant that cannot be read is a 400 that
    names it, never "not an image"."""
    import tifffile

    check_first_directory(data)
    variant = "TIFF"
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages.first
            variant = (
                f"TIFF, {_name(page.planarconfig)} planes, {page.samplesperpixel} samples of "
                f"{page.dtype}, {_name(page.compression)} compression"
            )
            width, height = page.imagewidth, page.imagelength
            check_pixels(width, height, max_pixels)
            if page.nbytes > BYTES_PER_PIXEL_LIMIT * max_pixels:
                raise PayloadTooLarge(
                    Code.TOO_MANY_PIXELS,
                    f"the image's samples ({variant}) would take {page.nbytes} "
                    f"bytes decoded; the limit is {BYTES_PER_PIXEL_LIMIT * max_pixels}",
                )
            pixels = _upright_samples(page.asarray(), page.axes, height, width)
    except ApiError:
        raise
    except Exception as exc:  # tifffile's errors on a stranger's bytes share no narrower base
        # A codec this deployment lacks: tifffile needs imagecodecs (not shipped) for most
        # compressions and says so, or fails to import the module it would decode with.
        if isinstance(exc, ImportError) or "imagecodecs" in str(exc):
            raise BadRequest(Code.UNSUPPORTED_IMAGE, f"this image ({variant}) cannot be read by this service") from exc
        raise BadRequest(Code.CORRUPT_IMAGE, f"this image ({variant}) is corrupt or truncated: {exc}") from exc
    mode = _MODES.get(pixels.shape[-1])
    if mode is None or pixels.dtype.kind not in "biuf":
        raise BadRequest(Code.UNSUPPORTED_IMAGE, f"this image ({variant}) has a sample layout the service cannot read")
    eight = _eight_bit(pixels)
    return Image.fromarray(eight[..., 0] if mode == "L" else eight, mode)


def _upright_samples(pixels: np.ndarray, axes: str, height: int, width: int) -> np.ndarray:
    """(height, width, samples), whichever order the file stores them in."""
    if height < 1 or width < 1:
        raise ValueError("the image has no pixels")
    if axes.startswith("S"):  # planar: samples first
        pixels = np.moveaxis(pixels, 0, -1)
    return pixels.reshape(height, width, -1)


def _eight_bit(pixels: np.ndarray) -> np.ndarray:
    """Integers scaled by their type's range, floats taken as 0 to 1 (0 to 255 when larger)."""
    if pixels.dtype.kind == "f":
        wide = np.nan_to_num(pixels.astype(np.float32))
        scaled = wide * 255 if wide.size and wide.max() <= 1 else wide
        return np.clip(scaled, 0, 255).astype(np.uint8)
    if pixels.dtype == np.bool_:
        return pixels.astype(np.uint8) * 255
    info = np.iinfo(pixels.dtype)
    shifted = pixels.astype(np.float64) - info.min
    return np.clip(shifted * (255 / (info.max - info.min)), 0, 255).astype(np.uint8)


def _name(value: object) -> str:
    """A tifffile enum's name in lower case; a value the enum lacks as its number."""
    return str(getattr(value, "name", value)).lower()
