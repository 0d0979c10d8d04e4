"""The README's commands for your own model, run exactly as written by a user in a clone
with their own folders, in both layouts the README accepts."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from devtools import ROOT
from devtools.processes import wait_until_serving
from tests.support import port_in_use
from training.synth import synth

README = (ROOT / "README.md").read_text()


def sh_block(heading: str) -> str:
    """The first ```sh block after heading."""
    return re.search(r"```sh\n(.*?)```", README[README.index(heading):], re.S).group(1)


def user_clone(where: Path) -> Path:
    """What a clone gives a user, sharing this checkout's code and .venv."""
    where.mkdir()
    for name in ("training", "chalicelib", "devtools", "scripts", ".venv", ".venv-serve"):
        (where / name).symlink_to(ROOT / name)
    return where


def photos(where: Path, layout: str) -> None:
    """my-photos/train|val|test/<class>/ as rendered, or flattened to my-photos/<class>/."""
    synth(where, per_class=10, seed=5, size=64)
    if layout == "flat":
        for image in list(where.glob("*/*/*.jpg")):
            split, label = image.parent.parent.name, image.parent.name
            (where / label).mkdir(exist_ok=True)
            image.rename(where / label / f"{split}-{image.name}")
        for split in ("train", "val", "test"):
            shutil.rmtree(where / split)


@pytest.fixture
def my_bucket(s3: Any) -> Iterator[str]:
    """The README's bucket, empty for each test (a version is published once)."""
    if "my-bucket" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="my-bucket")
    yield "my-bucket"
    for item in s3.list_objects_v2(Bucket="my-bucket").get("Contents", []):
        s3.delete_object(Bucket="my-bucket", Key=item["Key"])


@pytest.mark.parametrize("layout", ["split", "flat"])
def test_your_own_model_as_the_readme_says(layout: str, tmp_path: Path, my_bucket: str) -> None:
    user = user_clone(tmp_path / "clone")
    photos(user / "my-photos", layout)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", sh_block("## Serving a different model")], cwd=user,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (user / "build/mine/model.onnx").exists() and (user / "build/mine/eval/report.json").exists()
    assert result.stdout.strip().splitlines()[-1].startswith("s3://my-bucket/models/my-model/1.0.0/model")
    if layout == "flat":  # once is enough: serving does not depend on the layout
        serves_your_model(user, sh_block("To try it locally"), tmp_path / "serve.log")


def serves_your_model(user: Path, command: str, log: Path) -> None:
    if any(port_in_use(p) for p in (8000, 8333)):
        pytest.skip("the README's ports 8000 and 8333 are taken")
    with log.open("wb") as out:
        serve = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=user, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        wait_until_serving("http://127.0.0.1:8000/health", serve, 300, str(log))
        with urllib.request.urlopen("http://127.0.0.1:8000/model", timeout=60) as response:
            described = json.loads(response.read())
        assert described["name"] == "my-model" and described["version"] == "1.0.0"
        assert described["source_uri"] == "s3://local-models/models/my-model/1.0.0/model.onnx"
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
