"""The benchmark's results as the targets they meet or miss, and as the table bench/README.md shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.cost import LAMBDA_MEMORY_MB
from bench.images import KINDS

# The results python -m bench writes (and python -m bench.training updates), that the table is made from.
DEFAULT_RESULTS = Path(__file__).parent / "results" / "latest.json"


def targets(r: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(target, measured, limit, met)."""
    rows: list[tuple[str, float, float]] = []
    for runtime in ("onnx", "torchscript"):
        w = r[runtime]["in_process"]
        warm = w["warm_in_process"]
        rows.append(
            (
                f"{runtime}: warm p50 224 px JPEG / bare forward",
                warm["jpeg_224"]["p50"] / w["floor_forward"]["p50"],
                1.2,
            )
        )
        rows.append(
            (
                f"{runtime}: warm p50 12 MP JPEG / request floor",
                warm["jpeg_12mp"]["p50"] / w["floor_request_12mp"]["p50"],
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
    cold = {runtime: r[runtime]["cold"] for runtime in ("onnx", "torchscript")}
    rows.append(("onnx: cold start, model from S3 (ms)", cold["onnx"]["empty_tmp"]["process_to_answer_ms"], 500))
    rows.append(
        ("torchscript: cold start, model from S3 (ms)", cold["torchscript"]["empty_tmp"]["process_to_answer_ms"], 2500)
    )
    rows.append(
        (
            "onnx: cold start, verified file in /tmp (ms)",
            cold["onnx"]["verified_file_in_tmp"]["process_to_answer_ms"],
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
    sections = (_heading, _warm, _explain, _floors, _networks, _cold, _first_answer, _training, _cost, _targets)
    return "\n\n".join("\n".join(section(r)) for section in sections)


def _heading(r: dict[str, Any]) -> list[str]:
    return [
        f"donut-or-not benchmark, {r['date']}, {r['machine']['cpu']} ({r['machine']['cores']} cores), "
        f"{r['requests']} requests per cell; onnx on {r['onnx']['in_process']['library']}, torchscript on "
        f"{r['torchscript']['in_process']['library']}"
    ]


def _warm(r: dict[str, Any]) -> list[str]:
    lines = [f"{'warm p50 / p99 ms':28}" + "".join(f"{k:>20}" for k in KINDS)]
    for who, cells in (
        ("onnx in-process", r["onnx"]["in_process"]["warm_in_process"]),
        ("onnx HTTP", r["onnx"]["http"]),
        ("torchscript in-process", r["torchscript"]["in_process"]["warm_in_process"]),
        ("torchscript HTTP", r["torchscript"]["http"]),
        ("FastAPI peer HTTP", r["peer"]["http"]),
    ):
        lines.append(f"{who:28}" + "".join(f"{cells[k]['p50']:>10.1f} / {cells[k]['p99']:<7.1f}" for k in KINDS))
    return lines


def _explain(r: dict[str, Any]) -> list[str]:
    lines = ["explain=1, 1 MP JPEG in-process, warm p50 with / without (ms)"]
    for runtime in ("onnx", "torchscript"):
        warm = r[runtime]["in_process"]["warm_in_process"]
        lines.append(f"  {runtime:26}{warm['jpeg_1mp_explain']['p50']:>8.1f} / {warm['jpeg_1mp']['p50']:<8.1f}")
    return lines


def _floors(r: dict[str, Any]) -> list[str]:
    lines = [f"{'':28}{'forward p50':>14}{'12 MP floor':>14}{'peak RSS MB':>14}"]
    for runtime in ("onnx", "torchscript"):
        w = r[runtime]["in_process"]
        lines.append(
            f"{runtime:28}{w['floor_forward']['p50']:>14.1f}{w['floor_request_12mp']['p50']:>14.1f}"
            f"{w['peak_rss_mb']:>14.1f}"
        )
    return [*lines, f"{'FastAPI peer':28}{'':>28}{r['peer']['peak_rss_mb']:>14.1f}"]


def _networks(r: dict[str, Any]) -> list[str]:
    networks = r["networks"]
    return [
        f"network, bare ONNX forward, {networks['threads']} threads{'':24}p50 / p99 ms",
        *(f"  {name:48}{cell['p50']:>8.1f} / {cell['p99']:<7.1f}" for name, cell in networks["forward_ms"].items()),
    ]


def _cold(r: dict[str, Any]) -> list[str]:
    lines = ["cold start (median ms)         process→answer   import    fetch     load   1st inference"]
    for runtime in ("onnx", "torchscript"):
        for mode, c in r[runtime]["cold"].items():
            lines.append(
                f"{runtime + ', ' + mode:31}{c['process_to_answer_ms']:>14.0f}{c['import_ms']:>9.0f}"
                f"{c['fetch_ms']:>9.0f}{c['load_ms']:>9.0f}{c['first_inference_ms']:>16.1f}"
            )
    return lines


def _first_answer(r: dict[str, Any]) -> list[str]:
    first = r["first_answer"]
    return [
        f"clone → first answer through ./scripts/serve: {first['seconds']} s (.venv-serve {first['serve_venv_mb']} MB)"
    ]


def _training(r: dict[str, Any]) -> list[str]:
    return [
        "from image folders to an ONNX file (python -m training train, then export; empty image cache)",
        *(
            f"  {run['photos']:>5} photos of {run['photo_size']:9}  train {run['train_s']:>6.1f} s  "
            f"export {run['export_s']:>5.1f} s"
            for run in r["training"]["runs"]
        ),
    ]


def _cost(r: dict[str, Any]) -> list[str]:
    lines = [f"Lambda cost per million requests (1 MP JPEG, warm p50, {LAMBDA_MEMORY_MB} MB, API Gateway REST)"]
    for runtime in ("onnx", "torchscript"):
        c = r[runtime]["cost_per_million"]
        lines.append(
            f"  {runtime:12} billed {c['billed_ms']} ms: compute ${c['lambda_compute_usd']}, requests "
            f"${c['lambda_requests_usd']}, API Gateway ${c['api_gateway_usd']}: total ${c['total_usd']}"
        )
    return lines


def _targets(r: dict[str, Any]) -> list[str]:
    return [
        "targets",
        *(f"  {'met ' if met else 'MISS'} {name}: {value} (≤ {limit})" for name, value, limit, met in r["targets"]),
    ]
