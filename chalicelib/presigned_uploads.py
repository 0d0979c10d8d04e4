"""Photos over API Gateway's payload limit: POST /uploads hands the client a presigned S3
POST for one fresh object under uploads/ of the upload bucket; the client sends the file
straight to S3, then POST /predict?upload=ID reads that object and answers as for a body.

Answered synchronously, not through the batch function: one request for the answer and
no polling, the same under chalice local (which runs no S3 events) as in Lambda, and no
S3 trigger, so SAM packaging keeps working. The bucket's lifecycle rule deletes uploads
(devtools/upload_bucket.py sets it at deploy).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from chalicelib.errors import BadRequest, Code, NotFound, Unavailable
from chalicelib.s3_client import s3_client
from chalicelib.settings import UPLOAD_PREFIX, Settings
from chalicelib.uploads import IMAGE_TYPES, check_size, unsupported

_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16): unguessable, and never a path


def new_upload(settings: Settings, content_type: str | None) -> dict[str, Any]:
    """The presigned POST for one upload of content_type (default: sniffed from the bytes).
    S3 itself refuses any other key, type, a larger body, or the form after it expires."""
    bucket = _bucket(settings)
    media = (content_type or "application/octet-stream").strip().lower()
    if media not in IMAGE_TYPES:
        raise unsupported("type", media, IMAGE_TYPES)
    upload_id = secrets.token_hex(16)
    from botocore.exceptions import BotoCoreError

    try:
        post = s3_client(settings).generate_presigned_post(
            Bucket=bucket,
            Key=UPLOAD_PREFIX + upload_id,
            Fields={"Content-Type": media},
            Conditions=[{"Content-Type": media}, ["content-length-range", 1, settings.max_upload_bytes]],
            ExpiresIn=settings.upload_expires_s,
        )
    except BotoCoreError as exc:  # no credentials to sign with: the function's role is missing
        raise Unavailable(Code.UPLOAD_STORE_ERROR, f"no upload form can be signed: {exc}") from None
    return {
        "id": upload_id,
        "url": post["url"],
        "fields": post["fields"],  # send them all, then the file last, as field "file"
        "max_bytes": settings.max_upload_bytes,
        "expires_in_s": settings.upload_expires_s,
    }


def uploaded_image(settings: Settings, upload_id: str) -> bytes:
    """The bytes a client sent to S3 with the upload of this id, or the error it should see."""
    bucket = _bucket(settings)
    if not _ID.fullmatch(upload_id):
        raise BadRequest(Code.BAD_UPLOAD_ID, f"upload {upload_id[:40]!r} is not an id POST /uploads gave")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = s3_client(settings).get_object(Bucket=bucket, Key=UPLOAD_PREFIX + upload_id)["Body"]
        data: bytes = body.read(settings.max_upload_bytes + 1)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise NotFound(
                Code.UPLOAD_NOT_FOUND,
                f"no upload {upload_id}: not sent yet, refused by S3 (its answer says why), or expired",
            ) from None
        raise Unavailable(Code.UPLOAD_STORE_ERROR, f"the upload store answered {exc}") from None
    except BotoCoreError as exc:
        raise Unavailable(Code.UPLOAD_STORE_ERROR, f"the upload store cannot be reached: {exc}") from None
    check_size(data, settings.max_upload_bytes, "the upload")
    return data


def _bucket(settings: Settings) -> str:
    if not settings.upload_bucket:
        raise NotFound(
            Code.UPLOADS_NOT_CONFIGURED,
            "this deployment takes no uploads (UPLOAD_BUCKET is not set): send the image as the body of POST /predict",
        )
    return settings.upload_bucket
