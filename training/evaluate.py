"""Scores a model file, loaded exactly as the service loads it, on an ImageFolder split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from chalicelib.runtimes import load_runtime
from training.dataset import DatasetError, eval_batches, load_rgb, scan

MOST_WRONG = 12


def evaluate(model_file: Path, split_dir: Path, batch_size: int = 32) -> dict[str, Any]:
    """Accuracy, per-class precision/recall, the confusion matrix (rows: true labels) and
    the wrong answers the model was surest of."""
    runtime = load_runtime(model_file)
    labels = runtime.metadata.labels
    split = scan(split_dir)
    if split.labels != labels:
        raise DatasetError(f"{split_dir} holds classes {list(split.labels)}, the model knows {list(labels)}")
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    wrong = []
    batches = eval_batches(split.samples, runtime.metadata, batch_size)
    for start, (inputs, targets) in zip(range(0, len(split.samples), batch_size), batches, strict=True):
        probabilities = runtime.probabilities(inputs.numpy())
        predicted = probabilities.argmax(axis=1)
        np.add.at(confusion, (targets.numpy(), predicted), 1)
        for offset in np.flatnonzero(predicted != targets.numpy()):
            path, truth = split.samples[start + offset]
            wrong.append({
                "path": str(path),
                "label": labels[truth],
                "predicted": labels[predicted[offset]],
                "confidence": round(float(probabilities[offset].max()), 4),
            })
    per_class = {
        label: {
            "precision": round(float(confusion[i, i] / max(1, confusion[:, i].sum())), 4),
            "recall": round(float(confusion[i, i] / max(1, confusion[i].sum())), 4),
            "support": int(confusion[i].sum()),
        }
        for i, label in enumerate(labels)
    }
    return {
        "model": {"name": runtime.metadata.name, "version": runtime.metadata.version, "file": model_file.name},
        "split": str(split_dir),
        "images": int(confusion.sum()),
        "accuracy": round(float(np.trace(confusion) / confusion.sum()), 4),
        "per_class": per_class,
        "labels": list(labels),
        "confusion_matrix": confusion.tolist(),
        "most_wrong": sorted(wrong, key=lambda w: -w["confidence"])[:MOST_WRONG],
    }


def write_report(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Writes report.json, confusion.png and most_wrong.png (when there are mistakes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json", out_dir / "confusion.png"]
    written[0].write_text(json.dumps(report, indent=2) + "\n")
    draw_confusion(report["labels"], np.array(report["confusion_matrix"]), report["accuracy"]).save(written[1])
    if report["most_wrong"]:
        written.append(out_dir / "most_wrong.png")
        draw_most_wrong(report["most_wrong"]).save(written[-1])
    return written


def draw_confusion(labels: list[str], confusion: np.ndarray, accuracy: float, cell: int = 90) -> Image.Image:
    n = len(labels)
    margin = 110
    image = Image.new("RGB", (margin + n * cell + 10, margin + n * cell + 40), "white")
    draw = ImageDraw.Draw(image)
    rows = confusion.sum(axis=1, keepdims=True).clip(min=1)
    for i in range(n):
        draw.text((8, margin + i * cell + cell // 2 - 6), labels[i], fill="black")
        draw.text((margin + i * cell + 8, margin - 20), labels[i], fill="black")
        for j in range(n):
            share = confusion[i, j] / rows[i, 0]
            shade = int(255 - 200 * share)
            box = (margin + j * cell, margin + i * cell, margin + (j + 1) * cell - 2, margin + (i + 1) * cell - 2)
            draw.rectangle(box, fill=(shade, shade, 255))
            draw.text((box[0] + 8, box[1] + cell // 2 - 6), f"{confusion[i, j]} ({share:.0%})",
                      fill="white" if share > 0.6 else "black")
    draw.text((8, 8), "rows: true label, columns: predicted", fill="black")
    draw.text((8, image.height - 28), f"accuracy {accuracy:.2%} on {int(confusion.sum())} images", fill="black")
    return image


def draw_most_wrong(wrong: list[dict[str, Any]], side: int = 160) -> Image.Image:
    columns = 4
    rows = (len(wrong) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * side, rows * (side + 30)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, item in enumerate(wrong):
        x, y = (k % columns) * side, (k // columns) * (side + 30)
        thumb = load_rgb(Path(item["path"]), side)
        thumb.thumbnail((side - 4, side - 4))
        sheet.paste(thumb, (x + 2, y + 2))
        caption = f"{item['label']} → {item['predicted']} {item['confidence']:.0%}"
        draw.text((x + 4, y + side + 6), caption, fill="black")
    return sheet
