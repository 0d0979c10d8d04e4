"""The container's one botocore S3 client, for the batch handler and presigned uploads (the
model itself is fetched without it, chalicelib/s3_get.py)."""

from __future__ import annotations

import functools
from typing import Any

from chalicelib.settings import Settings


@functools.cache
def s3_client(settings: Settings) -> Any:
    """Made on first use (the Lambda runtime provides botocore). boto3's would be the same
    client plus s3transfer's import. SigV4 also for presigned posts, which botocore would
    otherwise sign with SigV2, which newer regions refuse."""
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "s3",
        config=Config(
            connect_timeout=settings.s3_connect_timeout_s,
            read_timeout=settings.s3_read_timeout_s,
            retries={"mode": "standard", "max_attempts": 2},
            signature_version="s3v4",
        ),
    )
