"""ImageFolder trees (`class_name/*.jpg`): checked before training, read as the service reads."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from chalicelib.errors import ApiError
from chalicelib.imaging import decode, preprocess
from chalicelib.uploads import FORMATS
from chalicelib.metadata import ModelMetadata

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
_NO_PIXEL_LIMIT = 10**12  # training photos are the user's own: no decompression-bomb guard


class DatasetError(ValueError):
    """The image folder cannot be trained on; the message says why."""


@dataclass(frozen=True)
class Split:
    labels: tuple[str, ...]
    samples: list[tuple[Path, int]]  # (image file, index into labels)


def scan(root: Path) -> Split:
    """Lists an ImageFolder tree, refusing one that cannot train, with every problem named:
    fewer than two classes, an empty class, files that are not images, unreadable images."""
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    labels = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(labels) < 2:
        raise DatasetError(f"{root} needs two or more class folders (one per label), found {list(labels)}")
    samples, problems = [], []
    for index, label in enumerate(labels):
        files = sorted(p for p in (root / label).iterdir() if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        problems += [f"{p}: not an image file ({p.suffix or 'no suffix'})" for p in files if p not in images]
        problems += [f"{p}: {reason}" for p in images if (reason := _unreadable(p))]
        if not images:
            problems.append(f"{root / label}: class folder has no images")
        samples += [(p, index) for p in images]
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DatasetError(f"{root} is not a usable ImageFolder tree:\n  {shown}{more}")
    return Split(labels, samples)


def _unreadable(path: Path) -> str | None:
    """Cheap header check; truncated pixel data is caught when the image is decoded."""
    try:
        with Image.open(path) as image:
            if image.format not in FORMATS and image.format != "MPO":
                return f"unsupported format {image.format}"
    except (UnidentifiedImageError, OSError) as exc:
        return f"unreadable image ({exc.__class__.__name__})"
    return None


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Holds out fraction of each class (at least one image), deterministically by seed."""
    rng = random.Random(seed)
    kept, held = [], []
    for index in range(len(split.labels)):
        members = [s for s in split.samples if s[1] == index]
        rng.shuffle(members)
        count = max(1, round(len(members) * fraction))
        if count >= len(members):
            raise DatasetError(f"class {split.labels[index]!r} has too few images to hold out a validation set")
        held += members[:count]
        kept += members[count:]
    return Split(split.labels, sorted(kept)), Split(split.labels, sorted(held))


def train_and_val(data: Path, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """DATA/train and DATA/val when the tree has them; otherwise DATA's class folders,
    with val_fraction of each class held out."""
    if (data / "train").is_dir():
        train = scan(data / "train")
        if not (data / "val").is_dir():
            return stratified_split(train, val_fraction, seed)
        val = scan(data / "val")
        if val.labels != train.labels:
            raise DatasetError(f"train/ has classes {list(train.labels)} but val/ has {list(val.labels)}")
        return train, val
    return stratified_split(scan(data), val_fraction, seed)


def load_rgb(path: Path, min_side: int) -> Image.Image:
    """Decodes a training image exactly as the service decodes an upload."""
    try:
        return decode(path.read_bytes(), min_side, _NO_PIXEL_LIMIT)
    except ApiError as exc:
        raise DatasetError(f"{path}: {exc.message}") from exc


def eval_batches(samples: list[tuple[Path, int]], meta: ModelMetadata, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yields (inputs, targets) preprocessed exactly as the service does."""
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        arrays = [preprocess(load_rgb(path, meta.resize_size), meta) for path, _ in chunk]
        yield torch.from_numpy(np.concatenate(arrays)), torch.tensor([label for _, label in chunk])


def check_batch(split: Split, meta: ModelMetadata, count: int = 32) -> torch.Tensor:
    """Up to count images spread over every class, preprocessed as the service does."""
    step = max(1, len(split.samples) // count)
    inputs, _ = next(eval_batches(split.samples[::step][:count], meta, count))
    return inputs
