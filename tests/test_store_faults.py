"""Model-store faults with real parts: a process killed mid-download, an S3 endpoint that
accepts connections and never answers, model files whose metadata is missing or wrong."""

from __future__ import annotations

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

from chalicelib.errors import ModelUnavailable
from chalicelib.metadata import METADATA_FILE
from chalicelib.runtimes import torchscript_deprecation_silenced
from tests.conftest import ROOT, MeanColour, make_store

# Runs in its own process: downloads MODEL_URI through a body that yields 64 KB every 20 ms.
SLOW_DOWNLOAD = """
import sys, time
from chalicelib.model_store import ModelStore, s3_client
from chalicelib.settings import Settings

class Slow:
    def __init__(self, body): self.body = body
    def read(self, n=-1):
        time.sleep(0.02)
        return self.body.read(64 * 1024)

class Client:
    def __init__(self, real): self.real = real
    def head_object(self, **kw): return self.real.head_object(**kw)
    def get_object(self, **kw):
        answer = self.real.get_object(**kw)
        return {**answer, "Body": Slow(answer["Body"])}

ModelStore(Settings.from_env(), lambda s: Client(s3_client(s))).get()
"""


def test_a_download_killed_midway_is_never_trusted(s3: Any, bucket: str, prefix: str, tmp_path: Path) -> None:
    import hashlib

    data = os.urandom(4 * 1024 * 1024)  # ~1.3 s at the slow body's pace
    key = f"{prefix}/big/1/model.onnx"
    s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"sha256": hashlib.sha256(data).hexdigest()})
    uri, cache = f"s3://{bucket}/{key}", tmp_path / "cache"
    env = {**os.environ, "MODEL_URI": uri, "MODEL_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", SLOW_DOWNLOAD], env=env)
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
    with pytest.raises(ModelUnavailable) as err:
        make_store(uri, cache).get()
    assert err.value.code == "model_invalid"
    assert (cache / f"{hashlib.sha256(data).hexdigest()}.onnx").read_bytes() == data


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


def test_a_silent_s3_is_a_503_within_the_configured_timeouts(silent_s3: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", silent_s3)
    store = make_store("s3://models/m/1/model.onnx", tmp_path, S3_CONNECT_TIMEOUT_S="1", S3_READ_TIMEOUT_S="1")
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as err:
        store.get()
    assert err.value.code == "model_store_unreachable" and err.value.headers["Retry-After"]
    assert time.monotonic() - started < 6  # two attempts of one second each, and slack
    assert list(tmp_path.iterdir()) == []


def _torchscript(path: Path, extra: dict[str, str]) -> Path:
    with torchscript_deprecation_silenced():
        torch.jit.save(torch.jit.script(MeanColour().eval()), str(path), _extra_files=extra)
    return path


@pytest.mark.parametrize("extra", [{}, {METADATA_FILE: "{not json"}, {METADATA_FILE: json.dumps({"name": "x"})},
                                   {METADATA_FILE: json.dumps({"name": "x", "version": "1", "architecture": "a",
                                                               "labels": ["only-one"], "input_size": 32,
                                                               "resize_size": 36, "mean": [0, 0, 0], "std": [1, 1, 1]})}])
def test_missing_or_malformed_metadata_is_503_not_a_guess(extra: dict[str, str], tmp_path: Path) -> None:
    model = _torchscript(tmp_path / "model.pt", extra)
    with pytest.raises(ModelUnavailable) as err:
        make_store(model.as_uri(), tmp_path / "cache").get()
    assert err.value.code == "model_invalid" and "metadata" in err.value.message


def test_an_onnx_file_without_metadata_is_503(tmp_path: Path) -> None:
    import onnx

    from tests.conftest import COLOUR_META, colour_batch
    from training.export import export

    export(MeanColour(), COLOUR_META, tmp_path / "with-metadata.onnx", colour_batch())
    proto = onnx.load(str(tmp_path / "with-metadata.onnx"))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "model.onnx"))
    with pytest.raises(ModelUnavailable) as err:
        make_store((tmp_path / "model.onnx").as_uri(), tmp_path / "cache").get()
    assert err.value.code == "model_invalid" and "metadata" in err.value.message
