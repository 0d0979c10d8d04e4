"""One JSON line per request on stdout: a structured log entry that is also a CloudWatch
Embedded Metric Format document, so Lambda users get latency, cold-start and error metrics
with no agent and no extra service. Never the image's bytes: only sizes and outcomes."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

NAMESPACE = "donut-or-not"
LEVELS = logging.getLevelNamesMapping()  # the standard names: DEBUG, INFO, WARNING, ERROR…


def request_record(
    route: str,
    method: str,
    request_id: str,
    status: int,
    body_bytes: int,
    elapsed_ms: float,
    answer: dict[str, Any] | None,
) -> dict[str, Any]:
    """The log line for one request; answer: what the route answered (an error body for an
    error), None for a page that carries no answer."""
    answer = answer or {}
    record: dict[str, Any] = {
        "level": "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO",
        "request_id": request_id,
        "method": method,
        "route": route,
        "status": status,
        "body_bytes": body_bytes,
        "latency_ms": round(elapsed_ms, 2),
    }
    if "error" in answer:
        record["error_code"] = answer["error"]["code"]
    if "model" in answer and "timing_ms" in answer:
        record.update(
            model_version=f"{answer['model']['name']}/{answer['model']['version']}",
            timing_ms=answer["timing_ms"],
            cold_start=answer.get("cold_start", False),
            label=answer.get("label"),
            recognised=answer.get("recognised"),
        )
    # Embedded Metric Format: CloudWatch turns these members into metrics by route.
    record.update(
        Route=route,
        Latency=record["latency_ms"],
        ColdStart=int(record.get("cold_start", False)),
        Errors=int(status >= 500),
        ClientErrors=int(400 <= status < 500),
    )
    record["_aws"] = {
        "Timestamp": int(time.time() * 1000),
        "CloudWatchMetrics": [
            {
                "Namespace": NAMESPACE,
                "Dimensions": [["Route"]],
                "Metrics": [
                    {"Name": "Latency", "Unit": "Milliseconds"},
                    {"Name": "ColdStart", "Unit": "Count"},
                    {"Name": "Errors", "Unit": "Count"},
                    {"Name": "ClientErrors", "Unit": "Count"},
                ],
            }
        ],
    }
    return record


def emit(record: dict[str, Any], min_level: str) -> None:
    """Writes the record as one line, when its level reaches the stage's LOG_LEVEL."""
    if LEVELS.get(record["level"], logging.INFO) >= LEVELS.get(min_level.upper(), logging.INFO):
        sys.stdout.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        sys.stdout.flush()
