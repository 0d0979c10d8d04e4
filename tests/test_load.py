"""A bounded load test on loopback against chalice local: several clients, valid and
invalid bodies mixed, every answer checked against its image's known label."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
from devtools.local_chalice import chalice_local, copy_project
from devtools.processes import memory_mb
from training.publish import publish

from tests import imagefiles as f

pytestmark = pytest.mark.slow

REQUESTS = 1200
CLIENTS = 4
# (content type, body, expected status, expected label)
CASES = [
    ("image/jpeg", f.jpeg(f.RED, size=(640, 480)), 200, "red"),
    ("image/png", f.png(f.GREEN, size=(300, 300)), 200, "green"),
    ("image/webp", f.encode(f.solid(f.BLUE, (500, 400)), "WEBP", lossless=True), 200, "blue"),
    ("image/jpeg", f.truncated_jpeg(), 400, None),
    ("image/png", b"definitely not a png", 400, None),
    ("text/plain", b"hello", 415, None),
    ("image/png", f.png_bomb(), 413, None),
]


@pytest.fixture(scope="module")
def loaded_server(
    tmp_path_factory: pytest.TempPathFactory, bucket: str, colour_model: Path
) -> Iterator[tuple[str, int]]:
    work = tmp_path_factory.mktemp("load")
    uri = publish(colour_model, bucket, prefix=f"load-{work.name}")
    with chalice_local(copy_project(work / "project", {"MODEL_URI": uri, "LOG_LEVEL": "WARNING"}), work) as base:
        yield base, int((work / "chalice-local.pid").read_text())


def send(base: str, case: tuple) -> tuple[int, str | None, float]:
    content_type, body, _, _ = case
    request = urllib.request.Request(
        f"{base}/predict", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        status, answer = error.code, json.loads(error.read())
    return status, answer.get("label"), (time.perf_counter() - started) * 1000


def test_mixed_load_has_no_5xx_no_wrong_answer_and_flat_memory(loaded_server: tuple[str, int]) -> None:
    base, pid = loaded_server
    rng = random.Random(7)
    cases = [rng.choice(CASES) for _ in range(REQUESTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:  # warm-up: the model load and first allocations
        list(pool.map(lambda c: send(base, c), cases[:100]))
    warm_rss = memory_mb(pid, "VmRSS")
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda c: send(base, c), cases[100:]))
    elapsed = time.perf_counter() - started
    wrong = [
        (case[0], case[2], case[3], status, label)
        for case, (status, label, _) in zip(cases[100:], results, strict=True)
        if status != case[2] or label != case[3]
    ]
    assert wrong == [], wrong[:5]
    assert not [status for status, _, _ in results if status >= 500]
    growth = memory_mb(pid, "VmRSS") - warm_rss
    latencies = sorted(ms for _, _, ms in results)
    print(
        f"\nload: {len(results)} requests, {CLIENTS} clients, {len(results) / elapsed:.0f} req/s, "
        f"p50 {latencies[len(latencies) // 2]:.0f} ms, p99 {latencies[int(len(latencies) * 0.99)]:.0f} ms, "
        f"RSS {warm_rss:.0f} MB → {warm_rss + growth:.0f} MB"
    )
    assert growth < 40, f"RSS grew {growth:.0f} MB over {len(results)} requests"
