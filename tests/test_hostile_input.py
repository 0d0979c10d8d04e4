"""Whatever a client sends, the decode and upload paths answer with a client error or an
image: property-based (hypothesis) over bytes, real images and multipart bodies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from chalicelib.errors import ApiError
from chalicelib.image_formats import FORMATS
from chalicelib.imaging import decode, preprocess
from chalicelib.uploads import ACCEPTED_TYPES, image_bytes
from devtools import ROOT
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests import imagefiles as f
from tests.colour_model import COLOUR_META
from tests.support import FUZZ_REGRESSIONS

LIMIT = 50_000_000
CLIENT_ERRORS = {400, 413, 415}
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decodes_or_refuses(data: bytes) -> None:
    try:
        image = decode(data, 32, LIMIT)
    except ApiError as error:
        assert error.status in CLIENT_ERRORS and error.message
        return
    assert image.mode == "RGB"
    assert preprocess(image, COLOUR_META).shape == (1, 3, 32, 32)


@fast
@given(st.binary(max_size=4096))
def test_random_bytes_never_escape_as_anything_but_a_client_error(data: bytes) -> None:
    decodes_or_refuses(data)


@fast
@given(
    st.sampled_from(
        [
            f.jpeg(),
            f.png(),
            f.animated_gif(),
            f.encode(f.solid(f.RED), "TIFF"),
            f.encode(f.solid(f.RED), "WEBP"),
            f.encode(f.solid(f.RED), "BMP"),
        ]
    ),
    st.integers(0, 10_000),
    st.binary(min_size=1, max_size=64),
)
def test_damaged_real_images_are_read_or_refused(original: bytes, at: int, garbage: bytes) -> None:
    """A valid header with garbage after it, anywhere."""
    at = at % len(original)
    decodes_or_refuses(original[:at] + garbage + original[at + len(garbage) :])


@fast
@given(
    st.integers(1, 64),
    st.integers(1, 64),
    st.sampled_from(["RGB", "RGBA", "L", "LA", "P", "1", "CMYK", "I;16"]),
    st.sampled_from(list(FORMATS)),
    st.integers(0, 2**32 - 1),
)
def test_every_real_image_decodes_to_rgb(width: int, height: int, mode: str, fmt: str, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert("L" if mode == "I;16" else mode if mode != "P" else "RGB")
    if mode == "P":
        image = image.quantize(16)
    elif mode == "I;16":
        image = image.convert("I;16")
    try:  # the service only reads HEIF: pillow-heif writes it
        data = f.heic(image) if fmt == "HEIF" else f.encode(image, fmt)
    except (OSError, ValueError, KeyError):
        assume(False)  # Pillow cannot write this mode in this format: no client could send it
    decoded = decode(data, 64, LIMIT)  # no JPEG draft reduction below 64 px
    assert decoded.mode == "RGB" and decoded.size == (width, height)


@fast
@given(
    st.sampled_from(ACCEPTED_TYPES + ("text/plain", "", "multipart/form-data; boundary=", "image/*")),
    st.binary(max_size=2048),
)
def test_any_body_under_any_type_is_an_image_or_a_client_error(content_type: str, body: bytes) -> None:
    try:
        data = image_bytes(content_type, body, 6 * 1024 * 1024)
    except ApiError as error:
        assert error.status in CLIENT_ERRORS
        return
    decodes_or_refuses(data)


@fast
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["file", "image", "note", ""]),
            st.one_of(st.none(), st.text(max_size=12)),
            st.binary(max_size=256),
        ),
        max_size=4,
    ),
    st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=40),
)
def test_any_multipart_body_is_a_file_or_a_client_error(parts, boundary: str) -> None:
    body, content_type = f.multipart(
        [(name, filename, data, "image/png") for name, filename, data in parts], boundary=boundary
    )
    try:
        image_bytes(content_type, body, 6 * 1024 * 1024)
    except ApiError as error:
        assert error.status in CLIENT_ERRORS


@pytest.mark.parametrize("width, height", [(3000, 1), (1, 3000), (1, 1), (65535, 1)])
def test_extreme_shapes_decode_and_preprocess(width: int, height: int) -> None:
    """Valid images within the pixel limit, however thin: each must decode, not be refused."""
    image = decode(f.encode(Image.new("RGB", (width, height), f.RED), "PNG"), 32, LIMIT)
    assert image.mode == "RGB"
    assert preprocess(image, COLOUR_META).shape == (1, 3, 32, 32)


PEAK_GROWTH = """
import sys
from chalicelib.errors import ApiError
from chalicelib.imaging import decode

def peak_kb():  # this process's own high-water mark (getrusage's would include its parent's)
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1])

data = sys.stdin.buffer.read()
before = peak_kb()
try:
    decode(data, 32, int(sys.argv[1]))
except ApiError as error:
    print(error.status)
else:
    print(200)
print(peak_kb() - before)
"""


def refusal_and_peak_growth_kb(data: bytes, limit: int = LIMIT) -> tuple[int, int]:
    """The status decode answers with, and how far a fresh interpreter's peak RSS grew:
    that counts what Pillow's and tifffile's C code allocate (tracemalloc sees only Python's)."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_GROWTH, str(limit)], input=data, cwd=ROOT, capture_output=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.parametrize(
    "bomb",
    [
        f.png_bomb(30000, 30000),
        f.png_bomb(100000, 1),
        f.encode(Image.new("P", (1, 1)), "GIF").replace(b"\x01\x00\x01\x00", b"\xff\xff\xff\xff", 1),
        f.gif_frame_bomb(),
    ],
    ids=["png-square", "png-line", "gif-screen", "gif-frame"],
)
def test_bombs_are_refused_before_pixels_are_allocated(bomb: bytes) -> None:
    status, grown_kb = refusal_and_peak_growth_kb(bomb)
    assert status in (200, 413) and grown_kb < 20 * 1024


@pytest.mark.parametrize("path", FUZZ_REGRESSIONS, ids=lambda p: p.name)
def test_inputs_the_fuzzer_broke_decoding_with_are_refused_in_bounded_memory(path: Path) -> None:
    status, grown_kb = refusal_and_peak_growth_kb(path.read_bytes())
    assert status in CLIENT_ERRORS and grown_kb < 20 * 1024


@pytest.mark.parametrize("make", [f.avif, f.heic], ids=["avif", "heic"])
def test_phone_photos_over_the_pixel_limit_are_refused_before_decoding(make) -> None:
    photo = make(f.solid(f.RED, (3000, 3000)))
    status, grown_kb = refusal_and_peak_growth_kb(photo, limit=3000 * 3000 - 1)
    assert status == 413 and grown_kb < 20 * 1024
    status, grown_kb = refusal_and_peak_growth_kb(photo, limit=3000 * 3000)
    assert status == 200 and grown_kb > 27 * 1024  # decoded, its 27 MB of RGB are counted
