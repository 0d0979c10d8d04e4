"""python -m bench: cold start, warm latency, floors and memory of both runtimes, beside the
seed's FastAPI + torch stack, the demo network's forward beside ResNet-18's, and a fresh
clone's wait for its first answer, in one run so that machine noise touches all alike.

Prints a table and the targets, and writes JSON (default bench/results/latest.json).
Never run by the tests: timing belongs here, not in assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import boto3
from devtools.demo_model import build_demo_models
from devtools.local_chalice import chalice_local, copy_project
from devtools.local_s3 import LocalS3
from devtools.venvs import ensure_torch_cpu_venv
from training.publish import publish

from bench.cost import cost_per_million
from bench.first_answer import first_answer
from bench.images import read_images, write_images
from bench.measure import cold_starts, http_percentiles, machine, peer, run_json
from bench.networks import forward_times
from bench.report import DEFAULT_RESULTS, table, targets
from bench.training import training_times


def runtime_results(
    runtime: str, python: Path, env: dict[str, str], work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One runtime's cells: in process, cold starts, over HTTP on chalice local, and cost."""
    print(f"{runtime}: in-process", flush=True)
    in_process, _ = run_json(
        python, ["bench.worker", "--requests", str(args.requests), "--images", str(work / "images")], env
    )
    print(f"{runtime}: cold starts", flush=True)
    cold = cold_starts(python, env, args.cold_runs, work / runtime, work / "images" / "jpeg_224.jpg")
    print(f"{runtime}: HTTP through chalice local", flush=True)
    project = copy_project(work / f"{runtime}-project", {"MODEL_URI": env["MODEL_URI"]})
    with chalice_local(project, work / f"{runtime}-project", python) as base:
        http = http_percentiles(f"{base}/predict", read_images(work / "images"), args.requests)
    return {
        "in_process": in_process,
        "cold": cold,
        "http": http,
        "cost_per_million": cost_per_million(in_process["warm_in_process"]["jpeg_1mp"]["p50"]),
    }


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
                runtime_env = {
                    **env,
                    "MODEL_URI": publish(models[suffix], "bench-models"),
                    "MODEL_CACHE_DIR": str(work / f"{runtime}-cache"),
                }
                results[runtime] = runtime_results(runtime, pythons[runtime], runtime_env, work, args)
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
