"""How the benchmark measures: bench processes and their result lines, HTTP percentiles,
cold starts of the service as the Lambda zip ships it, the FastAPI peer, the machine."""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from chalicelib.settings import usable_cpus
from devtools import ROOT
from devtools.processes import free_port, memory_mb, wait_until_serving

from bench import RESULT
from bench.worker import interleaved


def run_json(python: Path, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[dict[str, Any], float]:
    """Runs a bench process; returns its JSON line and the wall time from spawning it to
    reading that line (the process's exit is not part of a request's latency)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(python), "-m", *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None  # a pipe, asked for above
    line = ""
    for line in process.stdout:  # the service's own log lines come first
        if line.startswith(RESULT):
            break
    wall = (time.perf_counter() - started) * 1000
    _, errors = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{errors[-3000:]}")
    return json.loads(line.removeprefix(RESULT)), wall


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {"cpu": cpu, "cores": usable_cpus(), "python": platform.python_version()}


def post(url: str, content_type: str, data: bytes) -> None:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def http_percentiles(url: str, images: dict[str, tuple[str, bytes]], n: int) -> dict[str, dict[str, float]]:
    """The same uploads over HTTP, measured as the in-process cells are (bench.worker.interleaved)."""
    return interleaved(
        {name: functools.partial(post, url, content_type, data) for name, (content_type, data) in images.items()}, n
    )


def compiled_service(python: Path, work: Path) -> Path:
    """app.py and chalicelib/ with their bytecode beside them, as the Lambda zip ships them
    (devtools/chalice_bytecode.py): a cold start there never compiles the service's source."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "app.py", work / "app.py")
    shutil.copytree(ROOT / "chalicelib", work / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(python), "-m", "compileall", "-q", str(work)], check=True, stdout=subprocess.DEVNULL)
    return work


def cold_starts(python: Path, env: dict[str, str], runs: int, work: Path, photo: Path) -> dict[str, Any]:
    """Median of runs: each from an empty cache folder, then each reusing a verified file."""
    service = compiled_service(python, work / "service")
    env = {**env, "PYTHONPATH": str(ROOT)}  # bench.cold; app and chalicelib come first, from the copy
    out = {}
    for mode in ("empty_tmp", "verified_file_in_tmp"):
        samples = []
        for i in range(runs):
            cache = work / (f"cold-{i}" if mode == "empty_tmp" else "cold-0")
            split, wall = run_json(python, ["bench.cold", str(photo)], {**env, "MODEL_CACHE_DIR": str(cache)}, service)
            samples.append({**split, "process_to_answer_ms": round(wall, 1)})
        out[mode] = {key: round(statistics.median(s[key] for s in samples), 1) for key in samples[0] if key != "label"}
    return out


def peer(model: Path, images: dict[str, tuple[str, bytes]], n: int, work: Path) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PEER_MODEL": str(model)}
    log = (work / "peer.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.peer_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/predict"
        wait_until_serving(f"http://127.0.0.1:{port}/docs", process, 60, log.name)
        return {"http": http_percentiles(url, images, n), "peak_rss_mb": memory_mb(process.pid, "VmHWM")}
    finally:
        process.terminate()
        process.wait(10)
        log.close()
