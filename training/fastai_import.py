"""A fastai Learner saved with `learn.export()`: its network, labels (dls.vocab) and
preprocessing (its Resize, IntToFloatTensor and Normalize transforms), read with fastai's
own load_learner."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from chalicelib.metadata import Triple
from chalicelib.runtimes import torchscript_deprecation_silenced

from training.errors import ImportModelError
from training.model_source import Recorded, Source, torch_run, triple


def read_learner(path: Path) -> Source:
    """path: trusted already (--trust-pickle), so fastai's own warning about unpickling is not repeated."""
    with torchscript_deprecation_silenced(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="load_learner` uses Python's insecure pickle", category=UserWarning)
        from fastai.learner import load_learner

        learn: Any = load_learner(path, cpu=True)
    notes: list[str] = []
    side = _side(learn.dls.after_item, notes)
    mean, std = _normalisation(learn.dls.after_batch)
    recorded = Recorded(
        f"fastai Learner: {type(learn.model).__name__}",
        labels=tuple(str(label) for label in learn.dls.vocab),
        input_size=side,
        resize_size=side,  # fastai's Resize crops the centre square, then resizes it: no margin
        mean=mean,
        std=std,
    )
    return Source("fastai Learner", recorded, torch_run(learn.model), module=learn.model, notes=notes)


def _side(after_item: Any, notes: list[str]) -> int | None:
    resize = next((t for t in after_item.fs if type(t).__name__ in ("Resize", "RandomResizedCrop")), None)
    if resize is None:
        notes.append("the Learner records no Resize: the input size is --input-size's")
        return None
    height, width = resize.size
    if height != width:
        raise ImportModelError(f"the Learner resizes to {height}x{width}; the service feeds square images")
    method = str(getattr(resize, "method", "crop"))
    if method != "crop":
        notes.append(
            f"the Learner's Resize method is {method}; the service crops the centre square instead, "
            "so answers on images that are not square may differ a little from learn.predict's"
        )
    return int(height)


def _normalisation(after_batch: Any) -> tuple[Triple, Triple]:
    """(mean, std) of pixels scaled to 0-1, as fastai applies them after IntToFloatTensor;
    0 and 1 without a Normalize."""
    scale = next((t for t in after_batch.fs if type(t).__name__ == "IntToFloatTensor"), None)
    if scale is not None and float(scale.div) != 255.0:
        raise ImportModelError(f"the Learner divides pixels by {scale.div}, not 255; the service cannot match it")
    normalise = next((t for t in after_batch.fs if type(t).__name__ == "Normalize"), None)
    if normalise is None:
        return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    if normalise.mean.numel() != 3 or normalise.std.numel() != 3:
        raise ImportModelError("the Learner's Normalize is not one mean and std per colour channel")
    return triple(normalise.mean.flatten().tolist()), triple(normalise.std.flatten().tolist())
