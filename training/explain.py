"""Where the model looked: class-activation maps (Zhou et al. 2016) as one more output of
the exported graph, from the same forward pass as the answer.

The head is linear on the spatial mean of the last feature map, so each label's logit is
the mean over the map's cells of (the head's weights for that label · the cell's
features) + its bias. That per-cell sum is the label's activation map: 7x7 at 224 px for
Lite0 and ResNet-18, and its mean is the logit itself.
"""

from __future__ import annotations

import torch
from chalicelib.metadata import NoneRule
from torch import nn

from training.networks import Network, trunk
from training.none_scores import Scoring, rule_scoring, with_rule_score


class Explained(nn.Module):
    """[logits, the none-rule's score (with a rule), activation maps (N, labels, h, w)]."""

    def __init__(self, network: Network, rule: Scoring | None) -> None:
        super().__init__()
        self.trunk, self.head, self.rule = trunk(network.backbone), network.head, rule

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = self.trunk(x)
        features = maps.mean(dim=(2, 3))
        logits = self.head(features)
        activation = torch.einsum("nchw,lc->nlhw", maps, self.head.weight) + self.head.bias[None, :, None, None]
        if self.rule is None:
            return [logits, activation]
        return [logits, self.rule.score(features, logits), activation]


def exported(model: nn.Module, rule: NoneRule | None) -> nn.Module:
    """The module an export writes: a trained network explains itself; any other module
    (a test's hand-made model) answers as with_rule_score() makes it, without maps."""
    if not isinstance(model, Network):
        return with_rule_score(model, rule)
    return Explained(model, rule_scoring(model, rule) if rule else None)
