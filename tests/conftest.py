"""Shared fixtures: the colour model in each format, a real SeaweedFS S3 server, models
published to it, chalice local serving one, and the Lambda package. Helpers that are
not fixtures live in tests/support.py and tests/colour_model.py."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from devtools.local_chalice import chalice_local, copy_project
from devtools.local_s3 import LocalS3
from training.export import export
from training.publish import publish

from tests.colour_model import COLOUR_META, MeanColour, colour_batch
from tests.support import TEST_CREDENTIALS, build_package


@pytest.fixture(scope="session", autouse=True)
def image_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Training's image cache (training/image_cache.py) in the session's own folder, for
    every test and every process a test starts, never in the user's ~/.cache."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


@pytest.fixture(scope="session", params=[".pt", ".onnx"], ids=["torchscript", "onnx"])
def colour_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The colour model in each runtime's format: tests that use it run once per runtime."""
    path = tmp_path_factory.mktemp("models") / f"colours{request.param}"
    export(MeanColour(), COLOUR_META, path, colour_batch())
    return path


@pytest.fixture(scope="session")
def local_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """A real SeaweedFS process on free loopback ports, reached through boto3's standard
    AWS_ENDPOINT_URL_S3 setting, exactly as the service reaches it. It checks every
    request's signature against one identity, as S3 does."""
    server = LocalS3(tmp_path_factory.mktemp("seaweedfs"), credentials=TEST_CREDENTIALS).start()
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, bucket: str, colour_model: Path) -> Iterator[str]:
    """chalice local serving a copy of the project whose dev stage names a test model
    published to the session's SeaweedFS, and takes uploads there; a fresh process (a cold
    start) per test module."""
    uri = publish(colour_model, bucket, prefix=f"http-{uuid.uuid4().hex[:12]}")
    project = copy_project(tmp_path_factory.mktemp("project"), {"MODEL_URI": uri, "UPLOAD_BUCKET": bucket})
    with chalice_local(project, tmp_path_factory.mktemp("chalice-local")) as base:
        yield base


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("lambda-package"), "--stage", "dev")
