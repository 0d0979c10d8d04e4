"""S3-event batch classification, through Chalice's event generator, against SeaweedFS."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote_plus

import pytest
from chalice.test import Client

import app as service
from chalicelib.batch import result_key
from tests import imagefiles as f
from tests.conftest import ROOT


@pytest.fixture
def batch_client(monkeypatch: pytest.MonkeyPatch, model_uri: str, bucket: str, tmp_path: Path) -> Iterator[Client]:
    """The app as a stage with BATCH_BUCKET set sees it at import: the handler exists only then."""
    monkeypatch.setenv("BATCH_BUCKET", bucket)
    monkeypatch.setenv("MODEL_URI", model_uri)
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    module = importlib.reload(service)
    try:
        with Client(module.app, project_dir=str(ROOT)) as client:
            yield client
    finally:
        monkeypatch.undo()
        importlib.reload(service)


def put_and_notify(client: Client, s3: Any, bucket: str, key: str, data: bytes) -> dict[str, Any]:
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    # S3 URL-encodes keys in event records; Chalice decodes them.
    client.lambda_.invoke("classify_upload", client.events.generate_s3_event(bucket=bucket, key=quote_plus(key)))
    return json.loads(s3.get_object(Bucket=bucket, Key=result_key(key))["Body"].read())


def test_an_uploaded_image_gets_a_result_beside_it(batch_client: Client, s3: Any, bucket: str, prefix: str) -> None:
    key = f"incoming/{prefix}/holiday photo.jpg"
    result = put_and_notify(batch_client, s3, bucket, key, f.jpeg(f.BLUE))
    assert result["recognised"] is True and result["label"] == "blue" and len(result["predictions"]) == 3
    assert result["model"]["name"] == "test-colours" and set(result["timing_ms"]) == {"decode", "preprocess", "inference", "total"}
    assert result["source"] == {"bucket": bucket, "key": key}
    assert result_key(key) == f"results/{prefix}/holiday photo.jpg.json"  # outside incoming/: no loop


@pytest.mark.parametrize("data, code", [(b"not a picture", "not_an_image"), (f.truncated_jpeg(), "corrupt_image"),
                                        (f.png_bomb(), "too_many_pixels")])
def test_a_bad_image_gets_an_error_result(batch_client: Client, s3: Any, bucket: str, prefix: str, data: bytes, code: str) -> None:
    result = put_and_notify(batch_client, s3, bucket, f"incoming/{prefix}/bad.jpg", data)
    assert result["error"]["code"] == code and result["status"] in (400, 413)


def test_a_batch_of_events_survives_a_bad_image(batch_client: Client, s3: Any, bucket: str, prefix: str) -> None:
    for name, data in (("a.png", f.png(f.RED)), ("b.jpg", b"junk"), ("c.png", f.png(f.GREEN))):
        put_and_notify(batch_client, s3, bucket, f"incoming/{prefix}/{name}", data)
    labels = [json.loads(s3.get_object(Bucket=bucket, Key=f"results/{prefix}/{n}.json")["Body"].read()).get("label")
              for n in ("a.png", "b.jpg", "c.png")]
    assert labels == ["red", None, "green"]


def test_without_a_batch_bucket_there_is_no_s3_handler() -> None:
    assert service.settings.batch_bucket == ""
    assert "classify_upload" not in service.app.handler_map


def test_no_model_means_retry_not_a_failure_result(batch_client: Client, s3: Any, bucket: str, prefix: str,
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from chalicelib.errors import ModelUnavailable
    from tests.conftest import make_store

    monkeypatch.setattr(service, "store", make_store(f"s3://{bucket}/{prefix}/missing/model.onnx", tmp_path))
    key = f"incoming/{prefix}/later.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=f.jpeg())
    with pytest.raises(ModelUnavailable):  # Lambda retries an asynchronous event that raises
        batch_client.lambda_.invoke("classify_upload", batch_client.events.generate_s3_event(bucket=bucket, key=key))
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key=result_key(key))
