"""chalicelib/model_cache.py: a file is trusted only once it is committed, and nothing a
failed write leaves behind is ever trusted. Plain files in a temporary folder."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path
from typing import BinaryIO

import pytest
from chalicelib.errors import Code, Unavailable
from chalicelib.model_cache import STALE_PARTIAL_S, Entry, ModelCache, sha256_of

DATA = b"model bytes" * 1000
SHA = hashlib.sha256(DATA).hexdigest()
ENTRY = Entry(SHA, '"5d41402abc4b2a76b9719d911017c592"')
URI = "s3://bucket/models/m/1/model.onnx"


def put(sink: BinaryIO) -> None:
    sink.write(DATA)


def test_sha256_of_hashes_and_copies() -> None:
    sink = io.BytesIO()
    assert sha256_of(io.BytesIO(DATA), sink) == SHA and sink.getvalue() == DATA


def test_a_written_file_is_trusted_only_once_committed(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "cache")
    assert cache.lookup(URI, ".onnx") is None
    path = cache.write(SHA, ".onnx", put)
    assert path == cache.path_for(SHA, ".onnx") and path.read_bytes() == DATA
    assert cache.lookup(URI, ".onnx") is None
    cache.commit(URI, ENTRY, ".onnx")
    assert cache.lookup(URI, ".onnx") == ENTRY
    assert ModelCache(tmp_path / "cache").lookup(URI, ".onnx") == ENTRY  # a new process finds it, with its ETag
    assert cache.lookup("s3://bucket/models/m/2/model.onnx", ".onnx") is None
    path.unlink()
    assert cache.lookup(URI, ".onnx") is None  # the index alone is not a file


def test_a_write_whose_content_fails_leaves_nothing(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)

    def half_then_fail(sink: BinaryIO) -> None:
        sink.write(DATA[:100])
        raise Unavailable(Code.MODEL_CORRUPT, "hash mismatch")

    with pytest.raises(Unavailable, match="hash mismatch"):
        cache.write(SHA, ".onnx", half_then_fail)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "index",
    [
        "",
        f"{SHA} {URI}\n",
        f"not-a-sha256\t\t{URI}\n",
        f"{SHA[:-1]}g\t\t{URI}\n",
        f"{SHA}\t\ts3://bucket/another-key\n",
    ],
)
def test_a_malformed_index_is_not_trusted(tmp_path: Path, index: str) -> None:
    cache = ModelCache(tmp_path)
    cache.write(SHA, ".onnx", put)
    cache.commit(URI, ENTRY, ".onnx")
    [index_file] = tmp_path.glob("*.source")
    index_file.write_text(index)
    assert cache.lookup(URI, ".onnx") is None


def test_a_folder_that_cannot_be_made_is_model_cache_unwritable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the folder should be")
    cache = ModelCache(tmp_path / "file" / "cache")
    with pytest.raises(Unavailable) as err:
        cache.write(SHA, ".onnx", put)
    assert err.value.code == "model_cache_unwritable" and str(cache.folder) in err.value.message


def test_a_sink_that_fails_is_model_cache_unwritable_and_leaves_nothing(tmp_path: Path) -> None:
    def disk_full(sink: BinaryIO) -> None:
        sink.write(DATA[:100])
        raise OSError(28, "No space left on device")

    with pytest.raises(Unavailable) as err:
        ModelCache(tmp_path).write(SHA, ".onnx", disk_full)
    assert err.value.code == "model_cache_unwritable" and "No space left" in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_writing_clears_only_partial_files_idle_longer_than_a_live_download_would_be(tmp_path: Path) -> None:
    stale, live = tmp_path / ".partial-dead.onnx", tmp_path / ".partial-live.onnx"
    for partial in (stale, live):
        partial.write_bytes(b"half")
    os.utime(stale, (time.time() - STALE_PARTIAL_S - 1,) * 2)
    ModelCache(tmp_path).write(SHA, ".onnx", put)
    assert not stale.exists() and live.exists()
