"""Scores a model file, loaded exactly as the service loads it, on an ImageFolder split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from chalicelib.runtimes import load_runtime
from training.train import DatasetError, classes_of, eval_batches, image_folder


def evaluate(model_file: Path, split: Path, batch_size: int = 32) -> dict[str, Any]:
    """Accuracy, per-class precision/recall and the confusion matrix (rows: true labels)."""
    runtime = load_runtime(model_file)
    labels = runtime.metadata.labels
    if classes_of(split) != labels:
        raise DatasetError(f"{split} holds classes {classes_of(split)}, the model knows {labels}")
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    for inputs, targets in eval_batches(image_folder(split), runtime.metadata, batch_size):
        predicted = runtime.probabilities(inputs.numpy()).argmax(axis=1)
        np.add.at(confusion, (targets.numpy(), predicted), 1)
    per_class = {
        label: {
            "precision": round(float(confusion[i, i] / max(1, confusion[:, i].sum())), 4),
            "recall": round(float(confusion[i, i] / max(1, confusion[i].sum())), 4),
            "support": int(confusion[i].sum()),
        }
        for i, label in enumerate(labels)
    }
    return {
        "model": f"{runtime.metadata.name} {runtime.metadata.version}",
        "split": str(split),
        "images": int(confusion.sum()),
        "accuracy": round(float(np.trace(confusion) / confusion.sum()), 4),
        "per_class": per_class,
        "labels": list(labels),
        "confusion_matrix": confusion.tolist(),
    }


def write_report(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
