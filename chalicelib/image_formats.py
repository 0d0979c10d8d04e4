"""What images the service reads, and the pixel limit every decoder checks from a header
before it decodes a pixel. Light to import: app.py reads the media types at start."""

from __future__ import annotations

from chalicelib.errors import Code, PayloadTooLarge

# The one list of image formats the service reads: Pillow's format name → the media types a
# client sends it as. Not in imaging.py: app.py needs the types at start, and imaging's
# numpy and Pillow load only while the model downloads. Order matters: Pillow
# tries them in turn, and HEIF's plugin is registered only once a HEIF file arrives.
FORMATS = {
    "JPEG": ("image/jpeg",),
    "PNG": ("image/png",),
    "WEBP": ("image/webp",),
    "GIF": ("image/gif",),
    "BMP": ("image/bmp",),
    "TIFF": ("image/tiff",),
    "AVIF": ("image/avif",),
    "HEIF": ("image/heic", "image/heif"),  # iPhone photos: HEVC in a HEIF container
}
MEDIA_TYPES = tuple(media for types in FORMATS.values() for media in types)


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """The pixel limit, checked from an image's header before any pixel is decoded."""
    if width * height > max_pixels:
        raise PayloadTooLarge(
            Code.TOO_MANY_PIXELS,
            f"the image is {width}x{height} ({megapixels(width * height)}); the limit is {megapixels(max_pixels)}",
        )


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.3g} megapixels"
