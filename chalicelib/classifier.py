"""One classification: upload bytes → decoded image → model input → ranked answer."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from chalicelib.explanation import explanation
from chalicelib.imaging import decode, preprocess
from chalicelib.model_store import LoadedModel


def classify(
    data: bytes, model: LoadedModel, top_k: int, max_pixels: int, *, cold: bool, started: float, explain: bool = False
) -> dict[str, Any]:
    """The answer /predict and batch results share. started: time.perf_counter() when the
    request began (its total includes fetching the model on a cold start). explain: add
    where the model looked, when the model file has activation maps (older files do not)."""
    meta = model.runtime.metadata
    begun = time.perf_counter()
    image = decode(data, meta.resize_size, max_pixels)
    decoded = time.perf_counter()
    batch = preprocess(image, meta)
    prepared = time.perf_counter()
    outputs = model.runtime.run(batch)
    inferred = time.perf_counter()
    probabilities = outputs.probabilities[0]
    ranked = np.argsort(-probabilities, kind="stable")
    predictions = [
        {"label": meta.labels[i], "display_name": meta.display(meta.labels[i]), "probability": float(probabilities[i])}
        for i in ranked[: min(top_k, len(meta.labels))]
    ]
    recognised = bool(outputs.recognised(meta.none_rule)[0])
    return {
        "recognised": recognised,
        "label": predictions[0]["label"] if recognised else None,
        "confidence": predictions[0]["probability"],
        **(
            {}
            if recognised
            else {"message": f"This does not look like any of: {', '.join(map(meta.display, meta.labels))}."}
        ),
        "predictions": predictions,
        **(
            {
                "explanation": explanation(
                    outputs.maps[0, ranked[0]], meta.labels[ranked[0]], image.size, meta.resize_size, meta.input_size
                )
            }
            if explain and outputs.maps is not None
            else {}
        ),
        "model": {"name": meta.name, "version": meta.version, "sha256": model.sha256},
        "timing_ms": {
            "decode": round((decoded - begun) * 1000, 2),
            "preprocess": round((prepared - decoded) * 1000, 2),
            "inference": round((inferred - prepared) * 1000, 2),
            "total": round((time.perf_counter() - started) * 1000, 2),
        },
        "cold_start": cold,
    }
