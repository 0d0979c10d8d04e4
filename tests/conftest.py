"""Shared fixtures: a tiny real model, a real SeaweedFS S3 server, and models published to it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
import torch
from torch import nn

from chalicelib.metadata import ModelMetadata, NoneRule
from chalicelib.model_store import ModelStore
from chalicelib.settings import Settings
from devtools import ROOT
from devtools.local_chalice import chalice_local, copy_project
from devtools.local_s3 import LocalS3
from training.export import export
from training.publish import publish

COLOUR_LABELS = ("blue", "green", "red")  # not in channel order, so a label mix-up shows


class MeanColour(nn.Module):
    """Scores each label by the mean of one colour channel: a model whose right answer
    a test can know (red picture → "red"), built in milliseconds."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[0.0, 0, 4], [0, 4, 0], [4, 0, 0]]))
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


COLOUR_META = ModelMetadata(
    name="test-colours",
    version="1",
    architecture="mean-colour",
    labels=COLOUR_LABELS,
    input_size=32,
    resize_size=36,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    # A clear red, green or blue passes; grey (top probability about 0.6) is "none of these".
    none_rule=NoneRule("max_probability", 0.9, "recognised when the top label's probability is at least 0.9"),
)


def colour_batch() -> torch.Tensor:
    """Real pictures for the export's parity check: one of each colour, and a mixture."""
    from chalicelib.imaging import preprocess
    from tests.imagefiles import BLUE, GREEN, RED, noisy_photo, solid

    images = [solid(c) for c in (RED, GREEN, BLUE)] + [noisy_photo((64, 64), (120, 110, 100))]
    return torch.cat([torch.from_numpy(preprocess(image, COLOUR_META)) for image in images])


@pytest.fixture(scope="session", params=[".pt", ".onnx"], ids=["torchscript", "onnx"])
def colour_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The colour model in each runtime's format: tests that use it run once per runtime."""
    path = tmp_path_factory.mktemp("models") / f"colours{request.param}"
    export(MeanColour(), COLOUR_META, path, colour_batch())
    return path


@pytest.fixture(scope="session")
def local_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """A real SeaweedFS process on free loopback ports, reached through boto3's standard
    AWS_ENDPOINT_URL_S3 setting, exactly as the service reaches it."""
    server = LocalS3(tmp_path_factory.mktemp("seaweedfs")).start()
    try:
        with pytest.MonkeyPatch.context() as environment:  # undone after the session
            for key, value in server.client_env().items():
                environment.setenv(key, value)
            yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3(local_s3: LocalS3) -> Any:
    return boto3.client("s3")


@pytest.fixture(scope="session")
def bucket(s3: Any) -> str:
    """One bucket for the session: SeaweedFS gives every bucket volumes of its own."""
    s3.create_bucket(Bucket="test-models")
    return "test-models"


@pytest.fixture
def prefix() -> str:
    """A key prefix of the test's own, so tests never see each other's objects."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def model_uri(s3: Any, bucket: str, prefix: str, colour_model: Path) -> str:
    return publish(colour_model, bucket, prefix=prefix)


def make_store(uri: str, cache_dir: Path, **env: str) -> ModelStore:
    return ModelStore(Settings.from_env({"MODEL_URI": uri, "MODEL_CACHE_DIR": str(cache_dir), **env}))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, bucket: str, colour_model: Path) -> Iterator[str]:
    """chalice local serving a copy of the project whose dev stage names a test model
    published to the session's SeaweedFS; a fresh process (a cold start) per test module."""
    uri = publish(colour_model, bucket, prefix=f"http-{uuid.uuid4().hex[:12]}")
    project = copy_project(tmp_path_factory.mktemp("project"), {"MODEL_URI": uri})
    with chalice_local(project, tmp_path_factory.mktemp("chalice-local")) as base:
        yield base


def build_package(out: Path, *options: str) -> Path:
    """`chalice package` through devtools.lambda_build (Python 3.12, vendored ONNX Runtime)."""
    subprocess.run([sys.executable, "-m", "devtools.lambda_build", "package", *options, str(out)],
                   cwd=ROOT, check=True, timeout=900)
    return out


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("lambda-package"), "--stage", "dev")
