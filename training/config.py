"""A training run's settings, without torch: the CLI reads its defaults from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.settings import usable_cpus

from training.choices import ARCHITECTURES


@dataclass
class TrainConfig:
    """A training run's settings; `python -m training train` takes its defaults from here."""

    data: Path  # train/ and val/ ImageFolder trees, or class folders to split
    architecture: str = "efficientnet_lite0"
    input_size: int | None = None  # None: the architecture's own (`side`)
    train_size: int | None = None  # crop size while training (default: input_size)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    patience: int = 3
    seed: int = 0
    init_weights: Path | None = None
    pretrained: bool | None = None  # ImageNet weights, the backbone frozen (None: where they install offline)
    views: int = 4  # frozen backbone: augmented views per training image, besides the service's own
    fine_tune: int = 0  # after the frozen head: the backbone's last blocks trained too, epoch by epoch
    none_rule: str = "auto"  # frozen backbone: auto, feature_distance or reference_mass (training/none_rule.py)
    none_images: Path | None = None  # the user's own negatives, added to the bundled ones
    threads: int = field(default_factory=usable_cpus)  # torch's, on the CPU
    device: str = "auto"  # auto, cpu, cuda or mps (training/device.py)
    val_fraction: float = 0.15  # held out per class when data has no val/
    test_fraction: float = 0.15  # held out per class when data has no test/
    display_names: dict[str, str] = field(default_factory=dict)  # label -> words for people (in the metadata)

    @property
    def side(self) -> int:
        """The side of the square the model sees: as asked, else what its ImageNet weights were trained at."""
        return self.input_size or ARCHITECTURES[self.architecture].input_size

    def none_rule_problem(self) -> str | None:
        """Why this run's none-rule cannot be fitted, if it cannot."""
        if self.none_rule == "outlier_exposure" and (self.none_images is None or not self.starts_pretrained()):
            return (
                "--none-rule outlier_exposure needs --none-images DIR (what the model must refuse) "
                "and a pretrained network"
            )
        return None

    def starts_pretrained(self) -> bool:
        """From ImageNet weights: as asked, else where they install with a package."""
        return ARCHITECTURES[self.architecture].offline if self.pretrained is None else self.pretrained
