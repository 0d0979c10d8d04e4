"""Coverage-guided fuzz targets (atheris) for the two parsers that take a stranger's bytes:
image decoding (with preprocessing) and multipart upload parsing.

    python -m tests.fuzz_targets decode|multipart [libFuzzer flags] CORPUS_DIR

Run by tests/test_fuzz.py for a bounded time. A target fails, and libFuzzer saves the
input as crash-*, on any exception but the ApiError a client would be answered with,
on an answer that breaks the parser's promises, or when memory passes -rss_limit_mb.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from chalicelib import imaging, uploads
    from chalicelib.errors import ApiError
    from chalicelib.metadata import ModelMetadata

# Smaller than the service's 50 M so that each run stays fast; the code path is the same.
MAX_PIXELS = 4_000_000
MAX_BODY_BYTES = 1 << 20
META = ModelMetadata(
    name="fuzz",
    version="0",
    architecture="none",
    labels=("a", "b"),
    input_size=224,
    resize_size=256,
    mean=(0.5, 0.5, 0.5),
    std=(0.25, 0.25, 0.25),
)


def decode(data: bytes) -> None:
    try:
        image = imaging.decode(data, META.resize_size, MAX_PIXELS)
    except ApiError:
        return
    assert image.mode == "RGB" and image.width * image.height <= MAX_PIXELS, (image.mode, image.size)
    batch = imaging.preprocess(image, META)
    assert batch.shape == (1, 3, 224, 224) and str(batch.dtype) == "float32", (batch.shape, batch.dtype)


def multipart(data: bytes) -> None:
    """data: the boundary, a newline, then the body."""
    boundary, _, body = data.partition(b"\n")
    content_type = "multipart/form-data; boundary=" + boundary.decode("latin-1")
    try:
        image = uploads.image_bytes(content_type, body, MAX_BODY_BYTES)
    except ApiError:
        return
    assert 0 < len(image) <= len(body), (len(image), len(body))


TARGETS = {"decode": decode, "multipart": multipart}

if __name__ == "__main__":
    atheris.Setup([sys.argv[0], *sys.argv[2:]], TARGETS[sys.argv[1]])
    atheris.Fuzz()
