"""Where the model looked, for /predict?explain=1: the top label's activation map (an
output of the model's own forward pass; training/explain.py) scaled to 0..1, and the
part of the photo it covers."""

from __future__ import annotations

from typing import Any

import numpy as np

from chalicelib.imaging import crop_box


def explanation(
    label_map: np.ndarray, label: str, image_size: tuple[int, int], resize_size: int, input_size: int
) -> dict[str, Any]:
    """label_map: (h, w), one label's activation. The map is min-max scaled: what matters is
    where it is high, not the logit's scale. box: the centre square the model saw, as
    fractions of the (upright) photo's width and height."""
    low, high = float(label_map.min()), float(label_map.max())
    scaled = (label_map - low) / (high - low) if high > low else np.zeros_like(label_map)
    left, top, right, bottom = crop_box(image_size, resize_size, input_size)
    width, height = image_size
    return {
        "label": label,
        "map": np.round(scaled, 3).tolist(),
        "box": {
            "left": round(left / width, 4),
            "top": round(top / height, 4),
            "width": round((right - left) / width, 4),
            "height": round((bottom - top) / height, 4),
        },
    }
