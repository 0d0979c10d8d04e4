"""Verified model files in one folder (/tmp in Lambda), and an index naming the file each
URI was last fetched into, with the object's ETag: a new process on the same /tmp asks S3
only whether that object is still the same (a conditional GET), not for its bytes.

Files are named <sha256><suffix> and written through a temporary file renamed into place.
A file is trusted only once the index names it, and the index is written only after the
file is durable: a download killed at any point leaves nothing a later process trusts.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Protocol

from chalicelib.errors import Code, Unavailable

STALE_PARTIAL_S = 600
_CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def sha256_of(stream: Readable, sink: BinaryIO | None = None) -> str:
    """Hashes a stream in chunks, copying it to sink on the way if given."""
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest()


def write_atomically(
    final: Path, content: bytes | Callable[[BinaryIO], None], durable: bool = True, mode: int | None = None
) -> None:
    """Through a temporary file renamed into place: a reader sees all of it or nothing.
    durable: fsynced before the rename, so that it survives a crash under that name.
    mode: the file's permissions, where mkstemp's owner-only 0600 is too narrow."""
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
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@dataclass(frozen=True)
class Entry:
    sha256: str
    etag: str  # S3's, for If-None-Match; empty when the source gave none


class ModelCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, sha256: str, suffix: str) -> Path:
        return self.folder / f"{sha256}{suffix}"

    def lookup(self, uri: str, suffix: str) -> Entry | None:
        """The trusted file for uri, if the index names one that is on disk."""
        try:
            sha256, etag, indexed_uri = self._index_of(uri).read_text().rstrip("\n").split("\t")
        except (OSError, ValueError):  # none, or an index of another layout: fetch afresh
            return None
        if (
            indexed_uri != uri
            or not re.fullmatch(r"[0-9a-f]{64}", sha256)
            or not self.path_for(sha256, suffix).is_file()
        ):
            return None
        return Entry(sha256, etag)

    def write(self, sha256: str, suffix: str, content: Callable[[BinaryIO], None]) -> Path:
        """Writes a file under its final name, not yet durable nor trusted: commit() does
        both. content() may raise to leave nothing behind."""
        final = self.path_for(sha256, suffix)
        with self._unwritable():
            self.folder.mkdir(parents=True, exist_ok=True)
            self.remove_stale_partials()
            write_atomically(final, content, durable=False)
        return final

    def commit(self, uri: str, entry: Entry, suffix: str) -> None:
        """Makes a written file durable, then names it in the index for uri."""
        with self._unwritable():
            with self.path_for(entry.sha256, suffix).open("rb") as written:
                os.fsync(written.fileno())
            write_atomically(self._index_of(uri), f"{entry.sha256}\t{entry.etag}\t{uri}\n".encode())

    def remove_stale_partials(self) -> None:
        """What killed downloads left: never trusted, but they fill /tmp. A live download
        writes a chunk of 1 MB at a time; one idle for ten minutes is dead."""
        for partial in self.folder.glob(".partial-*"):
            with contextlib.suppress(OSError):
                if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                    partial.unlink()

    def _index_of(self, uri: str) -> Path:
        return self.folder / f"{hashlib.sha256(uri.encode()).hexdigest()[:32]}.source"

    @contextlib.contextmanager
    def _unwritable(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise Unavailable(Code.MODEL_CACHE_UNWRITABLE, f"cannot write the model into {self.folder}: {exc}") from exc
