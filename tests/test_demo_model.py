"""The demo as a newcomer gets it: the committed ONNX file answers like the committed
checkpoint, and `./scripts/serve`, run as the README shows it, serves it with no torch."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from chalicelib.runtimes import load_runtime
from devtools import ROOT
from devtools.demo_model import CHECKPOINT, SERVED, check_images
from devtools.processes import free_port, port_in_use, start_serve, wait_until_serving
from devtools.venvs import SERVE_VENV, disk_bytes
from training.checkpoint import load_checkpoint
from training.explain import exported
from training.export import assert_parity

from tests.support import readme_python, run_readme_block

pytestmark = pytest.mark.slow

SERVE_VENV_LIMIT_MB = 1024


def test_the_served_file_is_the_checkpoint_exported() -> None:
    model, meta = load_checkpoint(CHECKPOINT)
    assert load_runtime(SERVED).metadata == meta
    assert_parity(exported(model, meta.none_rule).eval(), SERVED, check_images())


def test_the_readmes_re_export_command_leaves_a_current_file_be() -> None:
    before = SERVED.stat().st_mtime_ns
    result = subprocess.run(
        [".venv/bin/python", "-m", "devtools.demo_model"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and "answers like the checkpoint; left as it is" in result.stdout, result.stderr
    assert SERVED.stat().st_mtime_ns == before


def post_jpeg(url: str, data: bytes) -> dict:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "image/jpeg"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.skipif(any(port_in_use(p) for p in (8000, 8333)), reason="the README's ports 8000 and 8333 are taken")
def test_scripts_serve_as_written_serves_the_demo_without_torch(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    serve = start_serve(ROOT, log)  # stopped as a user stops it (SIGTERM stops both servers)
    try:
        wait_until_serving("http://127.0.0.1:8000/health", serve, 600, str(log))
        # The README's curl command, as written, on the example it names.
        curl = run_readme_block("What the tests do: [docs/tests.md](docs/tests.md). Then:", ROOT, timeout=120)
        assert curl.returncode == 0, curl.stderr
        shown = json.loads(curl.stdout)
        assert shown["recognised"] is True and shown["label"] == "donut" and shown["cold_start"] is True
        explain = run_readme_block("**Where the model looked.**", ROOT, timeout=120)
        explained = json.loads(explain.stdout)["explanation"]
        assert explained["label"] == "donut" and len(explained["map"]) == 9, explain.stderr  # Lite2 at 260 px
        # The README's upload sequence, both ways, as written (serve made the upload bucket).
        uploaded = run_readme_block("### Photos over the limit", ROOT, timeout=120)
        assert uploaded.returncode == 0, uploaded.stderr
        assert json.loads(uploaded.stdout.splitlines()[-1])["label"] == "vada"
        client = subprocess.run(
            [".venv/bin/python", "-c", readme_python("### Photos over the limit")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert client.returncode == 0 and client.stdout == "vada\n", client.stderr
        answer = post_jpeg(
            "http://127.0.0.1:8000/predict?top_k=3", (ROOT / "chalicelib/examples/bagel.jpg").read_bytes()
        )
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())
        assert answer["model"]["name"] == "donut-bagel-vada" and answer["cold_start"] is False
        assert sorted(p["label"] for p in answer["predictions"]) == ["bagel", "donut", "vada"]
        with urllib.request.urlopen("http://127.0.0.1:8000/model", timeout=10) as response:
            described = json.loads(response.read())
        assert described["source_uri"] == config["stages"]["dev"]["environment_variables"]["MODEL_URI"]
        assert described["sha256"] == hashlib.sha256(SERVED.read_bytes()).hexdigest()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert not port_in_use(8000) and not port_in_use(8333), log.read_text()[-2000:]
    python = SERVE_VENV / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import torch"], capture_output=True).returncode != 0
    assert disk_bytes(SERVE_VENV) / 2**20 < SERVE_VENV_LIMIT_MB


def test_signals_that_keep_coming_while_serve_stops_leave_no_server_running(tmp_path: Path) -> None:
    """timeout(1), a supervisor or an impatient Ctrl+C signal again while serve is stopping."""
    web, s3 = free_port(), free_port()
    log = tmp_path / "serve.log"
    serve = start_serve(ROOT, log, "--port", str(web), "--s3-port", str(s3))
    try:
        wait_until_serving(f"http://127.0.0.1:{web}/health", serve, 600, str(log))
        # With a model loaded, chalice local takes long enough to stop for a signal to land meanwhile.
        post_jpeg(f"http://127.0.0.1:{web}/predict", (ROOT / "chalicelib/examples/bagel.jpg").read_bytes())
        deadline = time.monotonic() + 60
        while serve.poll() is None and time.monotonic() < deadline:
            serve.send_signal(signal.SIGTERM)
            time.sleep(0.02)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert not port_in_use(web) and not port_in_use(s3), log.read_text()[-2000:]


def test_the_repositorys_binary_files_stay_within_30_mb() -> None:
    """What a clone downloads besides text: the demo's checkpoint and served file, figures
    and fuzz regressions. A bigger model belongs in S3, not in git."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    binary = [ROOT / name.decode() for name in files if name and b"\0" in (ROOT / name.decode()).read_bytes()[:8192]]
    assert SERVED in binary
    assert sum(path.stat().st_size for path in binary) <= 30 * 10**6
