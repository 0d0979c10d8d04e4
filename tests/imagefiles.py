"""Real image files of every kind the service must read, made in memory by the tests."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RED = (220, 30, 30)
GREEN = (30, 200, 40)
BLUE = (30, 40, 220)
GREY = (128, 128, 128)  # like none of the colour model's labels


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", size, colour)
    # An adaptive palette keeps the exact colour (the default web palette would round it).
    return image.quantize(4) if mode == "P" else image.convert(mode)


def jpeg(colour=RED, size=(64, 48), **params) -> bytes:
    return encode(solid(colour, size), "JPEG", quality=95, **params)


def png(colour=RED, size=(64, 48), mode="RGB") -> bytes:
    return encode(solid(colour, size, mode), "PNG")


def noisy_photo(size: tuple[int, int], colour=RED, seed: int = 0, spread: float = 25) -> Image.Image:
    """A photo-sized picture with noise, so JPEG cannot compress it to nothing."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(colour, spread, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def exif_rotated_jpeg(colour_top=RED, colour_bottom=BLUE) -> bytes:
    return encode(rotated_for_exif_6(colour_top, colour_bottom), "JPEG", quality=95, **_orientation(6))


def transparent_png() -> bytes:
    """Fully transparent RGBA whose hidden colour is black: composited on white it is white."""
    return encode(Image.new("RGBA", (32, 32), (0, 0, 0, 0)), "PNG")


def palette_with_transparency() -> bytes:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * (256 - 2) * 3)
    image.paste(1, (0, 0, 32, 16))
    return encode(image, "PNG", transparency=0)


def sixteen_bit_grey_png(level: int = 65535) -> bytes:
    return encode(Image.fromarray(np.full((24, 24), level, np.uint16)), "PNG")


def cmyk_jpeg(colour=RED) -> bytes:
    return encode(solid(colour, mode="CMYK"), "JPEG", quality=95)


def animated_gif(first=RED, second=BLUE) -> bytes:
    frames = [solid(first, mode="P"), solid(second, mode="P")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _orientation(orientation: int | None) -> dict[str, bytes]:
    if orientation is None:
        return {}
    exif = Image.Exif()
    exif[0x0112] = orientation
    return {"exif": exif.tobytes()}


def _sixteen_bit(image: Image.Image) -> np.ndarray:
    """An 8-bit RGB or RGBA picture as 16-bit samples, scaled as a 16-bit PNG's are."""
    return np.asarray(image, np.uint16) * 257


def heic(image: Image.Image, bits: int = 8, orientation: int | None = None, quality: int = 90) -> bytes:
    """A real HEIC (HEVC in HEIF, an iPhone camera's format), encoded by pillow-heif's
    libheif and x265; 10 bits per channel where asked. RGB or RGBA. quality -1: lossless."""
    import pillow_heif

    if bits == 8:
        heif = pillow_heif.from_pillow(image)
    else:
        heif = pillow_heif.from_bytes(mode=f"{image.mode};16", size=image.size, data=_sixteen_bit(image).tobytes())
    buffer = io.BytesIO()
    heif.save(buffer, format="HEIF", quality=quality, **_orientation(orientation))
    return buffer.getvalue()


def avif(image: Image.Image, bits: int = 8, orientation: int | None = None) -> bytes:
    """A real AVIF (AV1 in HEIF, modern Android cameras' and browsers' format): 8-bit from
    Pillow's own encoder, 10-bit from libavif's avifenc (Debian's libavif-bin)."""
    if bits == 8:
        return encode(image, "AVIF", quality=90, **_orientation(orientation))
    if shutil.which("avifenc") is None:
        raise RuntimeError("10-bit AVIF files are made by avifenc: apt install libavif-bin (./scripts/test does)")
    assert orientation is None and image.mode == "RGB"
    with tempfile.TemporaryDirectory() as folder:
        source, out = Path(folder) / "in.png", Path(folder) / "out.avif"
        source.write_bytes(rgb16_png(_sixteen_bit(image)))
        subprocess.run(
            ["avifenc", "--depth", "10", "--min", "0", "--max", "10", "-s", "8", str(source), str(out)],
            check=True,
            capture_output=True,
        )
        return out.read_bytes()


def rgb16_png(samples: np.ndarray) -> bytes:
    """16-bit RGB PNG (Pillow writes 16 bits only for greyscale)."""
    height, width, _ = samples.shape
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in samples)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rotated_for_exif_6(colour_top=RED, colour_bottom=BLUE) -> Image.Image:
    """Stored as a 60x40 landscape whose left half is colour_top; EXIF orientation 6
    (rotate 90° clockwise to view) turns it into a 40x60 portrait with colour_top on top."""
    image = Image.new("RGB", (60, 40), colour_bottom)
    image.paste(colour_top, (0, 0, 30, 40))
    return image


def heic_burst(first=BLUE, primary=RED) -> bytes:
    """A HEIC holding two images, the second marked primary (as a camera's burst or edit)."""
    import pillow_heif

    heif = pillow_heif.from_pillow(solid(first))
    heif.add_from_pillow(solid(primary))
    buffer = io.BytesIO()
    heif.save(buffer, format="HEIF", quality=90, primary_index=1)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = encode(noisy_photo((256, 256)), "JPEG", quality=90)
    return data[: len(data) // 2]


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG that declares width x height pixels (decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = zlib.compress(b"\x00" * (1 + (width + 7) // 8) * 64)  # only a few rows: truncated
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def gif_frame_bomb(width: int = 10000, height: int = 10000) -> bytes:
    """A 1x1 GIF whose first frame declares width x height pixels and "restore to
    background" disposal: Pillow sizes the disposal canvas from the frame, in Image.open."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    control = b"\x21\xf9\x04" + bytes([2 << 2]) + b"\x00\x00\x00\x00"  # disposal method 2
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return screen + control + descriptor + b"\x02\x02\x44\x01\x00\x3b"  # a few LZW bytes, the end


def multipart(parts: list[tuple[str, str | None, bytes, str]], boundary: str = "donutboundary42") -> tuple[bytes, str]:
    """(field name, filename or None, data, content type) parts → (body, Content-Type header)."""
    body = b""
    for name, filename, data, content_type in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += (
            (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n").encode()
            + data
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def planar_tiff(colour=RED, size=(40, 30), dtype: str = "uint16") -> bytes:
    """RGB in separate planes (PlanarConfiguration 2), as scientific software writes it:
    a valid TIFF Pillow cannot open. Floats are 0 to 1."""
    import tifffile

    scale = {"uint8": 1, "uint16": 257, "float32": 1 / 255}[dtype]
    planes = np.stack([np.full(size[::-1], c * scale) for c in colour]).astype(dtype)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, planes, planarconfig="separate", photometric="rgb")
    return buffer.getvalue()
