"""Model-store faults with real parts: a process killed mid-download, an S3 endpoint that
accepts connections and never answers, model files whose metadata is missing or wrong."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import torch
from chalicelib.errors import Unavailable
from chalicelib.metadata import METADATA_FILE
from chalicelib.model_cache import STALE_PARTIAL_S
from chalicelib.runtimes import torchscript_deprecation_silenced
from devtools import ROOT
from devtools.local_s3 import LocalS3
from training.none_scores import with_rule_score
from training.publish import publish

from tests.colour_model import COLOUR_LABELS, COLOUR_META, MeanColour
from tests.support import make_store


class ThrottledRelay:
    """A real TCP relay on loopback in front of SeaweedFS that sends the answers back at
    `rate` bytes a second: a slow S3, with every byte of it real."""

    def __init__(self, target: str, rate: int) -> None:
        host, port = target.removeprefix("http://").split(":")
        self._target, self._rate = (host, int(port)), rate
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.sent = 0
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            threading.Thread(target=self._pump, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self._rate), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, rate: int) -> None:
        with contextlib.suppress(OSError):
            while not self._closed.is_set() and (chunk := source.recv(16 * 1024)):
                sink.sendall(chunk)
                if rate:
                    self.sent += len(chunk)
                    time.sleep(len(chunk) / rate)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()


@pytest.fixture
def slow_s3(local_s3: LocalS3) -> Iterator[ThrottledRelay]:
    relay = ThrottledRelay(local_s3.endpoint, rate=2 * 1024 * 1024)
    yield relay
    relay.close()


def padded_model(path: Path, size: int) -> Path:
    """A valid TorchScript model of about size bytes (its weights are tiny; an extra file is not)."""
    return _torchscript(path, {METADATA_FILE: COLOUR_META.to_json(), "padding.bin": os.urandom(size).hex()[:size]})


def test_a_download_killed_midway_is_never_trusted(
    slow_s3: ThrottledRelay, s3: Any, bucket: str, prefix: str, tmp_path: Path
) -> None:
    import hashlib

    data = os.urandom(4 * 1024 * 1024)  # two seconds through the slow relay
    key = f"{prefix}/big/1/model.onnx"
    s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"sha256": hashlib.sha256(data).hexdigest()})
    uri, cache = f"s3://{bucket}/{key}", tmp_path / "cache"
    env = {
        **os.environ,
        "MODEL_URI": uri,
        "MODEL_CACHE_DIR": str(cache),
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL_S3": slow_s3.url,
    }
    load = (
        "from chalicelib.model_store import ModelStore; from chalicelib.settings import Settings; "
        "ModelStore(Settings.from_env()).get()"
    )
    process = subprocess.Popen([sys.executable, "-c", load], env=env)
    try:
        deadline = time.monotonic() + 30
        while not list(cache.glob(".partial-*")) or list(cache.glob(".partial-*"))[0].stat().st_size < 256 * 1024:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert [p.name.startswith(".partial-") for p in cache.iterdir()] == [True]  # half a file, never renamed
    # The next process ignores the half file, fetches afresh and then refuses the junk model.
    with pytest.raises(Unavailable) as err:
        make_store(uri, cache).get()
    assert err.value.code == "model_invalid"
    assert (cache / f"{hashlib.sha256(data).hexdigest()}.onnx").read_bytes() == data
    # The dead half file is still there (a live download could own it) until it is idle
    # for STALE_PARTIAL_S; then the next download clears it away.
    [partial] = cache.glob(".partial-*")
    os.utime(partial, (time.time() - STALE_PARTIAL_S - 1,) * 2)
    (cache / f"{hashlib.sha256(data).hexdigest()}.onnx").unlink()
    next(cache.glob("*.source")).unlink()
    with pytest.raises(Unavailable):
        make_store(uri, cache).get()
    assert not list(cache.glob(".partial-*"))


@pytest.fixture
def silent_s3() -> Iterator[str]:
    """A real TCP server on loopback that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_silent_s3_is_a_503_within_the_configured_timeouts(
    silent_s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", silent_s3)
    store = make_store("s3://models/m/1/model.onnx", tmp_path, S3_CONNECT_TIMEOUT_S="1", S3_READ_TIMEOUT_S="1")
    started = time.monotonic()
    with pytest.raises(Unavailable) as err:
        store.get()
    assert err.value.code == "model_store_unreachable" and err.value.headers["Retry-After"]
    assert time.monotonic() - started < 6  # two attempts of one second each, and slack
    assert list(tmp_path.iterdir()) == []


def _torchscript(path: Path, extra: dict[str, str]) -> Path:
    with torchscript_deprecation_silenced():
        # With the score output COLOUR_META's none-rule needs, as training.export writes it.
        scripted = torch.jit.script(with_rule_score(MeanColour(), COLOUR_META.none_rule).eval())
        torch.jit.save(scripted, str(path), _extra_files=extra)
    return path


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {METADATA_FILE: "{not json"},
        {METADATA_FILE: json.dumps({"name": "x"})},
        {
            METADATA_FILE: json.dumps(
                {
                    "name": "x",
                    "version": "1",
                    "architecture": "a",
                    "labels": ["only-one"],
                    "input_size": 32,
                    "resize_size": 36,
                    "mean": [0, 0, 0],
                    "std": [1, 1, 1],
                }
            )
        },
    ],
)
def test_missing_or_malformed_metadata_is_503_not_a_guess(extra: dict[str, str], tmp_path: Path) -> None:
    model = _torchscript(tmp_path / "model.pt", extra)
    with pytest.raises(Unavailable) as err:
        make_store(model.as_uri(), tmp_path / "cache").get()
    assert err.value.code == "model_invalid" and "metadata" in err.value.message


def test_an_onnx_file_without_metadata_is_503(tmp_path: Path) -> None:
    import onnx
    from training.export import export

    from tests.colour_model import COLOUR_META, colour_batch

    export(MeanColour(), COLOUR_META, tmp_path / "with-metadata.onnx", colour_batch())
    proto = onnx.load(str(tmp_path / "with-metadata.onnx"))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "model.onnx"))
    with pytest.raises(Unavailable) as err:
        make_store((tmp_path / "model.onnx").as_uri(), tmp_path / "cache").get()
    assert err.value.code == "model_invalid" and "metadata" in err.value.message


def test_a_slow_s3_is_a_503_while_the_download_goes_on_then_the_model(
    slow_s3: ThrottledRelay, bucket: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = publish(padded_model(tmp_path / "model.pt", 3 * 1024 * 1024), bucket, prefix=prefix)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", slow_s3.url)  # about 1.5 s for the download
    store = make_store(uri, tmp_path / "cache", MODEL_WAIT_S="0.3")
    with pytest.raises(Unavailable) as err:
        store.get()
    assert err.value.code == "model_loading" and err.value.headers["Retry-After"] == "2"
    assert not [p for p in (tmp_path / "cache").glob("*") if not p.name.startswith(".partial-")]  # nothing trusted
    # A client that retries gets the model from the same store once it is in: no restart.
    deadline = time.monotonic() + 60
    while True:
        try:
            model, cold = store.get()
            break
        except Unavailable as again:
            assert again.code == "model_loading" and time.monotonic() < deadline
            time.sleep(0.2)
    assert cold and model.runtime.metadata.labels == COLOUR_LABELS
    assert slow_s3.sent >= 3 * 1024 * 1024  # it all came through the slow relay


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB tmpfs: a /tmp that fills up, or that is remounted read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "tmp"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


@pytest.mark.parametrize("fault", ["full", "read-only"])
@pytest.mark.root
def test_a_full_or_read_only_tmp_is_a_503_that_leaves_nothing_and_recovers(
    fault: str, small_tmpfs: Path, bucket: str, prefix: str, tmp_path: Path
) -> None:
    uri = publish(padded_model(tmp_path / "model.pt", 2 * 1024 * 1024), bucket, prefix=prefix)
    if fault == "read-only":
        remount(small_tmpfs, "size=8m,ro")
    store = make_store(uri, small_tmpfs / "models")
    with pytest.raises(Unavailable) as err:
        store.get()
    assert err.value.code == "model_cache_unwritable" and err.value.headers["Retry-After"]
    assert [p for p in small_tmpfs.rglob("*") if p.is_file()] == []
    remount(small_tmpfs, "size=8m,rw")
    model, cold = store.get()
    assert cold and model.runtime.metadata.labels == COLOUR_LABELS
