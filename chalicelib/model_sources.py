"""Where MODEL_URI points: s3://bucket/key (the object carries its sha256 as metadata,
written by `python -m training publish`) or file:///path for quick experiments. Each
source fetches into a verified file on disk; S3's failures become the 503s a client sees.
S3 is read through chalicelib.s3_get, not botocore, which would cost 0.3 s of a cold start.
"""

from __future__ import annotations

import contextlib
import http.client
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol
from urllib.parse import unquote, urlparse

from chalicelib import s3_get
from chalicelib.errors import Code, Unavailable
from chalicelib.model_cache import ModelCache, sha256_of
from chalicelib.settings import Settings

GetObject = Callable[..., http.client.HTTPResponse]  # s3_get.get_object's signature

SHA256_METADATA_KEY = "sha256"  # S3 user metadata: x-amz-meta-sha256


@dataclass(frozen=True)
class FetchedFile:
    path: Path
    sha256: str
    etag: str | None = None  # set when downloaded just now: the cache must still commit it


class Source(Protocol):
    uri: str
    path: Path  # the model's name at the source, whose suffix says its kind

    def fetch(self) -> FetchedFile: ...


def source_for(uri: str, cache: ModelCache, settings: Settings, get_object: GetObject = s3_get.get_object) -> Source:
    parsed = urlparse(uri)
    if parsed.scheme == "s3" and parsed.netloc and parsed.path.strip("/"):
        return S3Source(uri, parsed.netloc, parsed.path.lstrip("/"), cache, settings, get_object)
    if parsed.scheme == "file" and parsed.path:
        return FileSource(uri, Path(unquote(parsed.path)))
    raise Unavailable(Code.MODEL_URI_INVALID, f"MODEL_URI {uri!r} is not s3://bucket/key or file:///path", 60)


class FileSource:
    """Loaded in place: no copy, no index."""

    def __init__(self, uri: str, path: Path) -> None:
        self.uri, self.path = uri, path

    def fetch(self) -> FetchedFile:
        try:
            with self.path.open("rb") as stream:
                return FetchedFile(self.path, sha256_of(stream))
        except OSError as exc:
            raise Unavailable(Code.MODEL_NOT_FOUND, f"cannot read the model at {self.uri}: {exc.strerror}") from exc


class S3Source:
    def __init__(
        self, uri: str, bucket: str, key: str, cache: ModelCache, settings: Settings, get_object: GetObject
    ) -> None:
        self.uri, self.path = uri, Path(key)
        self._bucket, self._key, self._cache, self._settings, self._get_object = (
            bucket,
            key,
            cache,
            settings,
            get_object,
        )

    def fetch(self) -> FetchedFile:
        suffix = self.path.suffix
        cached = self._cache.lookup(self.uri, suffix)
        with s3_errors(self.uri):
            try:
                # The environment as it is now: credentials can change under a process (SnapStart's restore).
                response = self._get_object(
                    self._bucket,
                    self._key,
                    os.environ,
                    self._settings.s3_connect_timeout_s,
                    self._settings.s3_read_timeout_s,
                    cached.etag if cached else "",
                )
            except s3_get.S3Unreachable:
                if cached is None:
                    raise
                response = None  # S3 does not answer: the last verified copy serves until it does
        if response is None or response.status == 304:  # the cached copy is the object S3 holds
            if response is not None:
                response.close()
            assert cached is not None
            return FetchedFile(self._cache.path_for(cached.sha256, suffix), cached.sha256)
        with response:
            expected = (response.getheader(f"x-amz-meta-{SHA256_METADATA_KEY}") or "").lower()
            if len(expected) != 64:
                raise Unavailable(
                    Code.MODEL_UNVERIFIABLE,
                    f"{self.uri} has no sha256 metadata; publish it with `python -m training publish`",
                    60,
                )

            def content(sink: Any) -> None:
                actual = sha256_of(Body(response, self.uri), sink)
                if actual != expected:
                    raise Unavailable(
                        Code.MODEL_CORRUPT,
                        f"{self.uri} has sha256 {actual}, but {expected} was published; not loading it",
                    )

            path = self._cache.write(expected, suffix, content)
            return FetchedFile(path, expected, response.getheader("etag") or "")


class Body:
    """The response body, whose read errors are S3's (503 model_store_unreachable): the
    cache maps its own write errors, and must not take these for them."""

    def __init__(self, response: http.client.HTTPResponse, uri: str) -> None:
        self._response, self._uri = response, uri

    def read(self, size: int) -> bytes:
        with s3_errors(self._uri):
            try:
                return self._response.read(size)
            except (OSError, http.client.HTTPException) as exc:
                raise s3_get.S3Unreachable(f"the download broke off: {type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def s3_errors(uri: str) -> Iterator[None]:
    """S3's errors, as the 503s a client sees."""
    try:
        yield
    except s3_get.S3Error as exc:
        if exc.status == 404:
            raise Unavailable(Code.MODEL_NOT_FOUND, f"no model object at MODEL_URI {uri}", 60) from exc
        if exc.status == 403:  # also what S3 says of a missing key to a role without s3:ListBucket
            raise Unavailable(
                Code.MODEL_FORBIDDEN,
                f"S3 answered 403 {exc.code} for {uri}: the object is missing, or these credentials may not read it",
                60,
            ) from exc
        raise Unavailable(Code.MODEL_STORE_ERROR, f"S3 refused {uri}: {exc}") from exc
    except s3_get.S3Unreachable as exc:
        raise Unavailable(Code.MODEL_STORE_UNREACHABLE, f"cannot reach S3 for {uri}: {exc}") from exc
