"""Clone → first answer: what a newcomer waits for. Clones the repository's committed
HEAD into a fresh folder, runs `./scripts/serve` there as the README shows it (on free
ports), and times the first answered /predict from the clone's start. pip's cache is
whatever this machine has: warm after the project's own installs."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from devtools import ROOT
from devtools.processes import free_port, start_serve, wait_until_serving
from devtools.venvs import disk_bytes


def first_answer(work: Path, photo: bytes) -> dict[str, Any]:
    clone, log = work / "clone", work / "first-answer.log"
    started = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    serve = start_serve(clone, log, "--port", str(port), "--s3-port", str(free_port()))
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/health", serve, 900, str(log))
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict", data=photo, headers={"Content-Type": "image/jpeg"}
        )
        urllib.request.urlopen(request, timeout=120).close()
        seconds = time.perf_counter() - started
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    return {"seconds": round(seconds, 1), "serve_venv_mb": round(disk_bytes(clone / ".venv-serve") / 2**20)}
