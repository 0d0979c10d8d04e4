"""One runtime, in its own process (so that its peak RSS is its own): the floors and warm
latency through the Chalice handler in process. Prints one JSON document.

    MODEL_URI=… MODEL_CACHE_DIR=… python -m bench.worker --requests 200 --images DIR
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.images import read_images
from devtools.apigateway import api_event


class Context:
    function_name = "bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


RESULT = "BENCH-RESULT"  # marks the result line among the service's own log lines


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM, this process's own peak: getrusage's ru_maxrss survives exec and so can report
    the high-water mark of the (larger) parent that forked it."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024, 1)


def percentiles(fn: Callable[[], Any], n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {"p50": round(float(np.percentile(times, 50)), 2), "p99": round(float(np.percentile(times, 99)), 2),
            "n": n}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--images", type=Path, required=True)
    args = parser.parse_args()

    import app

    from chalicelib.imaging import decode, preprocess

    images = read_images(args.images)
    context = Context()
    events = {name: api_event("POST", "/predict", data, {"Content-Type": kind}) for name, (kind, data) in images.items()}
    first = app.app(events["jpeg_224"], context)
    assert first["statusCode"] == 200, first
    runtime = app.store.loaded.runtime
    meta = runtime.metadata
    result: dict[str, Any] = {"runtime": runtime.name, "threads": app.settings.threads, "warm_in_process": {},
                              "rss_mb_after": {"first_answer": peak_rss_mb()}}
    for name, event in events.items():
        for _ in range(5):
            app.app(event, context)
        result["warm_in_process"][name] = percentiles(lambda e=event: app.app(e, context), args.requests)
        result["rss_mb_after"][name] = peak_rss_mb()

    batch = preprocess(decode(images["jpeg_224"][1], meta.resize_size, 10**9), meta)
    result["floor_forward"] = percentiles(lambda: runtime.probabilities(batch), args.requests)
    photo = images["jpeg_12mp"][1]
    result["floor_request_12mp"] = percentiles(
        lambda: runtime.probabilities(preprocess(decode(photo, meta.resize_size, 10**9), meta)), args.requests)
    # How large the 12 MP (4000x3000) photo is when decoded: proof that it never is in full.
    result["decoded_12mp_size"] = list(decode(photo, meta.resize_size, 10**9).size)
    result["peak_rss_mb"] = peak_rss_mb()
    print(RESULT, json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
