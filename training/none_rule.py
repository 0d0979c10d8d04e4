""""None of these": a score per image computed inside the exported graph, and the threshold
below which the service answers that the image looks like none of the labels.

The score:
- reference_mass, for pretrained networks: the frozen ImageNet head's probability summed
  over chosen ImageNet classes (its food classes). That head has seen real photographs, so
  it tells food from not-food on photos even when the new head has only seen renders.
- max_probability, for networks trained from scratch: the new head's top probability.
The threshold accepts the validation split and refuses the non-food images
(training/negatives.py) with the best balanced accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from chalicelib.metadata import NoneRule
from training.networks import Network

# ImageNet-1k's food block, 923 'plate' to 965 'burrito', and 415 'bakery'; 966-969 are
# drinks and cups, left out (a cup of coffee is not a donut).
FOOD_CLASSES = (415, *range(923, 966))


class WithMaxProbability(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)
        return logits, torch.softmax(logits, dim=1).amax(dim=1)


class WithReferenceMass(nn.Module):
    def __init__(self, network: Network, classes: tuple[int, ...]) -> None:
        super().__init__()
        if network.reference is None:
            raise ValueError("reference_mass needs a network with its ImageNet head (train --pretrained)")
        self.backbone, self.head, self.reference = network.backbone, network.head, network.reference
        self.register_buffer("classes", torch.tensor(classes, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        return self.head(features), self.score_features(features)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        """The score from the backbone's pooled features (training computes those once)."""
        return torch.softmax(self.reference(features), dim=1).index_select(1, self.classes).sum(dim=1)


def score_kind(network: nn.Module) -> str:
    """reference_mass when the network kept its ImageNet head: the new head has seen only
    the training images, and on photos unlike them (renders versus real photos) its top
    probability refuses real food too; the ImageNet head has seen photographs. Without that
    head, max_probability is all there is."""
    return "reference_mass" if getattr(network, "reference", None) is not None else "max_probability"


def scoring(model: nn.Module, kind: str, reference_classes: tuple[int, ...] = FOOD_CLASSES) -> nn.Module:
    """model with the score of kind as a second output."""
    if kind == "reference_mass":
        return WithReferenceMass(model, reference_classes)
    if kind == "max_probability":
        return WithMaxProbability(model)
    raise ValueError(f"unknown none-rule score {kind!r}")


def scored(model: nn.Module, rule: NoneRule | None) -> nn.Module:
    """The module that is exported: logits alone, or logits and the rule's score."""
    if rule is None:
        return model
    if rule.score == "reference_mass":  # the classes the rule was calibrated with, not today's default
        return scoring(model, rule.score, tuple(rule.calibration["reference_classes"]))
    return scoring(model, rule.score)


def scores(module: nn.Module, batches) -> np.ndarray:
    """The score output of a scored module over an iterable of input batches."""
    with torch.inference_mode():
        return np.concatenate([module(inputs)[1].double().numpy() for inputs in batches]) if batches else np.zeros(0)


def best_threshold(accept: np.ndarray, refuse: np.ndarray) -> tuple[float, float]:
    """(threshold, balanced accuracy): accept scores ≥ threshold should pass, refuse
    scores below it should not. Midway between neighbouring scores, in log space (the
    masses span decades), so that neither side sits on the edge."""
    candidates = np.unique(np.concatenate([accept, refuse]))
    best = (0.0, -1.0)
    for low, high in zip(np.concatenate([[0.0], candidates]), np.concatenate([candidates, [1.0]])):
        threshold = float(np.sqrt(max(low, 1e-9) * high)) if high > 0 else 0.0
        balanced = ((accept >= threshold).mean() + (refuse < threshold).mean()) / 2 if len(refuse) else 1.0
        if balanced > best[1]:
            best = (threshold, float(balanced))
    return best


def calibrate(kind: str, accept: np.ndarray, refuse: np.ndarray, reference_classes: tuple[int, ...] = FOOD_CLASSES,
              sources: dict[str, int] | None = None) -> NoneRule:
    """The rule whose threshold best tells the validation images' scores (accept) from the
    non-food images' (refuse), both computed by scoring(network, kind)."""
    threshold, balanced = best_threshold(accept, refuse)
    calibration: dict[str, Any] = {
        "balanced_accuracy": round(balanced, 4),
        "validation_images": len(accept),
        "validation_accepted": round(float((accept >= threshold).mean()), 4),
        "none_images": len(refuse),
        "none_refused": round(float((refuse < threshold).mean()), 4) if len(refuse) else None,
        "none_sources": sources or {},
    }
    if kind == "reference_mass":
        calibration["reference_classes"] = list(reference_classes)
    return NoneRule(kind, round(threshold, 6), DESCRIPTIONS[kind], calibration)


DESCRIPTIONS = {
    "reference_mass": "recognised when the ImageNet head's probability summed over the reference classes "
                      "(calibration.reference_classes) is at least the threshold",
    "max_probability": "recognised when the top label's probability is at least the threshold",
}
