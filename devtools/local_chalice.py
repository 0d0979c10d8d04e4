"""`chalice local` on a copy of the project with its own stage settings, on a free port:
for the tests and the benchmark."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from devtools import ROOT
from devtools.processes import free_port, wait_until_serving


def copy_project(dest: Path, dev_env: dict[str, str]) -> Path:
    """The service's files (what Chalice serves and packages) with more environment
    variables for the dev stage, as a user would set them in .chalice/config.json."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "app.py", dest)
    shutil.copy(ROOT / "requirements.txt", dest)
    shutil.copytree(ROOT / "chalicelib", dest / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    # deployments/ holds Chalice's cache of built dependencies: reusing it saves a rebuild.
    shutil.copytree(ROOT / ".chalice", dest / ".chalice", dirs_exist_ok=True)
    config = json.loads((dest / ".chalice" / "config.json").read_text())
    config["stages"]["dev"]["environment_variables"].update(dev_env)
    (dest / ".chalice" / "config.json").write_text(json.dumps(config))
    return dest


@contextlib.contextmanager
def chalice_local(project: Path, work: Path, python: Path = Path(sys.executable)) -> Iterator[str]:
    """`chalice local --no-autoreload` for project on a free port, from python's environment;
    yields its base URL and stops it by process id, whatever happens. The process id is in
    work/chalice-local.pid."""
    port = free_port()
    env = {**os.environ, "MODEL_CACHE_DIR": str(work / "model-cache")}
    log = (work / "chalice-local.log").open("wb")
    chalice = python.parent / "chalice"
    process = subprocess.Popen(
        [str(chalice), "local", "--no-autoreload", "--host", "127.0.0.1", "--port", str(port), "--stage", "dev"],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    (work / "chalice-local.pid").write_text(str(process.pid))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/health", process, 60, log.name)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
