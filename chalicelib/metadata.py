"""The metadata every model file carries, so labels and preprocessing never drift from weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Name of the JSON document inside a model file: a TorchScript extra file, or the key of
# an ONNX model's metadata_props entry.
METADATA_FILE = "donut_or_not.json"


class MetadataError(ValueError):
    """The model file's metadata is missing or malformed."""


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    version: str
    architecture: str
    labels: tuple[str, ...]  # in the order of the model's outputs
    input_size: int  # square crop fed to the network
    resize_size: int  # shorter side before the centre crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    training: dict[str, Any] = field(default_factory=dict)  # free-form summary

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelMetadata":
        try:
            raw = json.loads(text)
            meta = cls(
                name=str(raw["name"]),
                version=str(raw["version"]),
                architecture=str(raw["architecture"]),
                labels=tuple(str(label) for label in raw["labels"]),
                input_size=int(raw["input_size"]),
                resize_size=int(raw["resize_size"]),
                mean=tuple(float(m) for m in raw["mean"]),
                std=tuple(float(s) for s in raw["std"]),
                training=dict(raw.get("training") or {}),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MetadataError(f"model metadata is malformed: {exc!r}") from exc
        if len(meta.labels) < 2 or len(set(meta.labels)) != len(meta.labels):
            raise MetadataError("model metadata needs two or more distinct labels")
        if len(meta.mean) != 3 or len(meta.std) != 3 or min(meta.std) <= 0:
            raise MetadataError("model metadata needs three means and three positive stds")
        if not 0 < meta.input_size <= meta.resize_size:
            raise MetadataError("model metadata needs 0 < input_size <= resize_size")
        return meta
