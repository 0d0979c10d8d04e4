"""./scripts/serve and ./scripts/local-s3 refusing what they cannot do, before anything
starts: ports that belong to someone else (nothing is sent to the server that holds the
port) and a model file serving's environment cannot run. One line, a non-zero exit."""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from devtools import ROOT
from devtools.local_s3 import running
from devtools.processes import free_port

pytestmark = pytest.mark.slow


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def _any(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.end_headers()

    do_GET = do_PUT = do_HEAD = do_POST = _any

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def foreign_server() -> Iterator[tuple[int, list[str]]]:
    """A plain HTTP server, not the project's, on a loopback port; what it was asked."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Recorder.seen
    server.shutdown()
    server.server_close()


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_serve_refuses_a_web_port_in_use(foreign_server: tuple[int, list[str]]) -> None:
    port, seen = foreign_server
    result = run("./scripts/serve", "--port", str(port), "--s3-port", str(free_port()))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: 127.0.0.1:{port} is already in use (another ./scripts/serve?): stop that server or pass --port N"
    )
    assert "Traceback" not in result.stderr and "serving on" not in result.stdout and not seen


@pytest.mark.skipif(running() is not None, reason="./scripts/local-s3 runs here: serve would use it")
@pytest.mark.parametrize("command", [["./scripts/serve", "--port", "{free}"], ["./scripts/local-s3", "start"]])
def test_an_s3_port_held_by_another_server_is_left_alone(
    foreign_server: tuple[int, list[str]], command: list[str]
) -> None:
    port, seen = foreign_server
    argv = [part.format(free=free_port()) for part in command]
    result = run(*argv, "--s3-port", str(port))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: 127.0.0.1:{port} is in use by a server ./scripts/local-s3 did not start: stop it or pass --s3-port N"
    )
    assert seen == []  # no create-bucket PUT, no probe: not a byte to a server we did not start


def test_serve_refuses_a_torchscript_file_it_cannot_run(tmp_path: Path) -> None:
    model = tmp_path / "model.pt"
    model.write_bytes(b"not looked at: torch is missing before the file is read")
    result = run("./scripts/serve", "--model", str(model), "--port", str(free_port()), "--s3-port", str(free_port()))
    assert result.returncode != 0 and "Traceback" not in result.stderr and "starting" not in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: --model {model} needs torch, which")


def test_a_started_seaweedfs_must_hold_its_port_itself(
    foreign_server: tuple[int, list[str]], local_s3, tmp_path: Path
) -> None:
    """The race the refusals above leave: the port is taken between the check and the start.
    Whatever answers then is not taken for SeaweedFS; nothing but the readiness probe is sent."""
    from devtools.local_s3 import LocalS3
    from devtools.processes import holds_listener

    assert holds_listener(local_s3.pid, local_s3.ports["s3.port"]) is True
    port, seen = foreign_server
    assert holds_listener(local_s3.pid, port) is False
    server = LocalS3(tmp_path / "s3", s3_port=port)
    with pytest.raises(RuntimeError):
        server.start()
    assert server.pid is None and all(request.startswith("GET ") for request in seen)


def test_serve_replaces_a_version_its_local_s3_holds_with_other_bytes(s3, tmp_path: Path) -> None:
    """The demo rebuilt at the same version: .local-s3 still holds the old file, which would be served."""
    import uuid

    import torch
    from devtools.serve import ensure_published
    from training.export import export

    from tests.colour_model import COLOUR_META, MeanColour, colour_batch

    old, new = tmp_path / "old" / "model.onnx", tmp_path / "new" / "model.onnx"
    export(MeanColour(), COLOUR_META, old, colour_batch())
    retrained = MeanColour()
    with torch.no_grad():
        retrained.fc.weight.mul_(2)
    export(retrained, COLOUR_META, new, colour_batch())
    bucket = f"serve-{uuid.uuid4().hex[:8]}"
    [uri] = ensure_published([old], bucket)
    assert ensure_published([old], bucket) == [uri]
    assert ensure_published([new], bucket) == [uri]
    key = uri.split(f"s3://{bucket}/")[1]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == new.read_bytes()


def test_serve_help_names_the_command_and_every_default() -> None:
    shown = subprocess.run(["./scripts/serve", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: ./scripts/serve ")
    words = " ".join(shown.stdout.split())  # argparse wraps its lines
    assert "where chalice local serves, on 127.0.0.1 (default: 8000)" in words
    assert "(SeaweedFS) answers (default: 8333)" in words and "(default: None)" not in words
