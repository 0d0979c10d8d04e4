"""One runtime, in its own process (so that its peak RSS is its own): the floors and warm
latency through the Chalice handler in process. Prints one JSON document.

    MODEL_URI=… MODEL_CACHE_DIR=… python -m bench.worker --requests 200 --images DIR
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import tempfile
import time
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

import numpy as np
from devtools.apigateway import api_event
from devtools.processes import memory_mb

from bench import RESULT
from bench.images import read_images


class Context:
    function_name = "bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


def interleaved(cells: Mapping[str, Callable[[], Any]], n: int, rounds: int = 10) -> dict[str, dict[str, float]]:
    """p50/p99 of n calls of each cell, taken in rounds that alternate between the cells, so
    that a slow spell of the machine touches every cell alike (the targets are ratios)."""
    times: dict[str, list[float]] = {name: [] for name in cells}
    for name, fn in cells.items():  # warm-up, not counted
        for _ in range(5):
            fn()
    for r in range(rounds):
        for name, fn in cells.items():
            for _ in range(n // rounds + (r < n % rounds)):
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) * 1000)
    return {
        name: {"p50": round(float(np.percentile(t, 50)), 2), "p99": round(float(np.percentile(t, 99)), 2), "n": n}
        for name, t in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--images", type=Path, required=True)
    args = parser.parse_args()

    import app
    from chalicelib.imaging import decode, preprocess

    images = read_images(args.images)
    context = Context()
    events = {
        name: api_event("POST", "/predict", data, {"Content-Type": kind}) for name, (kind, data) in images.items()
    }
    first = app.app(events["jpeg_224"], context)
    assert first["statusCode"] == 200, first
    assert app.store.loaded is not None  # the first answer loaded it
    runtime = app.store.loaded.runtime
    meta = runtime.metadata
    library = "onnxruntime" if runtime.name == "onnx" else "torch"
    result: dict[str, Any] = {
        "runtime": runtime.name,
        "library": f"{library} {version(library)}",
        "threads": app.settings.threads,
        "rss_mb_at_first_answer": memory_mb("self", "VmHWM"),
    }
    batch = preprocess(decode(images["jpeg_224"][1], meta.resize_size, 10**9), meta)
    photo = images["jpeg_12mp"][1]
    cells: dict[str, Callable[[], Any]] = {
        name: functools.partial(app.app, event, context) for name, event in events.items()
    }
    # The same 1 MP upload asking where the model looked (the maps are computed either way).
    explain = api_event(
        "POST", "/predict", images["jpeg_1mp"][1], {"Content-Type": images["jpeg_1mp"][0]}, {"explain": "1"}
    )
    cells["jpeg_1mp_explain"] = functools.partial(app.app, explain, context)
    cells["floor_forward"] = functools.partial(runtime.run, batch)
    cells["floor_request_12mp"] = lambda: runtime.run(preprocess(decode(photo, meta.resize_size, 10**9), meta))
    # The service's log lines go to a file, as in Lambda they go to CloudWatch: sent
    # through the pipe, each would wake the reading parent, which then competes with the
    # runtime's threads for the two cores, slowing only the cells that log.
    with tempfile.TemporaryFile("w") as log, contextlib.redirect_stdout(log):
        measured = interleaved(cells, args.requests)
    result["floor_forward"] = measured.pop("floor_forward")
    result["floor_request_12mp"] = measured.pop("floor_request_12mp")
    result["warm_in_process"] = measured
    # How large the 12 MP (4000x3000) photo is when decoded: proof that it never is in full.
    result["decoded_12mp_size"] = list(decode(photo, meta.resize_size, 10**9).size)
    result["peak_rss_mb"] = memory_mb("self", "VmHWM")
    print(RESULT, json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
