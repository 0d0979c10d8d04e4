"""S3-event batch classification, through Chalice's event generator, against SeaweedFS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from chalice.test import Client
from chalicelib.batch import result_key
from devtools import ROOT

from tests import imagefiles as f
from tests.support import app_for


@pytest.fixture
def batch_client(model_uri: str, bucket: str, tmp_path: Path) -> Client:
    return batch_client_for(model_uri, bucket, tmp_path / "cache")


def batch_client_for(model_uri: str, bucket: str, cache: Path) -> Client:
    """The app as a stage with BATCH_BUCKET set sees it at import: the handler exists only then."""
    return Client(
        app_for({"BATCH_BUCKET": bucket, "MODEL_URI": model_uri, "MODEL_CACHE_DIR": str(cache)}).app,
        project_dir=str(ROOT),
    )


def put_and_notify(client: Client, s3: Any, bucket: str, key: str, data: bytes) -> dict[str, Any]:
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    # S3 URL-encodes keys in event records; Chalice decodes them.
    client.lambda_.invoke("classify_upload", client.events.generate_s3_event(bucket=bucket, key=quote_plus(key)))
    return json.loads(s3.get_object(Bucket=bucket, Key=result_key(key))["Body"].read())


def test_an_uploaded_image_gets_a_result_beside_it(batch_client: Client, s3: Any, bucket: str, prefix: str) -> None:
    key = f"incoming/{prefix}/holiday photo.jpg"
    result = put_and_notify(batch_client, s3, bucket, key, f.jpeg(f.BLUE))
    assert result["recognised"] is True and result["label"] == "blue" and len(result["predictions"]) == 3
    assert result["model"]["name"] == "test-colours" and set(result["timing_ms"]) == {
        "decode",
        "preprocess",
        "inference",
        "total",
    }
    assert result["source"] == {"bucket": bucket, "key": key}
    assert result_key(key) == f"results/{prefix}/holiday photo.jpg.json"  # outside incoming/: no loop


@pytest.mark.parametrize(
    "data, code",
    [(b"not a picture", "not_an_image"), (f.truncated_jpeg(), "corrupt_image"), (f.png_bomb(), "too_many_pixels")],
)
def test_a_bad_image_gets_an_error_result(
    batch_client: Client, s3: Any, bucket: str, prefix: str, data: bytes, code: str
) -> None:
    result = put_and_notify(batch_client, s3, bucket, f"incoming/{prefix}/bad.jpg", data)
    assert result["error"]["code"] == code and result["status"] in (400, 413)


def test_a_batch_of_events_survives_a_bad_image(batch_client: Client, s3: Any, bucket: str, prefix: str) -> None:
    for name, data in (("a.png", f.png(f.RED)), ("b.jpg", b"junk"), ("c.png", f.png(f.GREEN))):
        put_and_notify(batch_client, s3, bucket, f"incoming/{prefix}/{name}", data)
    labels = [
        json.loads(s3.get_object(Bucket=bucket, Key=f"results/{prefix}/{n}.json")["Body"].read()).get("label")
        for n in ("a.png", "b.jpg", "c.png")
    ]
    assert labels == ["red", None, "green"]


def test_without_a_batch_bucket_there_is_no_s3_handler(model_uri: str) -> None:
    service = app_for({"MODEL_URI": model_uri})
    assert service.settings.batch_bucket == ""
    assert "classify_upload" not in service.app.handler_map


def test_no_model_means_retry_not_a_failure_result(s3: Any, bucket: str, prefix: str, tmp_path: Path) -> None:
    from chalicelib.errors import Unavailable

    batch_client = batch_client_for(f"s3://{bucket}/{prefix}/missing/model.onnx", bucket, tmp_path)
    key = f"incoming/{prefix}/later.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=f.jpeg())
    with pytest.raises(Unavailable):  # Lambda retries an asynchronous event that raises
        batch_client.lambda_.invoke("classify_upload", batch_client.events.generate_s3_event(bucket=bucket, key=key))
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key=result_key(key))
