"""The README's commands for your own model, run exactly as written by a user in a clone
with their own folders, in both layouts the README accepts."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from devtools import ROOT
from devtools.processes import port_in_use, wait_until_serving
from devtools.renders.pillow import synth
from devtools.venvs import ensure_serve_venv

from tests.support import fastai_export, run_readme_block
from tests.support import readme_sh_block as sh_block

pytestmark = pytest.mark.slow


def user_clone(where: Path) -> Path:
    """What a clone gives a user: the project's files (so its .local-s3/ and build/ are the
    clone's own), with this checkout's environments."""
    where.mkdir()
    for name in ("training", "chalicelib", "devtools", "scripts", ".chalice"):
        shutil.copytree(ROOT / name, where / name, ignore=shutil.ignore_patterns("__pycache__", "deployments"))
    for name in ("app.py", "requirements.txt", "requirements-vendored.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, where / name)
    ensure_serve_venv()  # the clone's scripts find it set up, whichever test made it first
    for name in (".venv", ".venv-serve"):
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


@pytest.mark.skipif(any(port_in_use(p) for p in (8000, 8333)), reason="the README's ports 8000 and 8333 are taken")
@pytest.mark.parametrize("layout", ["split", "flat"])
def test_your_own_model_as_the_readme_says(layout: str, tmp_path: Path) -> None:
    user = user_clone(tmp_path / "clone")
    photos(user / "my-photos", layout)
    try:
        result = run_readme_block("## Serving a different model", user, timeout=900)
    finally:
        subprocess.run(["./scripts/local-s3", "stop"], cwd=user, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "export AWS_ENDPOINT_URL_S3=http://127.0.0.1:8333" in result.stdout  # what local-s3 start prints
    assert (user / "build/mine/model.onnx").exists() and (user / "build/mine/eval/report.json").exists()
    assert "\ns3://my-bucket/models/my-model/1.0.0/model.onnx\n" in result.stdout  # publish's MODEL_URI
    if layout == "flat":  # once is enough: serving does not depend on the layout
        serves_your_model(user, sh_block("To try it locally"), tmp_path / "serve.log")


@pytest.mark.skipif(any(port_in_use(p) for p in (8000, 8333)), reason="the README's ports 8000 and 8333 are taken")
def test_a_model_you_already_have_as_the_readme_says(tmp_path: Path) -> None:
    user = user_clone(tmp_path / "clone")
    fastai_export(user)
    photos(user / "my-photos", "flat")
    result = run_readme_block("## Serving a model you already have", user, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "read export.pkl as fastai Learner" in result.stdout and "none-rule: " in result.stdout
    serves_your_model(user, sh_block("Then serve it as your own model"), tmp_path / "serve.log")


def serves_your_model(user: Path, command: str, log: Path) -> None:
    with log.open("wb") as out:
        serve = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=user, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_serving("http://127.0.0.1:8000/health", serve, 300, str(log))
        with urllib.request.urlopen("http://127.0.0.1:8000/model", timeout=60) as response:
            described = json.loads(response.read())
        assert described["name"] == "my-model" and described["version"] == "1.0.0"
        assert described["source_uri"] == "s3://local-models/models/my-model/1.0.0/model.onnx"
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
