"""Uploads a model file to S3 with its sha256 as object metadata (what the service verifies)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import boto3
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError
from chalicelib.model_cache import sha256_of
from chalicelib.model_sources import SHA256_METADATA_KEY

from training.errors import AlreadyPublished, PublishError
from training.served_model import load_as_served


def model_key(prefix: str, name: str, version: str, suffix: str) -> str:
    """One version, one key per format: model.onnx, model.pt."""
    return f"{prefix.strip('/')}/{name}/{version}/model{suffix}"


def publish(
    model: Path,
    bucket: str,
    force: bool = False,
    client: Any = None,
    prefix: str = "models",
    create_bucket: bool = False,
) -> str:
    """Uploads model under <prefix>/<name>/<version>/ and returns its MODEL_URI.

    Refuses to replace an existing version unless force: a version names one file forever.
    Works against any endpoint boto3 is configured for (AWS_ENDPOINT_URL_S3 for SeaweedFS).
    """
    meta = load_as_served(model).metadata  # also proves the file loads as the service loads it
    key = model_key(prefix, meta.name, meta.version, model.suffix)
    client = client or boto3.client("s3")
    uri = f"s3://{bucket}/{key}"
    with s3_errors(client, bucket):
        ensure_bucket(client, bucket, create_bucket)
        if not force and exists(client, bucket, key):
            raise AlreadyPublished(uri)
        with model.open("rb") as stream:
            sha256 = sha256_of(stream)
        client.upload_file(str(model), bucket, key, ExtraArgs={"Metadata": {SHA256_METADATA_KEY: sha256}})
    return uri


def ensure_bucket(client: Any, bucket: str, create: bool) -> None:
    try:
        client.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if status(exc) != 404:
            raise
    if not create:
        raise PublishError(f"the bucket {bucket} does not exist: create it, or pass --create-bucket")
    region = client.meta.region_name
    where = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client.create_bucket(Bucket=bucket, **where)


def exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if status(exc) == 404:
            return False
        raise


def status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


@contextlib.contextmanager
def s3_errors(client: Any, bucket: str) -> Iterator[None]:
    """What S3 and botocore raise, as one line a user can act on."""
    try:
        yield
    except NoCredentialsError:
        raise PublishError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile "
            "(aws configure); for the local S3, ./scripts/local-s3 start prints the variables to export"
        ) from None
    except EndpointConnectionError:
        raise PublishError(f"cannot reach S3 at {client.meta.endpoint_url}: is it running?") from None
    except ClientError as exc:
        if status(exc) == 403:
            raise PublishError(
                f"S3 refused access to the bucket {bucket} (403): these credentials may not write "
                "to it, or it belongs to another account"
            ) from None
        error = exc.response.get("Error", {})
        raise PublishError(f"S3 refused: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise PublishError(f"S3 failed: {exc}") from None
