"""The metadata every model file carries, so labels and preprocessing never drift from weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from chalicelib.errors import ModelLoadError

# Name of the JSON document inside a model file: a TorchScript extra file, or the key of
# an ONNX model's metadata_props entry.
Triple = tuple[float, float, float]
METADATA_FILE = "donut_or_not.json"


class MetadataError(ModelLoadError):
    """The model file's metadata is missing or malformed."""


@dataclass(frozen=True)
class NoneRule:
    """When an image looks like none of the labels: the model's second output, a score
    per image, is below threshold. Both are set at training time from data; what the
    score measures is the model's business (`score` names it, `description` says it)."""

    score: str  # e.g. "reference_mass", "max_probability"
    threshold: float
    description: str
    calibration: dict[str, Any] = field(default_factory=dict)  # the data it was set from

    def recognises(self, score: Any) -> Any:
        """score: one score or an array of them (then an array of booleans)."""
        return score >= self.threshold

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "NoneRule":
        rule = cls(
            score=str(raw["score"]),
            threshold=float(raw["threshold"]),
            description=str(raw["description"]),
            calibration=dict(raw.get("calibration") or {}),
        )
        if not 0 <= rule.threshold <= 1:
            raise ValueError(f"none_rule threshold {rule.threshold} is outside [0, 1]")
        return rule


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
    none_rule: NoneRule | None = None  # without one, every image is taken as one of the labels
    display_names: dict[str, str] = field(default_factory=dict)  # label -> words for people, where they differ

    def display(self, label: str) -> str:
        """A label as people read it: its display name, or the label with spaces for underscores."""
        return self.display_names.get(label) or label.replace("_", " ")

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
                # three each: checked below, with a message that says so
                mean=cast(Triple, tuple(float(m) for m in raw["mean"])),
                std=cast(Triple, tuple(float(s) for s in raw["std"])),
                training=dict(raw.get("training") or {}),
                none_rule=NoneRule.from_dict(raw["none_rule"]) if raw.get("none_rule") else None,
                display_names={str(k): str(v) for k, v in (raw.get("display_names") or {}).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MetadataError(f"model metadata is malformed: {exc!r}") from exc
        if len(meta.labels) < 2 or len(set(meta.labels)) != len(meta.labels):
            raise MetadataError("model metadata needs two or more distinct labels")
        if len(meta.mean) != 3 or len(meta.std) != 3 or min(meta.std) <= 0:
            raise MetadataError("model metadata needs three means and three positive stds")
        if set(meta.display_names) - set(meta.labels):
            raise MetadataError(
                f"model metadata names display names for labels it does not have: "
                f"{', '.join(sorted(set(meta.display_names) - set(meta.labels)))}"
            )
        if not 0 < meta.input_size <= meta.resize_size:
            raise MetadataError("model metadata needs 0 < input_size <= resize_size")
        return meta
