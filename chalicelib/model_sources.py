"""Where MODEL_URI points: s3://bucket/key (the object carries its sha256 as metadata,
written by `python -m training publish`) or file:///path for quick experiments. Each
source fetches into a verified file on disk; S3's failures become the 503s a client sees.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol
from urllib.parse import unquote, urlparse

from chalicelib.errors import Code, ModelUnavailable
from chalicelib.model_cache import ModelCache, sha256_of
from chalicelib.settings import Settings

SHA256_METADATA_KEY = "sha256"  # S3 user metadata: x-amz-meta-sha256


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
    fresh: bool  # downloaded just now: the cache must still commit it


class Source(Protocol):
    uri: str
    path: Path  # the model's name at the source, whose suffix says its kind

    def prepare(self) -> None:
        """What must be done before fetching starts in another thread."""

    def fetch(self) -> FetchedFile: ...


def source_for(uri: str, cache: ModelCache, client: Callable[[], Any]) -> Source:
    parsed = urlparse(uri)
    if parsed.scheme == "s3" and parsed.netloc and parsed.path.strip("/"):
        return S3Source(uri, parsed.netloc, parsed.path.lstrip("/"), cache, client)
    if parsed.scheme == "file" and parsed.path:
        return FileSource(uri, Path(unquote(parsed.path)))
    raise ModelUnavailable(Code.MODEL_URI_INVALID, f"MODEL_URI {uri!r} is not s3://bucket/key or file:///path", 60)


class FileSource:
    """Loaded in place: no copy, no index."""

    def __init__(self, uri: str, path: Path) -> None:
        self.uri, self.path = uri, path

    def prepare(self) -> None:
        pass

    def fetch(self) -> FetchedFile:
        try:
            with self.path.open("rb") as stream:
                return FetchedFile(self.path, sha256_of(stream), fresh=False)
        except OSError as exc:
            raise ModelUnavailable(Code.MODEL_NOT_FOUND, f"cannot read the model at {self.uri}: {exc.strerror}") from exc


class S3Source:
    def __init__(self, uri: str, bucket: str, key: str, cache: ModelCache, client: Callable[[], Any]) -> None:
        self.uri, self.path = uri, Path(key)
        self._bucket, self._key, self._cache, self._client = bucket, key, cache, client
        self._cached = cache.lookup(uri, self.path.suffix)

    def prepare(self) -> None:
        if self._cached is None:
            # Importing botocore and building a client is pure Python, which would only slow
            # the runtime's import beside it; the download itself mostly waits on the socket.
            with s3_errors(self.uri):
                self._client()

    def fetch(self) -> FetchedFile:
        suffix = self.path.suffix
        if self._cached is not None:
            return FetchedFile(self._cache.path_for(self._cached, suffix), self._cached, fresh=False)
        with s3_errors(self.uri):
            answer = self._client().get_object(Bucket=self._bucket, Key=self._key)
        body = answer["Body"]
        expected = answer.get("Metadata", {}).get(SHA256_METADATA_KEY, "").lower()
        if len(expected) != 64:
            body.close()
            raise ModelUnavailable(
                Code.MODEL_UNVERIFIABLE, f"{self.uri} has no sha256 metadata; publish it with `python -m training publish`", 60
            )

        def content(sink: Any) -> None:
            with s3_errors(self.uri):  # the body's read errors are S3's; the sink's are the cache's
                actual = sha256_of(body, sink)
            if actual != expected:
                raise ModelUnavailable(
                    Code.MODEL_CORRUPT, f"{self.uri} has sha256 {actual}, but {expected} was published; not loading it"
                )

        return FetchedFile(self._cache.write(expected, suffix, content), expected, fresh=True)


@contextlib.contextmanager
def s3_errors(uri: str) -> Iterator[None]:
    """botocore's errors, as the 503s a client sees."""
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
