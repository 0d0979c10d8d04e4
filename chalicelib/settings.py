"""Configuration, read once from the stage's environment variables (.chalice/config.json)."""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
UPLOAD_PREFIX = "uploads/"  # where POST /uploads' forms write in UPLOAD_BUCKET, and nowhere else
# Lambda gives one full vCPU per 1,769 MB of memory, but shows the process more cores
# than that; threads beyond the share only contend.
LAMBDA_MB_PER_VCPU = 1769


def usable_cpus() -> int:
    """The CPUs this process may run on; macOS has no affinity call, only the count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_for(env: Mapping[str, str]) -> int:
    """Threads for the model runtime: the usable CPUs, or in Lambda the vCPUs its memory buys."""
    visible = usable_cpus()
    memory_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if not memory_mb:
        return visible
    return max(1, min(visible, math.ceil(int(memory_mb) / LAMBDA_MB_PER_VCPU)))


@dataclass(frozen=True)
class Settings:
    model_uri: str  # s3://bucket/key or file:///path; empty: not configured
    model_cache_dir: Path  # must be on /tmp in Lambda: the only writable place
    max_body_bytes: int
    max_pixels: int
    s3_connect_timeout_s: float
    s3_read_timeout_s: float
    model_wait_s: float  # how long a request waits for the model: well below the function's timeout
    threads: int  # for the model runtime
    cors_allow_origin: str  # empty: CORS off; else the origin of a page hosted elsewhere
    batch_bucket: str  # empty: no S3-event batch classification
    upload_bucket: str  # empty: no POST /uploads (photos over the payload limit, straight to S3)
    max_upload_bytes: int  # the largest object a presigned upload may write
    upload_expires_s: int  # how long a presigned upload stays valid
    log_level: str  # INFO: a line per request; WARNING: only failed requests
    api_key_required: bool  # /predict needs an API Gateway API key (x-api-key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            model_uri=env.get("MODEL_URI", "").strip(),
            model_cache_dir=Path(env.get("MODEL_CACHE_DIR") or Path(tempfile.gettempdir()) / "donut-or-not-models"),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", LAMBDA_PAYLOAD_LIMIT)),
            max_pixels=int(env.get("MAX_IMAGE_PIXELS", 50_000_000)),
            s3_connect_timeout_s=float(env.get("S3_CONNECT_TIMEOUT_S", 2)),
            s3_read_timeout_s=float(env.get("S3_READ_TIMEOUT_S", 5)),
            model_wait_s=float(env.get("MODEL_WAIT_S", 15)),
            threads=threads_for(env),
            cors_allow_origin=env.get("CORS_ALLOW_ORIGIN", "").strip(),
            batch_bucket=env.get("BATCH_BUCKET", "").strip(),
            upload_bucket=env.get("UPLOAD_BUCKET", "").strip(),
            max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES", 50 * 2**20)),
            upload_expires_s=int(env.get("UPLOAD_EXPIRES_S", 600)),
            log_level=env.get("LOG_LEVEL", "INFO").strip() or "INFO",
            api_key_required=env.get("API_KEY_REQUIRED", "").strip().lower() in ("1", "true", "yes"),
        )
