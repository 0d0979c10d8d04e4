"""How photographic a folder of renders looks to an ImageNet network, per class: figures a
project without real photos can compute for itself while it improves its renderer.

- where the frozen ImageNet head puts each class (its top ImageNet classes; real donuts
  land on bagel, bakery and pretzel, real vadas on bagel and pretzel),
- the food mass: that head's probability summed over ImageNet's food classes,
- how tightly each class's features cluster (mean cosine similarity within the class)
  against how near they lie to the other classes'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from chalicelib.metadata import ModelMetadata
from training.choices import ARCHITECTURES
from training.dataset import resize_side, scan
from training.features import pooled_features
from training.networks import build_network
from training.none_rule import imagenet_probabilities

# ImageNet-1k's food block, 923 'plate' to 965 'burrito', and 415 'bakery'; 966-969 are
# drinks and cups, left out (a cup of coffee is not a donut).
FOOD_CLASSES = (415, *range(923, 966))
TOP = 5


def realism(data: Path) -> dict[str, Any]:
    """data: class folders (or a tree's train/ part)."""
    import timm.data

    split = scan(data / "train" if (data / "train").is_dir() else data)
    lite0 = ARCHITECTURES["efficientnet_lite0"]
    meta = ModelMetadata(
        "realism", "0", "efficientnet_lite0", split.labels, 224, resize_side(224), lite0.mean, lite0.std
    )
    network = build_network("efficientnet_lite0", len(split.labels), pretrained=True).eval()
    features = pooled_features(network.backbone, [path for path, _ in split.samples], meta)[:, 0]
    probabilities = imagenet_probabilities(network, features)
    labels = np.array([label for _, label in split.samples])
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    names = timm.data.imagenet_info.ImageNetInfo()
    report: dict[str, Any] = {"data": str(data), "images": len(labels), "classes": {}}
    for index, label in enumerate(split.labels):
        mine, others = unit[labels == index], unit[labels != index]
        within = mine @ mine.T
        mean_probability = probabilities[labels == index].mean(axis=0)
        report["classes"][label] = {
            "images": int(len(mine)),
            "imagenet_top": [
                {
                    "class": int(c),
                    "name": names.index_to_description(int(c)).split(",")[0],
                    "probability": round(float(mean_probability[c]), 4),
                }
                for c in np.argsort(-mean_probability)[:TOP]
            ],
            "food_mass": round(float(probabilities[labels == index][:, FOOD_CLASSES].sum(axis=1).mean()), 4),
            "cosine_within": round(float((within.sum() - len(mine)) / max(1, len(mine) * (len(mine) - 1))), 4),
            "cosine_to_others": round(float((mine @ others.T).mean()), 4) if len(others) else None,
        }
    return report


def summary(report: dict[str, Any]) -> list[str]:
    lines = [f"{report['images']} images in {report['data']}"]
    for label, row in report["classes"].items():
        top = ", ".join(f"{t['name']} {t['probability']:.2f}" for t in row["imagenet_top"])
        lines.append(
            f"{label} ({row['images']}): food mass {row['food_mass']:.3f}, cosine within "
            f"{row['cosine_within']:.3f} / to others {row['cosine_to_others']:.3f}; ImageNet: {top}"
        )
    return lines
