"""A bounded coverage-guided fuzz run (atheris) of decoding and multipart parsing, each in
its own process, from seeds of every supported kind. FUZZ_SECONDS sets the time per target."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from devtools import ROOT

from tests import imagefiles as f
from tests.support import FUZZ_REGRESSIONS

pytestmark = pytest.mark.fuzz
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "40"))


def image_seeds() -> list[bytes]:
    return [
        *(path.read_bytes() for path in FUZZ_REGRESSIONS),
        f.jpeg(),
        f.png(),
        f.exif_rotated_jpeg(),
        f.transparent_png(),
        f.palette_with_transparency(),
        f.sixteen_bit_grey_png(),
        f.cmyk_jpeg(),
        f.animated_gif(),
        f.truncated_jpeg(),
        f.png_bomb(),
        *(f.encode(f.solid((10, 200, 30), (9, 7)), fmt) for fmt in ("WEBP", "BMP", "TIFF", "GIF")),
        f.planar_tiff(size=(9, 7), dtype="float32"),  # read by tifffile, not Pillow
        f.avif(f.solid((10, 200, 30), (9, 7), "RGBA")),
        f.heic(f.solid((10, 200, 30), (9, 7)), bits=10),
    ]


def multipart_seeds() -> list[bytes]:
    bodies = [
        f.multipart([("file", "a.jpg", f.jpeg(), "image/jpeg")]),
        f.multipart([("other", None, b"x", "text/plain"), ("file", "b.png", f.png(), "image/png")]),
        f.multipart([("file", "a.jpg", b"", "image/jpeg"), ("file", "b.jpg", f.jpeg(), "image/jpeg")]),
        f.multipart([("picture", "a.jpg", f.jpeg(), "image/jpeg")], boundary="b"),
    ]
    return [content_type.split("boundary=")[1].encode() + b"\n" + body for body, content_type in bodies]


@pytest.mark.parametrize("target, seeds", [("decode", image_seeds), ("multipart", multipart_seeds)])
def test_fuzzing_finds_nothing(target: str, seeds, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(seeds()):
        (corpus / f"seed-{i}").write_bytes(seed)
    # libFuzzer's memory check reads getrusage's peak RSS, which exec carries over from the
    # process that started it (this test runner, often past 1 GB): a shell in between
    # forks first, and a forked child counts afresh.
    result = subprocess.run(
        [
            "sh",
            "-c",
            '"$@"; exit $?',
            "fuzz",
            sys.executable,
            "-m",
            "tests.fuzz_targets",
            target,
            f"-max_total_time={FUZZ_SECONDS}",
            "-rss_limit_mb=1024",
            "-timeout=10",
            "-max_len=65536",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
    )
    crashes = [p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "oom-", "timeout-", "leak-"))]
    assert result.returncode == 0 and not crashes, f"{crashes}\n{result.stderr[-4000:]}"
    runs = int(re.findall(r"Done (\d+) runs", result.stderr)[-1])
    assert runs > 500, result.stderr[-2000:]  # it really ran, past the seeds
