"""The model's life in one container: fetched lazily, verified, loaded once, then reused.

MODEL_URI names the model: s3://bucket/key (the object carries its sha256 as metadata,
written by `python -m training publish`) or file:///path for quick experiments. An S3
model is streamed into the cache folder through a temporary file, renamed to
<sha256><suffix> only once its hash matches, and named in an index for its URI once it is
on disk for good; a later process reuses an indexed file without asking S3. Nothing is
done at import time: Chalice imports app.py to package and deploy it.
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator
from urllib.parse import unquote, urlparse

from chalicelib.errors import Code, ModelUnavailable
from chalicelib.metadata import ModelLoadError
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.runtimes import Runtime

SHA256_METADATA_KEY = "sha256"  # S3 user metadata: x-amz-meta-sha256
_CHUNK = 1024 * 1024
STALE_PARTIAL_S = 600


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
            # null: this model has no "none of these" rule and takes every image as one of its labels.
            "none_rule": asdict(meta.none_rule) if meta.none_rule else None,
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
    """A botocore client: boto3's would be the same client plus ~100 ms of importing
    s3transfer on every cold start. botocore finds S3-compatible endpoints through its own
    AWS_ENDPOINT_URL_S3 setting."""
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client("s3", config=Config(
        connect_timeout=settings.s3_connect_timeout_s,
        read_timeout=settings.s3_read_timeout_s,
        retries={"mode": "standard", "max_attempts": 2},
    ))


@dataclass(frozen=True)
class FetchedFile:
    path: Path
    sha256: str
    # Makes a fresh download durable and findable by later processes; runs beside the load.
    keep: Callable[[], None] = lambda: None


class ModelStore:
    """Holds at most one loaded model, loaded once per container by a background thread. A
    request waits for it at most MODEL_WAIT_S, then is answered 503 with Retry-After while
    the load goes on: a slow S3 never holds a request up to the function's timeout."""

    def __init__(self, settings: Settings, client_factory: Callable[[Settings], Any] = s3_client) -> None:
        self._settings = settings
        self._client_factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()
        self._model: LoadedModel | None = None
        self._loading: Future[LoadedModel] | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._model

    def s3(self) -> Any:
        """The container's one S3 client, made on first use."""
        if self._client is None:
            self._client = self._client_factory(self._settings)
        return self._client

    def get(self) -> tuple[LoadedModel, bool]:
        """Returns the model and whether this call is the first to have it (a cold start)."""
        if self._model is not None:
            return self._model, False
        with self._lock:
            if self._model is not None:
                return self._model, False
            if self._loading is None:
                self._loading = Future()
                threading.Thread(target=self._load_into, args=(self._loading,), name="model-load", daemon=True).start()
            loading = self._loading
        try:
            model = loading.result(timeout=self._settings.model_wait_s)
        except TimeoutError:
            raise ModelUnavailable(Code.MODEL_LOADING, f"the model {self._settings.model_uri} is still loading; "
                                   "retry in a moment", retry_after_s=2) from None
        with self._lock:
            cold, self._model = self._model is None, model
        return model, cold

    def _load_into(self, loading: Future[LoadedModel]) -> None:
        try:
            model = self._load()
        except BaseException as exc:  # handed to the waiting requests, which answer it
            with self._lock:
                self._loading = None  # the next request starts afresh
            loading.set_exception(exc)
        else:
            loading.set_result(model)

    def _load(self) -> LoadedModel:
        uri = self._settings.model_uri
        if not uri:
            raise ModelUnavailable(Code.MODEL_NOT_CONFIGURED, "MODEL_URI is not set for this stage", retry_after_s=60)
        started = time.perf_counter()
        parsed = urlparse(uri)
        suffix = Path(parsed.path).suffix
        fetch: Callable[[], FetchedFile]
        if parsed.scheme == "s3" and parsed.netloc and parsed.path.strip("/"):
            fetch = self._s3_fetcher(parsed.netloc, parsed.path.lstrip("/"), suffix)
        elif parsed.scheme == "file" and parsed.path:
            fetch = functools.partial(self._open_file, Path(unquote(parsed.path)), uri)
        else:
            raise ModelUnavailable(Code.MODEL_URI_INVALID, f"MODEL_URI {uri!r} is not s3://bucket/key or file:///path", 60)
        try:
            with ThreadPoolExecutor(1) as pool:
                fetching = pool.submit(fetch)
                try:
                    # numpy (through runtimes) and the runtime's library are imported only
                    # now, while the bytes arrive: both take a while, and overlap.
                    from chalicelib.runtimes import import_runtime, load_runtime

                    import_runtime(Path(parsed.path))
                finally:
                    fetched_file = fetching.result()
                fetched = time.perf_counter()
                keeping = pool.submit(fetched_file.keep)  # fsync, I/O-bound, beside the CPU-bound load
                try:
                    runtime = load_runtime(fetched_file.path, self._settings.threads)
                finally:
                    keeping.result()
        except ImportError as exc:
            raise ModelUnavailable(
                Code.RUNTIME_UNAVAILABLE, f"the runtime for {suffix} models needs {exc.name}, which this deployment lacks", 60
            ) from exc
        except (ModelLoadError, OSError) as exc:
            raise ModelUnavailable(Code.MODEL_INVALID, f"the model at {uri} cannot be loaded: {exc}", 60) from exc
        done = time.perf_counter()
        return LoadedModel(
            runtime=runtime,
            sha256=fetched_file.sha256,
            source_uri=uri,
            loaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            timing_ms={"fetch": round((fetched - started) * 1000, 1), "load": round((done - fetched) * 1000, 1)},
        )

    @staticmethod
    def _open_file(path: Path, uri: str) -> FetchedFile:
        try:
            with path.open("rb") as stream:
                return FetchedFile(path, sha256_of(stream))
        except OSError as exc:
            raise ModelUnavailable(Code.MODEL_NOT_FOUND, f"cannot read the model at {uri}: {exc.strerror}") from exc

    def _index_of(self, uri: str) -> Path:
        """Names the verified file a URI was last fetched into, so that a new process on the
        same /tmp needs no S3 request at all. A published version never changes (publish
        refuses to overwrite one); a new model is a new version and a new MODEL_URI.
        The index is written only once the file is on disk for good: it is what makes a
        file trusted."""
        return self._settings.model_cache_dir / f"{hashlib.sha256(uri.encode()).hexdigest()[:32]}.source"

    def _cached(self, uri: str, suffix: str) -> FetchedFile | None:
        try:
            sha256 = self._index_of(uri).read_text().split()[0]
        except (OSError, IndexError):
            return None
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            return None
        path = self._settings.model_cache_dir / f"{sha256}{suffix}"
        return FetchedFile(path, sha256) if path.is_file() else None

    def _s3_fetcher(self, bucket: str, key: str, suffix: str) -> Callable[[], FetchedFile]:
        uri = f"s3://{bucket}/{key}"
        cached = self._cached(uri, suffix)
        if cached:
            return lambda: cached
        with self._s3_errors(uri):
            # Made here, before the fetch thread starts: importing botocore and building a
            # client is pure Python, which would only slow the runtime's import beside it,
            # while the download that follows mostly waits on the socket and the disk.
            self.s3()
        return functools.partial(self._download, bucket, key, suffix)

    def _download(self, bucket: str, key: str, suffix: str) -> FetchedFile:
        uri = f"s3://{bucket}/{key}"
        with self._s3_errors(uri):
            answer = self.s3().get_object(Bucket=bucket, Key=key)
            body = answer["Body"]
            expected = answer.get("Metadata", {}).get(SHA256_METADATA_KEY, "").lower()
            if len(expected) != 64:
                body.close()
                raise ModelUnavailable(
                    Code.MODEL_UNVERIFIABLE, f"{uri} has no sha256 metadata; publish it with `python -m training publish`", 60
                )
            final = self._settings.model_cache_dir / f"{expected}{suffix}"
            final.parent.mkdir(parents=True, exist_ok=True)
            self._remove_stale_partials(final.parent)

            def write(sink: BinaryIO) -> None:
                actual = sha256_of(body, sink)
                if actual != expected:
                    raise ModelUnavailable(
                        Code.MODEL_CORRUPT, f"{uri} has sha256 {actual}, but {expected} was published; not loading it"
                    )

            # Not yet fsynced: keep() does that beside the load, then writes the index.
            self._write_atomically(final, write, durable=False)
            return FetchedFile(final, expected, functools.partial(self._keep, final, expected, uri))

    @staticmethod
    def _remove_stale_partials(folder: Path) -> None:
        """What killed downloads left: never trusted, but they fill /tmp. A live download
        writes a chunk of 1 MB at a time; one idle for ten minutes is dead."""
        for partial in folder.glob(".partial-*"):
            with contextlib.suppress(OSError):
                if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                    partial.unlink()

    def _keep(self, final: Path, sha256: str, uri: str) -> None:
        with self._s3_errors(uri):
            with final.open("rb") as written:
                os.fsync(written.fileno())
            self._write_atomically(self._index_of(uri), f"{sha256} {uri}\n".encode())

    @contextlib.contextmanager
    def _s3_errors(self, uri: str) -> Iterator[None]:
        """botocore's and the cache folder's errors, as the 503s a client sees."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise ModelUnavailable(Code.MODEL_NOT_FOUND, f"no model object at MODEL_URI {uri}", 60) from exc
            if status == 403:  # also what S3 says of a missing key to a role without s3:ListBucket
                raise ModelUnavailable(
                    Code.MODEL_FORBIDDEN, f"S3 answered 403 for {uri}: the object is missing or this function may not read it", 60
                ) from exc
            raise ModelUnavailable(Code.MODEL_STORE_ERROR, f"S3 refused {uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise ModelUnavailable(Code.MODEL_STORE_UNREACHABLE, f"cannot reach S3 for {uri}: {exc}") from exc
        except OSError as exc:
            raise ModelUnavailable(
                Code.MODEL_CACHE_UNWRITABLE, f"cannot write the model into {self._settings.model_cache_dir}: {exc}"
            ) from exc

    @staticmethod
    def _write_atomically(final: Path, content: bytes | Callable[[BinaryIO], None], durable: bool = True) -> None:
        """Through a temporary file renamed into place: a reader sees all of it or nothing.
        durable: fsynced before the rename, so that it survives a crash under that name."""
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".partial-", suffix=final.suffix)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as sink:
                if callable(content):
                    content(sink)
                else:
                    sink.write(content)
                if durable:
                    sink.flush()
                    os.fsync(sink.fileno())
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
