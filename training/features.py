"""A frozen backbone's pooled features, computed once per image and view: the service's
own view (resize, centre crop) and a few augmented ones (crops, flips, colour). Fitting a
head on these takes seconds, where running the backbone again every epoch took minutes."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np
import torch
from chalicelib.imaging import normalise
from chalicelib.metadata import ModelMetadata
from chalicelib.settings import usable_cpus
from PIL import Image
from torch import nn
from torchvision import transforms
from tqdm import tqdm

from training.dataset import service_view

BATCH = 32
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Features:
    """Pooled features a frozen backbone gave, for fitting the head and the none-rule."""

    train: np.ndarray  # (views, features): every view of every training image
    train_labels: np.ndarray
    val: np.ndarray  # (images, features): the service's view


def augmenter(meta: ModelMetadata, size: int | None = None) -> transforms.Compose:
    """A random view of a training image: what a photo of the same thing might look like."""
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(size or meta.input_size, scale=(0.35, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.RandomVerticalFlip(),
            transforms.ColorJitter(0.3, 0.3, 0.2, 0.02),
            transforms.ToTensor(),
            transforms.Normalize(meta.mean, meta.std),
        ]
    )


def pooled_features(
    backbone: nn.Module, files: list[Path], meta: ModelMetadata, augmented: int = 0, desc: str = "features"
) -> np.ndarray:
    """float32 (len(files), 1 + augmented, features): per file, its views' pooled features.
    Images decode in threads ahead of the backbone (Pillow releases the GIL); views are
    drawn in order in this thread, so that a seed gives the same features every run."""
    augment = augmenter(meta)
    per_batch = max(1, BATCH // (1 + augmented))
    rows: list[np.ndarray] = []
    forward = _forward(backbone)

    def decoded(path: Path) -> tuple[np.ndarray, Image.Image]:
        view = service_view(path, meta)  # augmented views are drawn from the service's own square
        return normalise(np.asarray(view), meta)[0], view

    with ThreadPoolExecutor(usable_cpus()) as pool:
        images = _prefetched(pool, decoded, files, 2 * BATCH)
        stacks = (
            torch.stack([torch.from_numpy(served), *(augment(image) for _ in range(augmented))])
            for served, image in images
        )
        for chunk in tqdm(
            _chunks(stacks, per_batch),
            total=-(-len(files) // per_batch),
            desc=desc,
            unit="batch",
            leave=False,
            disable=None,
        ):  # None: shown on a terminal only
            rows.append(forward(torch.cat(chunk)).reshape(len(chunk), 1 + augmented, -1))
    return np.concatenate(rows) if rows else np.zeros((0, 1 + augmented, 0), np.float32)


def _prefetched(pool: ThreadPoolExecutor, work: Callable[[T], R], items: list[T], window: int) -> Iterator[R]:
    """work(item) for each item, in order, at most window of them done ahead."""
    ahead: deque[Future[R]] = deque()
    for item in items:
        ahead.append(pool.submit(work, item))
        if len(ahead) > window:
            yield ahead.popleft().result()
    while ahead:
        yield ahead.popleft().result()


def _forward(backbone: nn.Module) -> Callable[[torch.Tensor], np.ndarray]:
    """Pooled features of a batch, on the backbone's device; channels_last, where the CPU
    runs depthwise convolutions about three times faster."""
    backbone.eval().to(memory_format=torch.channels_last)
    device = next(backbone.parameters()).device

    def forward(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return backbone(batch.to(device).contiguous(memory_format=torch.channels_last)).float().cpu().numpy()

    return forward


def input_features(backbone: nn.Module, inputs: np.ndarray) -> np.ndarray:
    """float32 (N, features) of float32 NCHW model inputs."""
    forward = _forward(backbone)
    rows = [forward(torch.stack(chunk)) for chunk in _chunks((torch.from_numpy(row) for row in inputs), BATCH)]
    return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
