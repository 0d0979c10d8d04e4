"""One classification: upload bytes → decoded image → model input → ranked answer."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from chalicelib.errors import BadRequest
from chalicelib.imaging import decode, preprocess
from chalicelib.model_store import LoadedModel

DEFAULT_TOP_K = 3


def parse_top_k(raw: str | None) -> int:
    """top_k from the query string: a positive integer (classify clamps it to the labels)."""
    if raw is None:
        return DEFAULT_TOP_K
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise BadRequest("bad_top_k", f"top_k must be a positive integer, got {raw[:40]!r}")
    return value


def classify(data: bytes, model: LoadedModel, top_k: int, max_pixels: int, *, cold: bool, started: float) -> dict[str, Any]:
    """The answer /predict and batch results share. started: time.perf_counter() when the
    request began (its total includes fetching the model on a cold start)."""
    meta = model.runtime.metadata
    begun = time.perf_counter()
    image = decode(data, meta.resize_size, max_pixels)
    decoded = time.perf_counter()
    batch = preprocess(image, meta)
    prepared = time.perf_counter()
    probabilities = model.runtime.probabilities(batch)[0]
    inferred = time.perf_counter()
    ranked = np.argsort(-probabilities, kind="stable")
    predictions = [{"label": meta.labels[i], "probability": float(probabilities[i])} for i in ranked[:min(top_k, len(meta.labels))]]
    return {
        "label": predictions[0]["label"],
        "confidence": predictions[0]["probability"],
        "predictions": predictions,
        "model": {"name": meta.name, "version": meta.version, "sha256": model.sha256},
        "timing_ms": {
            "decode": round((decoded - begun) * 1000, 2),
            "preprocess": round((prepared - decoded) * 1000, 2),
            "inference": round((inferred - prepared) * 1000, 2),
            "total": round((time.perf_counter() - started) * 1000, 2),
        },
        "cold_start": cold,
    }
