""" "None of these": the scores the exported graph computes beside the labels' logits, as
modules (a model with the score as its second output), and what each score means.

For pretrained networks (each reads the frozen backbone's pooled features):
- feature_distance: how near the features are to the nearest label's training images
  (Mahalanobis distance to the class means, one shared covariance; Lee et al. 2018),
  as exp(-distance / features).
- reference_mass: the frozen ImageNet head's probability summed over the ImageNet classes
  the training images land on and the non-food images do not.
- outlier_exposure: reference_mass times a detector's probability of "one of the labels"
  rather than the user's own images of none of them (Hendrycks et al. 2019).
From the logits alone (networks trained from scratch, imported models): max_probability,
the top label's probability, and energy, the log of the summed exponentials of the logits
squashed into 0-1 (Liu et al. 2020). training/none_rule.py fits them and their threshold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from chalicelib.metadata import NoneRule
from torch import nn

from training.networks import FeatureDistance, Network


class Scoring(nn.Module):
    """A model with the none-rule's score as its second output. score(features, logits)
    gives it from the pooled features and the labels' logits, so that one forward pass can
    also yield activation maps (explain.py)."""

    def score(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class WithMaxProbability(Scoring):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)
        return logits, self.score(torch.empty(0), logits)

    def score(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits, dim=1).amax(dim=1)


class WithEnergy(WithMaxProbability):
    def score(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        energy = torch.logsumexp(logits, dim=1)
        return 0.5 + 0.5 * energy / (1 + energy.abs())


def output_scores(logits: np.ndarray) -> dict[str, np.ndarray]:
    """The scores read from a model's logits alone, by kind, as WithMaxProbability and
    WithEnergy compute them in the graph (the export's parity check holds the two together)."""
    from chalicelib.runtimes import softmax

    top = logits.max(axis=1)
    energy = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
    return {"max_probability": softmax(logits).max(axis=1), "energy": 0.5 + 0.5 * energy / (1 + np.abs(energy))}


class _NetworkScoring(Scoring):
    """A score read from a Network's pooled features."""

    def __init__(self, network: Network) -> None:
        super().__init__()
        self.backbone, self.head = network.backbone, network.head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        logits = self.head(features)
        return logits, self.score(features, logits)


class WithFeatureDistance(_NetworkScoring):
    def __init__(self, network: Network, distance: FeatureDistance | None = None) -> None:
        """distance: one being calibrated; by default the network's own."""
        super().__init__(network)
        distance = network.distance if distance is None else distance
        if distance is None:
            raise ValueError("feature_distance needs a network fitted with its training features' distance")
        self.distance = distance

    def score(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return self.distance(features)


class WithReferenceMass(_NetworkScoring):
    if TYPE_CHECKING:  # a buffer: the ImageNet classes whose probabilities are summed
        classes: torch.Tensor

    def __init__(self, network: Network, classes: tuple[int, ...]) -> None:
        super().__init__(network)
        if network.reference is None:
            raise ValueError("reference_mass needs a network with its ImageNet head (train --pretrained)")
        self.reference = network.reference
        self.register_buffer("classes", torch.tensor(classes, dtype=torch.long))

    def score(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """The score from the backbone's pooled features (training computes those once)."""
        return self.mass(features)

    def mass(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.reference(features), dim=1).index_select(1, self.classes).sum(dim=1)


class WithExposedMass(WithReferenceMass):
    def __init__(self, network: Network, classes: tuple[int, ...], known: nn.Linear | None = None) -> None:
        """known: a detector being calibrated; by default the network's own."""
        super().__init__(network, classes)
        known = network.known if known is None else known
        if known is None:
            raise ValueError("outlier_exposure needs a network fitted with its detector (train --none-images)")
        self.known = known

    def score(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        # self.mass, not super(): TorchScript compiles no super() calls.
        return self.mass(features) * torch.sigmoid(self.known(features)[:, 0])


def with_score(model: nn.Module, kind: str, reference_classes: tuple[int, ...] = ()) -> Scoring:
    """model with the score of kind as a second output (reference_mass and feature_distance
    read a Network's pooled features; max_probability takes any model's logits)."""
    if kind == "max_probability":
        return WithMaxProbability(model)
    if kind == "energy":
        return WithEnergy(model)
    if kind not in ("reference_mass", "feature_distance", "outlier_exposure"):
        raise ValueError(f"unknown none-rule score {kind!r}")
    if not isinstance(model, Network):
        raise ValueError(f"{kind} needs a Network (training/networks.py), not {type(model).__name__}")
    if kind == "reference_mass":
        return WithReferenceMass(model, reference_classes)
    if kind == "outlier_exposure":
        return WithExposedMass(model, reference_classes)
    return WithFeatureDistance(model)


def with_rule_score(model: nn.Module, rule: NoneRule | None) -> nn.Module:
    """The module that is exported: logits alone, or logits and the rule's score."""
    return model if rule is None else rule_scoring(model, rule)


def rule_scoring(model: nn.Module, rule: NoneRule) -> Scoring:
    """model with the score that rule was calibrated on."""
    return with_score(model, rule.score, tuple(rule.calibration.get("reference_classes", ())))


def feature_scores(module: Scoring, network: Network, features: np.ndarray) -> np.ndarray:
    """module's scores from pooled features (training computes those once)."""
    with torch.inference_mode():
        pooled = torch.from_numpy(features)
        return module.score(pooled, network.head(pooled)).double().numpy()


def score_array(module: nn.Module, batches) -> np.ndarray:
    """The score output of a scored module over an iterable of input batches."""
    with torch.inference_mode():
        return np.concatenate([module(inputs)[1].double().numpy() for inputs in batches]) if batches else np.zeros(0)


DESCRIPTIONS = {
    "reference_mass": (
        "recognised when the ImageNet head's probability summed over the ImageNet classes the "
        "training images land on (calibration.reference_classes) is at least the threshold"
    ),
    "feature_distance": (
        "recognised when the image's features are near enough to one label's training images: "
        "exp(-Mahalanobis distance / feature count) is at least the threshold"
    ),
    "outlier_exposure": (
        "recognised when the ImageNet head's probability summed over the ImageNet classes the "
        "training images land on (calibration.reference_classes), times the probability a detector "
        "fitted against the none-images gives to the labels, is at least the threshold"
    ),
    "max_probability": "recognised when the top label's probability is at least the threshold",
    "energy": (
        "recognised when (1 + E / (1 + |E|)) / 2 is at least the threshold, E the log of the sum of "
        "the exponentials of the logits (the negative free energy; Liu et al. 2020)"
    ),
}
