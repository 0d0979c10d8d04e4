"""Batch classification: an image put under incoming/ of the batch bucket gets its answer
written to results/<name>.json (the /predict schema, or the error a client would get).

Results go outside incoming/, so writing them never triggers another classification.
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.classifier import classify
from chalicelib.errors import ApiError
from chalicelib.model_store import ModelStore
from chalicelib.query import DEFAULT_TOP_K
from chalicelib.s3_client import s3_client
from chalicelib.settings import Settings
from chalicelib.uploads import check_size

INCOMING_PREFIX = "incoming/"
RESULTS_PREFIX = "results/"


def result_key(key: str) -> str:
    return f"{RESULTS_PREFIX}{key.removeprefix(INCOMING_PREFIX)}.json"


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
