"""The model's life in one container: fetched lazily, verified, loaded once, then reused.

MODEL_URI names the model: s3://bucket/key (the object carries its sha256 as metadata,
written by `python -m training publish`) or file:///path for quick experiments. An S3
model is streamed into the cache folder through a temporary file and renamed to
<sha256><suffix> only once its hash matches, so a file under that name is always
verified, and a later process reuses it without downloading. Nothing is done at import
time: Chalice imports app.py to package and deploy it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable
from urllib.parse import unquote, urlparse

from chalicelib.errors import ModelUnavailable
from chalicelib.metadata import MetadataError
from chalicelib.runtimes import Runtime, import_runtime, load_runtime
from chalicelib.settings import Settings

SHA256_METADATA_KEY = "sha256"  # S3 user metadata: x-amz-meta-sha256
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LoadedModel:
    runtime: Runtime
    sha256: str
    source_uri: str
    loaded_at: str  # ISO 8601, UTC
    timing_ms: dict[str, float]  # fetch, load

    def describe(self) -> dict[str, Any]:
        meta = self.runtime.metadata
        return {
            "name": meta.name,
            "version": meta.version,
            "sha256": self.sha256,
            "architecture": meta.architecture,
            "labels": list(meta.labels),
            "input_size": meta.input_size,
            "resize_size": meta.resize_size,
            "normalisation": {"mean": list(meta.mean), "std": list(meta.std)},
            "runtime": self.runtime.name,
            "source_uri": self.source_uri,
            "loaded_at": self.loaded_at,
            "load_timing_ms": self.timing_ms,
            "training": meta.training,
        }


def sha256_of(stream: BinaryIO, sink: BinaryIO | None = None) -> str:
    """Hashes a stream in chunks, copying it to sink on the way if given."""
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest()


def s3_client(settings: Settings) -> Any:
    """boto3 finds S3-compatible endpoints through its own AWS_ENDPOINT_URL_S3 setting."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(
        connect_timeout=settings.s3_connect_timeout_s,
        read_timeout=settings.s3_read_timeout_s,
        retries={"mode": "standard", "max_attempts": 2},
    ))


class ModelStore:
    """Holds at most one loaded model; concurrent first requests load it once."""

    def __init__(self, settings: Settings, client_factory: Callable[[Settings], Any] = s3_client) -> None:
        self._settings = settings
        self._client_factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()
        self._model: LoadedModel | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._model

    def s3(self) -> Any:
        """The container's one S3 client, made on first use."""
        if self._client is None:
            self._client = self._client_factory(self._settings)
        return self._client

    def get(self) -> tuple[LoadedModel, bool]:
        """Returns the model and whether this call loaded it (a cold start)."""
        if self._model is not None:
            return self._model, False
        with self._lock:
            if self._model is not None:
                return self._model, False
            self._model = self._load()
            return self._model, True

    def _load(self) -> LoadedModel:
        uri = self._settings.model_uri
        if not uri:
            raise ModelUnavailable("model_not_configured", "MODEL_URI is not set for this stage", retry_after_s=60)
        started = time.perf_counter()
        parsed = urlparse(uri)
        if parsed.scheme == "s3" and parsed.netloc and parsed.path.strip("/"):
            fetch = functools.partial(self._fetch_s3, parsed.netloc, parsed.path.lstrip("/"))
        elif parsed.scheme == "file" and parsed.path:
            fetch = functools.partial(self._open_file, Path(unquote(parsed.path)), uri)
        else:
            raise ModelUnavailable("model_uri_invalid", f"MODEL_URI {uri!r} is not s3://bucket/key or file:///path", 60)
        suffix = Path(parsed.path).suffix
        try:
            # The bytes arrive while the runtime's library is imported (both take a while).
            with ThreadPoolExecutor(1) as pool:
                fetching = pool.submit(fetch)
                try:
                    import_runtime(suffix)
                finally:
                    path, sha256 = fetching.result()
            fetched = time.perf_counter()
            runtime = load_runtime(path, self._settings.threads)
        except ImportError as exc:
            raise ModelUnavailable(
                "runtime_unavailable", f"the runtime for {suffix} models needs {exc.name}, which this deployment lacks", 60
            ) from exc
        except (MetadataError, RuntimeError, OSError, ValueError) as exc:
            raise ModelUnavailable("model_invalid", f"the model at {uri} cannot be loaded: {exc}", 60) from exc
        done = time.perf_counter()
        return LoadedModel(
            runtime=runtime,
            sha256=sha256,
            source_uri=uri,
            loaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            timing_ms={"fetch": round((fetched - started) * 1000, 1), "load": round((done - fetched) * 1000, 1)},
        )

    @staticmethod
    def _open_file(path: Path, uri: str) -> tuple[Path, str]:
        try:
            with path.open("rb") as stream:
                return path, sha256_of(stream)
        except OSError as exc:
            raise ModelUnavailable("model_not_found", f"cannot read the model at {uri}: {exc.strerror}") from exc

    def _index_of(self, uri: str) -> Path:
        """Names the verified file a URI was last fetched into, so that a new process on the
        same /tmp needs no S3 request at all. A published version never changes (publish
        refuses to overwrite one); a new model is a new version and a new MODEL_URI."""
        return self._settings.model_cache_dir / f"{hashlib.sha256(uri.encode()).hexdigest()[:32]}.source"

    def _cached(self, uri: str, suffix: str) -> tuple[Path, str] | None:
        try:
            sha256 = self._index_of(uri).read_text().split()[0]
        except (OSError, IndexError):
            return None
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            return None
        path = self._settings.model_cache_dir / f"{sha256}{suffix}"
        return (path, sha256) if path.is_file() else None

    def _fetch_s3(self, bucket: str, key: str) -> tuple[Path, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        uri = f"s3://{bucket}/{key}"
        cached = self._cached(uri, Path(key).suffix)
        if cached:
            return cached
        try:
            head = self.s3().head_object(Bucket=bucket, Key=key)
            expected = head.get("Metadata", {}).get(SHA256_METADATA_KEY, "").lower()
            if len(expected) != 64:
                raise ModelUnavailable(
                    "model_unverifiable", f"{uri} has no sha256 metadata; publish it with `python -m training publish`", 60
                )
            cache = self._settings.model_cache_dir
            final = cache / f"{expected}{Path(key).suffix}"
            if not final.is_file():
                cache.mkdir(parents=True, exist_ok=True)
                body = self.s3().get_object(Bucket=bucket, Key=key)["Body"]
                self._download_verified(body, final, expected, uri)
            self._write_atomically(self._index_of(uri), f"{expected} {uri}\n".encode())
            return final, expected
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise ModelUnavailable("model_not_found", f"no model object at MODEL_URI {uri}", 60) from exc
            if status == 403:  # also what S3 says of a missing key to a role without s3:ListBucket
                raise ModelUnavailable(
                    "model_forbidden", f"S3 answered 403 for {uri}: the object is missing or this function may not read it", 60
                ) from exc
            raise ModelUnavailable("model_store_error", f"S3 refused {uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise ModelUnavailable("model_store_unreachable", f"cannot reach S3 for {uri}: {exc}") from exc
        except OSError as exc:
            raise ModelUnavailable(
                "model_cache_unwritable", f"cannot write the model into {self._settings.model_cache_dir}: {exc}"
            ) from exc

    def _download_verified(self, body: BinaryIO, final: Path, expected: str, uri: str) -> None:
        def write(sink: BinaryIO) -> None:
            actual = sha256_of(body, sink)
            if actual != expected:
                raise ModelUnavailable(
                    "model_corrupt", f"{uri} has sha256 {actual}, but {expected} was published; not loading it"
                )

        self._write_atomically(final, write)

    @staticmethod
    def _write_atomically(final: Path, content: bytes | Callable[[BinaryIO], None]) -> None:
        """Through a temporary file renamed into place: a reader sees all of it or nothing."""
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".partial-", suffix=final.suffix)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as sink:
                if callable(content):
                    content(sink)
                else:
                    sink.write(content)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
