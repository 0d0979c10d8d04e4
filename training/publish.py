"""Uploads a model file to S3 with its sha256 as object metadata (what the service verifies)."""

from __future__ import annotations

from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from chalicelib.model_cache import sha256_of
from chalicelib.model_sources import SHA256_METADATA_KEY
from chalicelib.runtimes import load_runtime


class PublishError(RuntimeError):
    """That version is published already."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"{uri} exists; publish a new version or pass --force")
        self.uri = uri


def model_key(prefix: str, name: str, version: str, precision: str, suffix: str) -> str:
    """One version, one key per format and precision: model.onnx, model-int8.onnx, model.pt."""
    quantized = "" if precision == "fp32" else f"-{precision}"
    return f"{prefix.strip('/')}/{name}/{version}/model{quantized}{suffix}"


def publish(model: Path, bucket: str, force: bool = False, client=None, prefix: str = "models") -> str:
    """Uploads model under <prefix>/<name>/<version>/ and returns its MODEL_URI.

    Refuses to replace an existing version unless force: a version names one file forever.
    Works against any endpoint boto3 is configured for (AWS_ENDPOINT_URL_S3 for SeaweedFS).
    """
    meta = load_runtime(model).metadata  # also proves the file loads as the service loads it
    key = model_key(prefix, meta.name, meta.version, meta.precision, model.suffix)
    client = client or boto3.client("s3")
    uri = f"s3://{bucket}/{key}"
    if not force:
        try:
            client.head_object(Bucket=bucket, Key=key)
            raise PublishError(uri)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise
    with model.open("rb") as stream:
        sha256 = sha256_of(stream)
    client.upload_file(str(model), bucket, key, ExtraArgs={"Metadata": {SHA256_METADATA_KEY: sha256}})
    return uri
