"""A tiny real model whose right answer a test can know: red picture → "red"."""

from __future__ import annotations

import torch
from chalicelib.metadata import ModelMetadata, NoneRule
from torch import nn

COLOUR_LABELS = ("blue", "green", "red")  # not in channel order, so a label mix-up shows


class MeanColour(nn.Module):
    """Scores each label by the mean of one colour channel: a model whose right answer
    a test can know (red picture → "red"), built in milliseconds."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[0.0, 0, 4], [0, 4, 0], [4, 0, 0]]))
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


COLOUR_META = ModelMetadata(
    name="test-colours",
    version="1",
    architecture="mean-colour",
    labels=COLOUR_LABELS,
    input_size=32,
    resize_size=36,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    # A clear red, green or blue passes; grey (top probability about 0.6) is "none of these".
    none_rule=NoneRule("max_probability", 0.9, "recognised when the top label's probability is at least 0.9"),
)


def colour_batch() -> torch.Tensor:
    """Real pictures for the export's parity check: one of each colour, and a mixture."""
    from chalicelib.imaging import preprocess

    from tests.imagefiles import BLUE, GREEN, RED, noisy_photo, solid

    images = [solid(c) for c in (RED, GREEN, BLUE)] + [noisy_photo((64, 64), (120, 110, 100))]
    return torch.cat([torch.from_numpy(preprocess(image, COLOUR_META)) for image in images])
