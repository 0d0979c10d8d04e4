"""chalicelib/observability.py: one JSON line per request that is also a CloudWatch EMF document."""

from __future__ import annotations

import json

import pytest
from chalicelib.observability import NAMESPACE, emit, request_record

ANSWER = {
    "recognised": True,
    "label": "donut",
    "model": {"name": "m", "version": "2"},
    "timing_ms": {"decode": 1.0, "total": 5.0},
    "cold_start": True,
}


def test_an_answer_records_its_outcome_and_is_an_emf_document() -> None:
    record = request_record("/predict", "POST", "req-1", 200, 1234, 5.04, ANSWER)
    assert record["level"] == "INFO" and record["route"] == "/predict" and record["body_bytes"] == 1234
    assert record["label"] == "donut" and record["recognised"] is True and record["model_version"] == "m/2"
    assert record["Latency"] == 5.04 and record["ColdStart"] == 1 and record["Errors"] == 0
    metrics = record["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Namespace"] == NAMESPACE and metrics["Dimensions"] == [["Route"]]
    assert {m["Name"] for m in metrics["Metrics"]} == {"Latency", "ColdStart", "Errors", "ClientErrors"}


@pytest.mark.parametrize("status, level, errors, client_errors", [(400, "WARNING", 0, 1), (503, "ERROR", 1, 0)])
def test_errors_record_their_code_and_level(status: int, level: str, errors: int, client_errors: int) -> None:
    record = request_record("/predict", "POST", "req-2", status, 10, 1.0, {"error": {"code": "x", "message": "y"}})
    assert record["level"] == level and record["error_code"] == "x"
    assert (record["Errors"], record["ClientErrors"]) == (errors, client_errors)
    assert "label" not in record


def test_a_page_without_an_answer_records_only_the_request() -> None:
    record = request_record("/", "GET", "req-3", 200, 0, 1.0, None)
    assert record["status"] == 200 and "label" not in record and "error_code" not in record


@pytest.mark.parametrize("min_level, written", [("INFO", True), ("WARNING", False), ("info", True), ("nonsense", True)])
def test_emit_honours_the_stages_log_level(min_level: str, written: bool, capsys: pytest.CaptureFixture) -> None:
    emit(request_record("/health", "GET", "req-4", 200, 0, 1.0, {"status": "ok"}), min_level)
    out = capsys.readouterr().out
    assert bool(out) is written
    if written:
        assert json.loads(out)["route"] == "/health"
