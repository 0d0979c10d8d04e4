"""HEIC/HEIF photos (iPhone cameras' default): HEVC images in an ISO media container,
decoded by pi-heif's bundled libheif. AVIF shares the container, and Pillow reads it itself.

The plugin is registered when the first HEIF body arrives, so a cold start that never
sees one never imports it.
"""

from __future__ import annotations

import functools

# ftyp brands of HEVC-coded HEIF files (ISO/IEC 23008-12). "mif1" alone says only "an
# image in this container", and AVIF files carry it too.
_HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_MAX_BRANDS_BYTES = 256  # an ftyp box lists a handful; a longer one is read no further


def is_heif(data: bytes) -> bool:
    """Whether data starts with an ftyp box naming an HEVC-coded HEIF brand."""
    if data[4:8] != b"ftyp":
        return False
    end = min(int.from_bytes(data[:4], "big"), len(data), _MAX_BRANDS_BYTES)
    brands = {data[8:12], *(data[i : i + 4] for i in range(16, end - 3, 4))}  # 12:16 is the minor version
    return not brands.isdisjoint(_HEVC_BRANDS)


@functools.cache
def register() -> None:
    """Adds Pillow's "HEIF" format (decoding only). pi-heif decodes the primary image, as
    its container's transforms (rotation, mirroring) say, and 10- and 12-bit images to
    8 bits per channel. Thumbnails, depth maps and auxiliary images are never read."""
    from pi_heif import register_heif_opener

    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
