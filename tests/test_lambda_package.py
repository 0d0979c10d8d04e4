"""The real deployment package, built by `chalice package` under Python 3.12, fits Lambda."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.py312

MAX_ZIPPED = 45 * 1024 * 1024  # Lambda's direct upload: about 50 MB; headroom for users' code
MAX_UNPACKED = 160 * 1024 * 1024  # Lambda's limit: 250 MB, layers included
AMAZON_LINUX_2023_GLIBC = (2, 34)


def names(package: Path) -> list[str]:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        return archive.namelist()


def test_the_zip_fits_with_headroom(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    zipped = (package / "deployment.zip").stat().st_size
    assert zipped <= MAX_ZIPPED, f"{zipped / 2**20:.1f} MB zipped"
    assert unpacked <= MAX_UNPACKED, f"{unpacked / 2**20:.1f} MB unpacked"


def test_every_runtime_dependency_is_inside(package: Path) -> None:
    top = {name.split("/")[0] for name in names(package)}
    needed = {
        "app.py",
        "chalicelib",
        "chalice",
        "numpy",
        "PIL",
        "jinja2",
        "markupsafe",
        "python_multipart",
        "onnxruntime",
        "pi_heif",
    }
    assert needed <= top, needed - top
    assert "chalicelib/templates/index.html" in names(package)


def test_nothing_from_development_slipped_in(package: Path) -> None:
    top = {name.split("/")[0] for name in names(package)}
    for unwanted in (
        "training",
        "tests",
        "devtools",
        "demo",
        "bench",
        "scripts",
        "build",
        "data",
        "torch",
        "torchvision",
        "boto3",
        "botocore",
        "pytest",
        "onnx",
        "onnxscript",
        "playwright",
        "seaweedfs",
        "pillow_heif",
    ):
        assert unwanted not in top
    assert not [n for n in names(package) if n.startswith("onnxruntime/capi/libonnxruntime.so")]
    # Bytecode only for the Lambda's Python (devtools/chalice_bytecode.py), none from local runs.
    assert not [n for n in names(package) if n.endswith(".pyc") and ".cpython-312." not in n]


def test_binaries_are_for_python_3_12_on_amazon_linux_2023(package: Path, tmp_path: Path) -> None:
    libraries = [n for n in names(package) if re.search(r"\.so(\.|$)", n)]
    extensions = [n for n in libraries if ".cpython-" in n]
    assert extensions and all(".cpython-312-x86_64-linux-gnu.so" in n for n in extensions)
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) is missing: glibc versions unchecked")
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        archive.extractall(tmp_path, members=libraries)
    newest = max(
        (
            tuple(map(int, v))
            for lib in libraries
            for v in re.findall(
                r"GLIBC_(\d+)\.(\d+)",
                subprocess.run(["readelf", "-V", str(tmp_path / lib)], capture_output=True, text=True).stdout,
            )
        ),
    )
    assert newest <= AMAZON_LINUX_2023_GLIBC, f"needs glibc {newest}"


def test_the_template_is_a_python_3_12_function(package: Path) -> None:
    template = json.loads((package / "sam.json").read_text())
    function = template["Resources"]["APIHandler"]["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["Environment"]["Variables"]["MODEL_URI"].endswith(".onnx")
