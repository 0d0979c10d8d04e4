"""Helpers the tests share that are not fixtures."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from chalicelib.model_store import ModelStore
from chalicelib.settings import Settings
from devtools import ROOT

FUZZ_REGRESSIONS = sorted((Path(__file__).parent / "fuzz-regressions").iterdir())  # inputs the fuzzer once failed on

# The test servers' one S3 identity (tests/conftest.py), not the project's local one.
TEST_CREDENTIALS = ("test-access-key", "test-secret-key")

# What Chromium sends with a plain form post.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def readme_sh_block(heading: str) -> str:
    """The first ```sh block after heading in the README: a command a user runs as written."""
    return _readme_block("sh", heading)


def readme_python(heading: str) -> str:
    """The first ```python block after heading in the README: code a user pastes as written."""
    return _readme_block("python", heading)


def _readme_block(language: str, heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return re.search(rf"```{language}\n(.*?)```", readme[readme.index(heading) :], re.S).group(1)  # type: ignore[union-attr]


def run_readme_block(heading: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """That command pasted into bash, which stops at its first failure."""
    block = readme_sh_block(heading)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def make_store(uri: str, cache_dir: Path, **env: str) -> ModelStore:
    return ModelStore(Settings.from_env({"MODEL_URI": uri, "MODEL_CACHE_DIR": str(cache_dir), **env}))


def app_for(env: dict[str, str]) -> ModuleType:
    """app.py imported as a Lambda container imports it, with this environment: a module
    of its own (its settings, store and routes are made at import), so that no test patches
    or reloads the shared `app` module."""
    spec = importlib.util.spec_from_file_location(f"app_{uuid.uuid4().hex}", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as environment:
        for name, value in env.items():
            environment.setenv(name, value)
        spec.loader.exec_module(module)
    return module


def cfn_lint(template: Path) -> None:
    """Fails on cfn-lint's errors (exit bit 2); its warnings and notes pass."""
    result = subprocess.run([sys.executable, "-m", "cfnlint", str(template)], capture_output=True, text=True)
    assert result.returncode & 2 == 0, f"cfn-lint found errors:\n{result.stdout}{result.stderr}"


def build_package(out: Path, *options: str) -> Path:
    """`chalice package` through devtools.lambda_build (Python 3.12, vendored ONNX Runtime),
    which must end by saying what it wrote and what comes next."""
    ran = subprocess.run(
        [sys.executable, "-m", "devtools.lambda_build", "package", *options, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if ran.returncode:
        raise subprocess.CalledProcessError(ran.returncode, ran.args, ran.stdout, ran.stderr)
    said = ran.stdout.strip().splitlines()[-1]
    assert said.startswith("wrote ") and f"{out / 'deployment.zip'} (" in said, said
    assert "next, with AWS credentials: " in said, said
    return out


def fastai_export(where: Path) -> Path:
    """A real fastai Learner (a ResNet-18 at random initialisation: nothing downloaded, 64
    px) fitted to nothing, saved by learn.export() as where/export.pkl."""
    from devtools.renders.pillow import synth
    from fastai.vision.all import ImageDataLoaders, Resize, resnet18, vision_learner

    synth(where / "fastai-photos", per_class=6, seed=4, size=64)
    dls = ImageDataLoaders.from_folder(
        where / "fastai-photos", train="train", valid="val", item_tfms=Resize(64), bs=4, num_workers=0
    )
    vision_learner(dls, resnet18, pretrained=False).export(where / "export.pkl")
    return where / "export.pkl"
