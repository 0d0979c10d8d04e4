"""Configuration, read once from the stage's environment variables (.chalice/config.json)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    model_uri: str  # s3://bucket/key or file:///path; empty: not configured
    model_cache_dir: Path  # must be on /tmp in Lambda: the only writable place
    max_body_bytes: int
    max_pixels: int
    s3_connect_timeout_s: float
    s3_read_timeout_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            model_uri=env.get("MODEL_URI", "").strip(),
            model_cache_dir=Path(env.get("MODEL_CACHE_DIR") or Path(tempfile.gettempdir()) / "donut-or-not-models"),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", LAMBDA_PAYLOAD_LIMIT)),
            max_pixels=int(env.get("MAX_IMAGE_PIXELS", 50_000_000)),
            s3_connect_timeout_s=float(env.get("S3_CONNECT_TIMEOUT_S", 2)),
            s3_read_timeout_s=float(env.get("S3_READ_TIMEOUT_S", 10)),
        )
