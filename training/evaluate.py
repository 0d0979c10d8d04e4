"""Scores a model file, loaded exactly as the service loads it, on an ImageFolder split."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from chalicelib.runtimes import Runtime
from PIL import Image, ImageDraw

from training import image_cache
from training.dataset import FEW_IMAGES, IMAGE_SUFFIXES, eval_batches, scan, service_input
from training.errors import DatasetError
from training.served_model import load_as_served

MOST_WRONG = 12


@dataclass
class Tally:
    """A split's answers: the confusion matrix (rows: true labels; columns: the labels, then
    "none"), each image's confidence and whether its top label was right, and the wrong ones."""

    confusion: np.ndarray
    confidences: list[float] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    wrong: list[dict[str, Any]] = field(default_factory=list)


def evaluate(
    model_file: Path, split_dir: Path, none_dirs: list[Path] | None = None, batch_size: int = 32
) -> dict[str, Any]:
    """Accuracy, per-class precision/recall, the confusion matrix, the calibration error of
    the confidences, the wrong answers the model was surest of and, for each of none_dirs
    (images of none of the labels), how many of those it refused."""
    runtime = load_as_served(model_file)
    meta = runtime.metadata
    labels = meta.labels
    split = scan(split_dir, (meta.resize_size, meta.input_size))
    if split.labels != labels:
        raise DatasetError(f"{split_dir} holds classes {list(split.labels)}, the model knows {list(labels)}")
    tally = _tally(runtime, split.samples, batch_size)
    confusion = tally.confusion
    per_class = {
        label: {
            "precision": round(float(confusion[i, i] / max(1, confusion[:, i].sum())), 4),
            "recall": round(float(confusion[i, i] / max(1, confusion[i].sum())), 4),
            "support": int(confusion[i].sum()),
        }
        for i, label in enumerate(labels)
    }
    report = {
        "model": {"name": meta.name, "version": meta.version, "file": model_file.name},
        "split": str(split_dir),
        "images": int(confusion.sum()),
        # The right label on top, the none-rule aside; then the share the rule accepts, and
        # the share a user gets right (the right label, and accepted).
        "accuracy": round(float(np.mean(tally.hits)), 4),
        "accepted": round(float(1 - confusion[:, -1].sum() / confusion.sum()), 4),
        "accepted_and_right": round(float(np.trace(confusion[:, :-1]) / confusion.sum()), 4),
        "calibration_error": round(expected_calibration_error(np.array(tally.confidences), np.array(tally.hits)), 4),
        "per_class": per_class,
        "labels": list(labels),
        "confusion_matrix": confusion.tolist(),
        "most_wrong": sorted(tally.wrong, key=lambda w: -w["confidence"])[:MOST_WRONG],
        "none_rule": asdict(meta.none_rule) if meta.none_rule else None,
    }
    if none_dirs:
        report["none_images"] = [refusals(runtime, folder, batch_size) for folder in none_dirs]
    return report


def _tally(runtime: Runtime, samples: list[tuple[Path, int]], batch_size: int) -> Tally:
    labels = runtime.metadata.labels
    tally = Tally(np.zeros((len(labels), len(labels) + 1), dtype=int))
    batches = eval_batches(samples, runtime.metadata, batch_size)
    for start, (inputs, targets) in zip(range(0, len(samples), batch_size), batches, strict=True):
        probabilities, recognised = _answers(runtime, inputs)
        top = probabilities.argmax(axis=1)
        predicted = np.where(recognised, top, len(labels))
        np.add.at(tally.confusion, (targets, predicted), 1)
        tally.confidences += probabilities.max(axis=1).tolist()
        tally.hits += (top == targets).tolist()
        for offset in np.flatnonzero(predicted != targets):
            path, truth = samples[start + offset]
            tally.wrong.append(
                {
                    "path": str(path),
                    "label": labels[truth],
                    "predicted": labels[predicted[offset]] if recognised[offset] else "none",
                    "top_label": labels[top[offset]],  # what a refused image was nearest to
                    "confidence": round(float(probabilities[offset].max()), 4),
                }
            )
    return tally


def _answers(runtime: Runtime, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, recognised) as the service decides them."""
    result = runtime.run(batch)
    return result.probabilities, result.recognised(runtime.metadata.none_rule)


def refusals(runtime: Runtime, folder: Path, batch_size: int) -> dict[str, Any]:
    """How many images of folder (none of the labels) the model answers "none of these" for,
    and what it answered for the rest."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"{folder} holds no images")
    accepted = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        probabilities, recognised = _answers(
            runtime, np.concatenate([service_input(path, runtime.metadata) for path in chunk])
        )
        accepted += [
            {
                "path": str(path),
                "predicted": runtime.metadata.labels[int(probs.argmax())],
                "confidence": round(float(probs.max()), 4),
            }
            for path, probs, ok in zip(chunk, probabilities, recognised)
            if ok
        ]
    return {"folder": str(folder), "images": len(files), "refused": len(files) - len(accepted), "accepted": accepted}


def expected_calibration_error(confidences: np.ndarray, hits: np.ndarray, bins: int = 10) -> float:
    """How far the confidences are from the accuracy they claim: the mean over equal-width
    confidence bins of |accuracy - mean confidence|, weighted by the bin's share."""
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidences > low) & (confidences <= high)
        if inside.any():
            error += inside.mean() * abs(hits[inside].mean() - confidences[inside].mean())
    return float(error)


def summary(report: dict[str, Any]) -> list[str]:
    """What a person reads first; report.json has the rest."""
    n = report["images"]

    def counted(share: float) -> str:
        return f"{round(share * n)} ({share:.1%})"

    lines = [
        f"{n} images in {report['split']}: the top label right on {counted(report['accuracy'])}, accepted by "
        f"the none-rule {counted(report['accepted'])}, right and accepted {counted(report['accepted_and_right'])}; "
        f"calibration error of the confidences (ECE) {report['calibration_error']:.3f}"
    ]
    if n < FEW_IMAGES:
        lines.append(f"  few images: one more or less right moves these figures by {100 / n:.0f} points")
    for label, figures in report["per_class"].items():
        right = round(figures["recall"] * figures["support"])
        lines.append(
            f"  {label}: {right} of {figures['support']} right (recall {figures['recall']:.1%}), "
            f"precision {figures['precision']:.1%}"
        )
    lines += [
        f"{refused['folder']}: {refused['refused']} of {refused['images']} refused as none of the labels"
        for refused in report.get("none_images", [])
    ]
    if not report["most_wrong"]:
        lines.append("no mistakes: nothing to draw in most_wrong.png")
    return lines


def write_report(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Writes report.json, confusion.png and most_wrong.png (when there are mistakes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json", out_dir / "confusion.png"]
    written[0].write_text(json.dumps(report, indent=2) + "\n")
    confusion = draw_confusion(
        report["labels"], np.array(report["confusion_matrix"]), report["accuracy"], report["accepted"]
    )
    confusion.save(written[1])
    if report["most_wrong"]:
        written.append(out_dir / "most_wrong.png")
        draw_most_wrong(report["most_wrong"]).save(written[-1])
    return written


def draw_confusion(
    labels: list[str], confusion: np.ndarray, accuracy: float, accepted: float, cell: int = 90
) -> Image.Image:
    """Rows: true labels; columns: the labels, then "none"."""
    n = len(labels)
    columns = [*labels, "none"]
    margin = 110
    image = Image.new("RGB", (margin + len(columns) * cell + 10, margin + n * cell + 40), "white")
    draw = ImageDraw.Draw(image)
    rows = confusion.sum(axis=1, keepdims=True).clip(min=1)
    for j, column in enumerate(columns):
        draw.text((margin + j * cell + 8, margin - 20), column, fill="black")
    for i in range(n):
        draw.text((8, margin + i * cell + cell // 2 - 6), labels[i], fill="black")
        for j in range(len(columns)):
            share = confusion[i, j] / rows[i, 0]
            shade = int(255 - 200 * share)
            box = (margin + j * cell, margin + i * cell, margin + (j + 1) * cell - 2, margin + (i + 1) * cell - 2)
            draw.rectangle(box, fill=(shade, shade, 255))
            draw.text(
                (box[0] + 8, box[1] + cell // 2 - 6),
                f"{confusion[i, j]} ({share:.0%})",
                fill="white" if share > 0.6 else "black",
            )
    draw.text((8, 8), "rows: true label, columns: predicted", fill="black")
    draw.text(
        (8, image.height - 28),
        f"top-1 accuracy {accuracy:.2%}, {accepted:.1%} accepted by the none-rule, {int(confusion.sum())} images",
        fill="black",
    )
    return image


def draw_most_wrong(wrong: list[dict[str, Any]], side: int = 160) -> Image.Image:
    """Thumbnails of the mistakes, each captioned with its true label -> the answer and its
    probability (for a refused image, the top label's, named), and the file's name
    (shortened at the front to fit)."""
    columns, below = 4, 30  # below: the captions' height
    rows = (len(wrong) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * side, rows * (side + below)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, item in enumerate(wrong):
        x, y = (k % columns) * side, (k // columns) * (side + below)
        path = Path(item["path"])
        thumb = Image.fromarray(image_cache.service_view(path, side, side), "RGB")  # what the model saw, in small
        thumb.thumbnail((side - 4, side - 4))
        sheet.paste(thumb, (x + 2, y + 2))
        draw.text((x + 4, y + side + 2), caption(item), fill="black")
        draw.text((x + 4, y + side + 15), fitted(draw, path.name, side - 8), fill="dimgray")
    return sheet


def caption(item: dict[str, Any]) -> str:
    """A mistake, in ASCII (every font has it); a refused image's percentage is its top
    label's, so that label is named."""
    if item["predicted"] == "none":
        return f"{item['label']} -> none (top: {item['top_label']} {item['confidence']:.0%})"
    return f"{item['label']} -> {item['predicted']} {item['confidence']:.0%}"


def fitted(draw: ImageDraw.ImageDraw, text: str, width: int) -> str:
    """text, or its end after "...", as much as fits in width pixels."""
    shown = text
    while draw.textlength(shown) > width and len(text) > 1:
        text = text[1:]
        shown = "..." + text
    return shown
