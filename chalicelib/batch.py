"""Batch classification: an image put under incoming/ of the batch bucket gets its answer
written to results/<name>.json (the /predict schema, or the error a client would get).

Results go outside incoming/, so writing them never triggers another classification.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

from chalicelib.classifier import classify
from chalicelib.errors import ApiError
from chalicelib.model_store import ModelStore
from chalicelib.query import DEFAULT_TOP_K
from chalicelib.settings import Settings
from chalicelib.uploads import check_size

INCOMING_PREFIX = "incoming/"
RESULTS_PREFIX = "results/"


def result_key(key: str) -> str:
    return f"{RESULTS_PREFIX}{key.removeprefix(INCOMING_PREFIX)}.json"


@functools.cache
def s3_client(settings: Settings) -> Any:
    """The container's one botocore client, made on first use (the Lambda runtime provides
    botocore; the model itself is fetched without it, chalicelib/s3_get.py). boto3's would
    be the same client plus s3transfer's import."""
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "s3",
        config=Config(
            connect_timeout=settings.s3_connect_timeout_s,
            read_timeout=settings.s3_read_timeout_s,
            retries={"mode": "standard", "max_attempts": 2},
        ),
    )


def classify_object(bucket: str, key: str, store: ModelStore, settings: Settings) -> dict[str, Any]:
    """Classifies s3://bucket/key and writes the result beside it; returns the result.

    A bad image writes an error result. A model that cannot be had raises, so that Lambda
    retries the event later instead of recording a failure that is not the image's."""
    started = time.perf_counter()
    model, cold = store.get()
    client = s3_client(settings)
    source = {"bucket": bucket, "key": key}
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read(settings.max_body_bytes + 1)
        check_size(body, settings.max_body_bytes, "the object")
        result = classify(body, model, DEFAULT_TOP_K, settings.max_pixels, cold=cold, started=started)
    except ApiError as error:
        result = {**error.body(), "status": error.status}
    result["source"] = source
    client.put_object(
        Bucket=bucket, Key=result_key(key), Body=json.dumps(result).encode(), ContentType="application/json"
    )
    return result
