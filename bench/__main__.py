"""python -m bench: cold start, warm latency, floors and memory of both runtimes, beside the
seed's FastAPI + torch stack, the demo network's forward beside ResNet-18's, and a fresh
clone's wait for its first answer, in one run so that machine noise touches all alike.

Prints a table and the targets, and writes JSON (default bench/results/latest.json).
Never run by the tests: timing belongs here, not in assertions.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import boto3
from chalicelib.settings import usable_cpus
from devtools import ROOT
from devtools.demo_model import build_demo_models
from devtools.local_chalice import chalice_local, copy_project
from devtools.local_s3 import LocalS3
from devtools.processes import free_port, memory_mb, wait_until_serving
from devtools.venvs import ensure_torch_cpu_venv
from training.publish import publish

from bench import RESULT
from bench.first_answer import first_answer
from bench.images import KINDS, read_images, write_images
from bench.networks import forward_times
from bench.training import training_times
from bench.worker import interleaved

LAMBDA_MEMORY_MB = 1769
PRICE_GB_S = 0.0000166667  # x86 Lambda, us-east-1, first tier
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_API_GATEWAY_REQUEST = 3.50 / 1e6  # REST API, first 333 million a month
DEFAULT_RESULTS = ROOT / "bench" / "results" / "latest.json"


def run_json(python: Path, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[dict[str, Any], float]:
    """Runs a bench process; returns its JSON line and the wall time from spawning it to
    reading that line (the process's exit is not part of a request's latency)."""
    started = time.perf_counter()
    process = subprocess.Popen([str(python), "-m", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
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
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": usable_cpus(), "python": platform.python_version()}


def post(url: str, content_type: str, data: bytes) -> None:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def http_percentiles(url: str, images: dict[str, tuple[str, bytes]], n: int) -> dict[str, dict[str, float]]:
    """The same uploads over HTTP, measured as the in-process cells are (bench.worker.interleaved)."""
    return interleaved({name: functools.partial(post, url, content_type, data)
                        for name, (content_type, data) in images.items()}, n)


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
        out[mode] = {key: round(statistics.median(s[key] for s in samples), 1)
                     for key in samples[0] if key != "label"}
    return out


def peer(model: Path, images: dict[str, tuple[str, bytes]], n: int, work: Path) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PEER_MODEL": str(model)}
    log = (work / "peer.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.peer_app:app", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/predict"
        wait_until_serving(f"http://127.0.0.1:{port}/docs", process, 60, log.name)
        result = {"http": http_percentiles(url, images, n)}
        result["peak_rss_mb"] = memory_mb(process.pid, "VmHWM")
        return result
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def cost_per_million(ms: float) -> dict[str, float]:
    compute = (int(ms) + 1) / 1000 * LAMBDA_MEMORY_MB / 1024 * PRICE_GB_S * 1e6
    return {"billed_ms": int(ms) + 1, "lambda_compute_usd": round(compute, 2),
            "lambda_requests_usd": round(PRICE_LAMBDA_REQUEST * 1e6, 2),
            "api_gateway_usd": round(PRICE_API_GATEWAY_REQUEST * 1e6, 2),
            "total_usd": round(compute + (PRICE_LAMBDA_REQUEST + PRICE_API_GATEWAY_REQUEST) * 1e6, 2)}


def targets(r: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(target, measured, limit, met)."""
    rows = []
    for runtime in ("onnx", "torchscript"):
        w = r[runtime]["in_process"]
        rows.append(
            (
                f"{runtime}: warm p50 224 px JPEG / bare forward",
                w["warm_in_process"]["jpeg_224"]["p50"] / w["floor_forward"]["p50"],
                1.2,
            )
        )
        rows.append(
            (
                f"{runtime}: warm p50 12 MP JPEG / request floor",
                w["warm_in_process"]["jpeg_12mp"]["p50"] / w["floor_request_12mp"]["p50"],
                1.3,
            )
        )
    rows.append(
        (
            "onnx: warm p50 12 MP JPEG over HTTP / FastAPI peer",
            r["onnx"]["http"]["jpeg_12mp"]["p50"] / r["peer"]["http"]["jpeg_12mp"]["p50"],
            0.35,
        )
    )
    rows.append(("onnx: cold start, model from S3 (ms)", r["onnx"]["cold"]["empty_tmp"]["process_to_answer_ms"], 500))
    rows.append(
        (
            "torchscript: cold start, model from S3 (ms)",
            r["torchscript"]["cold"]["empty_tmp"]["process_to_answer_ms"],
            2500,
        )
    )
    rows.append(
        (
            "onnx: cold start, verified file in /tmp (ms)",
            r["onnx"]["cold"]["verified_file_in_tmp"]["process_to_answer_ms"],
            300,
        )
    )
    rows.append(("onnx: peak RSS (MB)", r["onnx"]["in_process"]["peak_rss_mb"], 200))
    rows.append(("torchscript: peak RSS (MB)", r["torchscript"]["in_process"]["peak_rss_mb"], 600))
    rows.append(("clone → first answer, pip cache warm (s)", r["first_answer"]["seconds"], 90))
    rows.append(("serving environment, .venv-serve (MB)", r["first_answer"]["serve_venv_mb"], 1024))
    for run, limit in zip(r["training"]["runs"], (60, 300)):
        rows.append((f"train + export, {run['photos']} photos of {run['photo_size']} (s)", run["total_s"], limit))
    rows.append(("export alone (s)", max(run["export_s"] for run in r["training"]["runs"]), 15))
    return [(name, round(value, 3), limit, value <= limit) for name, value, limit in rows]


def table(r: dict[str, Any]) -> str:
    lines = [
        f"donut-or-not benchmark, {r['date']}, {r['machine']['cpu']} ({r['machine']['cores']} cores), "
        f"{r['requests']} requests per cell; onnx on {r['onnx']['in_process']['library']}, torchscript on "
        f"{r['torchscript']['in_process']['library']}",
        "",
        f"{'warm p50 / p99 ms':28}" + "".join(f"{k:>20}" for k in KINDS),
    ]
    for who, path in (
        ("onnx in-process", ("onnx", "in_process", "warm_in_process")),
        ("onnx HTTP", ("onnx", "http")),
        ("torchscript in-process", ("torchscript", "in_process", "warm_in_process")),
        ("torchscript HTTP", ("torchscript", "http")),
        ("FastAPI peer HTTP", ("peer", "http")),
    ):
        cells = r
        for key in path:
            cells = cells[key]
        lines.append(f"{who:28}" + "".join(f"{cells[k]['p50']:>10.1f} / {cells[k]['p99']:<7.1f}" for k in KINDS))
    lines += ["", "explain=1, 1 MP JPEG in-process, warm p50 with / without (ms)"]
    for runtime in ("onnx", "torchscript"):
        warm = r[runtime]["in_process"]["warm_in_process"]
        lines.append(f"  {runtime:26}{warm['jpeg_1mp_explain']['p50']:>8.1f} / {warm['jpeg_1mp']['p50']:<8.1f}")
    lines += ["", f"{'':28}{'forward p50':>14}{'12 MP floor':>14}{'peak RSS MB':>14}"]
    for runtime in ("onnx", "torchscript"):
        w = r[runtime]["in_process"]
        lines.append(
            f"{runtime:28}{w['floor_forward']['p50']:>14.1f}{w['floor_request_12mp']['p50']:>14.1f}{w['peak_rss_mb']:>14.1f}"
        )
    lines.append(f"{'FastAPI peer':28}{'':>28}{r['peer']['peak_rss_mb']:>14.1f}")
    networks = r["networks"]
    lines += [
        "",
        f"network, bare ONNX forward at {networks['input_size']} px, {networks['threads']} threads   p50 / p99 ms",
    ]
    lines += [f"  {name:40}{cell['p50']:>8.1f} / {cell['p99']:<7.1f}" for name, cell in networks["forward_ms"].items()]
    lines += ["", "cold start (median ms)         process→answer   import    fetch     load   1st inference"]
    for runtime in ("onnx", "torchscript"):
        for mode, c in r[runtime]["cold"].items():
            lines.append(
                f"{runtime + ', ' + mode:31}{c['process_to_answer_ms']:>14.0f}{c['import_ms']:>9.0f}"
                f"{c['fetch_ms']:>9.0f}"
                f"{c['load_ms']:>9.0f}{c['first_inference_ms']:>16.1f}"
            )
    first = r["first_answer"]
    lines += [
        "",
        f"clone → first answer through ./scripts/serve: {first['seconds']} s (.venv-serve {first['serve_venv_mb']} MB)",
    ]
    lines += ["", "from image folders to an ONNX file (python -m training train, then export; empty image cache)"]
    lines += [
        f"  {run['photos']:>5} photos of {run['photo_size']:9}  train {run['train_s']:>6.1f} s  "
        f"export {run['export_s']:>5.1f} s"
        for run in r["training"]["runs"]
    ]
    lines += ["", "Lambda cost per million requests (1 MP JPEG, warm p50, 1769 MB, API Gateway REST)"]
    for runtime in ("onnx", "torchscript"):
        c = r[runtime]["cost_per_million"]
        lines.append(
            f"  {runtime:12} billed {c['billed_ms']} ms: compute ${c['lambda_compute_usd']}, requests "
            f"${c['lambda_requests_usd']}, API Gateway ${c['api_gateway_usd']}: total ${c['total_usd']}"
        )
    lines += ["", "targets"]
    lines += [f"  {'met ' if met else 'MISS'} {name}: {value} (≤ {limit})" for name, value, limit, met in r["targets"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="requests per cell (≥ 200 for the README)")
    parser.add_argument("--cold-runs", type=int, default=9)
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args()

    models = {m.suffix: m for m in build_demo_models()}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        write_images(work / "images")
        images = read_images(work / "images")
        s3 = LocalS3(work / "s3").start()
        try:
            env = {**os.environ, **s3.client_env()}
            os.environ.update(s3.client_env())
            boto3.client("s3").create_bucket(Bucket="bench-models")
            results: dict[str, Any] = {
                "date": date.today().isoformat(),
                "requests": args.requests,
                "machine": machine(),
            }
            # TorchScript runs on torch's CPU build, as the container image ships it; .venv
            # has the CUDA build (torchvision needs it), which takes twice the memory.
            pythons = {"onnx": Path(sys.executable), "torchscript": ensure_torch_cpu_venv() / "bin" / "python"}
            for runtime, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
                python = pythons[runtime]
                uri = publish(models[suffix], "bench-models")
                runtime_env = {**env, "MODEL_URI": uri, "MODEL_CACHE_DIR": str(work / f"{runtime}-cache")}
                print(f"{runtime}: in-process", flush=True)
                in_process, _ = run_json(
                    python,
                    ["bench.worker", "--requests", str(args.requests), "--images", str(work / "images")],
                    runtime_env,
                )
                print(f"{runtime}: cold starts", flush=True)
                cold = cold_starts(
                    python, runtime_env, args.cold_runs, work / runtime, work / "images" / "jpeg_224.jpg"
                )
                print(f"{runtime}: HTTP through chalice local", flush=True)
                project = copy_project(work / f"{runtime}-project", {"MODEL_URI": uri})
                with chalice_local(project, work / f"{runtime}-project", python) as base:
                    http = http_percentiles(f"{base}/predict", images, args.requests)
                results[runtime] = {
                    "in_process": in_process,
                    "cold": cold,
                    "http": http,
                    "cost_per_million": cost_per_million(in_process["warm_in_process"]["jpeg_1mp"]["p50"]),
                }
            print("FastAPI peer", flush=True)
            results["peer"] = peer(models[".pt"], images, args.requests, work)
            print("networks: bare ONNX forward", flush=True)
            results["networks"] = forward_times(models[".onnx"], work, args.requests)
            print("clone → first answer through ./scripts/serve", flush=True)
            results["first_answer"] = first_answer(work, (work / "images" / "jpeg_224.jpg").read_bytes())
            results["training"] = {
                "date": results["date"],
                "machine": results["machine"],
                "runs": training_times(work / "training"),
            }
        finally:
            s3.stop()
    results["targets"] = targets(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
