"""ImageFolder trees (`class_name/*.jpg`): checked before training, read as the service reads;
and the parts a run used, train, val and test, written down as lists beside its weights."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
from chalicelib.imaging import normalise
from chalicelib.metadata import ModelMetadata
from chalicelib.settings import usable_cpus
from PIL import Image
from tqdm import tqdm

from training import image_cache
from training.errors import DatasetError

if TYPE_CHECKING:
    import torch

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".avif", ".heic", ".heif"}


@dataclass(frozen=True)
class Split:
    labels: tuple[str, ...]
    samples: list[tuple[Path, int]]  # (image file, index into labels)


PARTS = ("train", "val", "test")
# Figures over fewer images than this move in large steps: train and evaluate say so.
FEW_IMAGES = 30
_LIST_HEADER = "# classes"


def resize_side(input_size: int) -> int:
    """The shorter side an image is resized to before the centre crop of input_size."""
    return round(input_size * 256 / 224)


def scan(root: Path, sizes: tuple[int, int] = (resize_side(224), 224)) -> Split:
    """Lists an ImageFolder tree (a class folder's subfolders are of its class, as for
    torchvision's ImageFolder), refusing one that cannot train, with every problem named:
    fewer than two classes, an empty class, files that are not images, images that do not
    decode (every one is decoded to its end, for a model of sizes (resize_size, input_size),
    into the image cache that training then reads, so that a truncated file stops the run
    here). root may also be a part's list that train wrote (build/mine/val.txt), whose
    images were checked when it was written."""
    if root.is_file():
        return read_list(root)
    if not root.exists():
        raise DatasetError(f"{root} does not exist")
    if not root.is_dir():
        raise DatasetError(f"{root} is neither a folder of class folders nor a list of images written by train")
    labels = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(labels) < 2:
        raise DatasetError(f"{root} needs two or more class folders (one per label), found {list(labels)}")
    samples, problems = [], []
    for index, label in enumerate(labels):
        files = sorted(p for p in (root / label).rglob("*") if p.is_file() and not _hidden(p, root / label))
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        problems += [f"{p}: not an image file ({p.suffix or 'no suffix'})" for p in files if p not in images]
        if not images:
            problems.append(f"{root / label}: class folder has no images")
        samples += [(p, index) for p in images]
    problems += _undecodable([path for path, _ in samples], root, sizes)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DatasetError(f"{root} is not a usable ImageFolder tree:\n  {shown}{more}")
    return Split(labels, samples)


def _hidden(path: Path, folder: Path) -> bool:
    """A dot file, or one inside a dot folder (.thumbnails/, .git/): a tool's, not a photo."""
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def _undecodable(images: list[Path], root: Path, sizes: tuple[int, int]) -> list[str]:
    """The images that do not decode as training decodes them, each with the reason."""

    def problem(path: Path) -> str | None:
        try:
            image_cache.service_view(path, *sizes)
        except image_cache.UnreadableImage as exc:
            return str(exc)
        except OSError as exc:
            return exc.strerror or str(exc)
        return None

    with ThreadPoolExecutor(usable_cpus()) as pool:  # Pillow decodes without holding the GIL
        reasons = list(
            tqdm(
                pool.map(problem, images),
                total=len(images),
                desc=f"checking {root}",
                unit="image",
                leave=False,
                disable=None,
            )
        )  # None: shown on a terminal only
    return [f"{path}: unreadable image: {reason}" for path, reason in zip(images, reasons) if reason]


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Holds out fraction of each class (at least one image), deterministically by seed."""
    rng = random.Random(seed)
    kept, held = [], []
    for index in range(len(split.labels)):
        members = [s for s in split.samples if s[1] == index]
        rng.shuffle(members)
        count = max(1, round(len(members) * fraction))
        if count >= len(members):
            raise DatasetError(
                f"class {split.labels[index]!r} has too few images left ({len(members)}) to hold out "
                f"{count} and train on the rest: give each class 3 images or more (20 or more train well)"
            )
        held += members[:count]
        kept += members[count:]
    return Split(split.labels, sorted(kept)), Split(split.labels, sorted(held))


def split_parts(
    data: Path, val_fraction: float, test_fraction: float, seed: int, sizes: tuple[int, int] = (resize_side(224), 224)
) -> dict[str, Split]:
    """train, val and test: DATA/train, DATA/val and DATA/test where the tree has them;
    a part it lacks is held out of train (or, for DATA/<class>/*, of the whole), that
    fraction of each class, deterministically by seed."""
    whole = data / "train" if (data / "train").is_dir() else data
    parts = {"train": scan(whole, sizes)}
    left = 1.0  # of the whole, what train still holds
    for name, fraction in (("test", test_fraction), ("val", val_fraction)):
        if whole != data and (data / name).is_dir():
            parts[name] = scan(data / name, sizes)
            if parts[name].labels != parts["train"].labels:
                raise DatasetError(
                    f"train/ has classes {list(parts['train'].labels)} but {name}/ has {list(parts[name].labels)}"
                )
        else:
            parts["train"], parts[name] = stratified_split(parts["train"], fraction / left, seed)
            left -= fraction
    return {name: parts[name] for name in PARTS}


def write_list(split: Split, path: Path) -> None:
    """One image per line, its class and absolute path; the header names every class, also
    one that this part holds no image of."""
    rows = [f"{split.labels[index]}\t{image.resolve()}" for image, index in split.samples]
    path.write_text("\n".join(["\t".join([_LIST_HEADER, *split.labels]), *rows]) + "\n")


def read_list(path: Path) -> Split:
    header, *rows = path.read_text().splitlines() or [""]
    name, *labels = header.split("\t")
    if name != _LIST_HEADER:
        raise DatasetError(f"{path} is neither an image folder nor a list of images written by train")
    samples, gone = [], []
    for row in rows:
        label, _, image = row.partition("\t")
        if label not in labels:
            raise DatasetError(f"{path}: {row!r} names a class the header does not")
        if not Path(image).is_file():
            gone.append(image)
        samples.append((Path(image), labels.index(label)))
    if gone:
        raise DatasetError(f"{path} lists {len(gone)} images that are no longer there, e.g. {gone[0]}")
    return Split(tuple(labels), samples)


def service_view(path: Path, meta: ModelMetadata) -> Image.Image:
    """The square the service would crop from this file for meta's model (the image cache's)."""
    try:
        return Image.fromarray(image_cache.service_view(path, meta.resize_size, meta.input_size), "RGB")
    except image_cache.UnreadableImage as exc:
        raise DatasetError(f"{path}: {exc}") from exc


def service_input(path: Path, meta: ModelMetadata) -> np.ndarray:
    """float32 NCHW (N = 1): exactly what the service would feed the model for this file."""
    return normalise(np.asarray(service_view(path, meta)), meta)


def eval_batches(
    samples: list[tuple[Path, int]], meta: ModelMetadata, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields (inputs, targets) decoded and preprocessed exactly as the service does:
    float32 NCHW and int64 arrays (numpy, so that evaluate runs without torch)."""
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        arrays = [service_input(path, meta) for path, _ in chunk]
        yield np.concatenate(arrays), np.array([label for _, label in chunk], dtype=np.int64)


def check_batch(split: Split, meta: ModelMetadata, count: int = 32) -> torch.Tensor:
    """Up to count images spread over every class, preprocessed as the service does."""
    import torch  # export's, which has it

    step = max(1, len(split.samples) // count)
    inputs, _ = next(eval_batches(split.samples[::step][:count], meta, count))
    return torch.from_numpy(inputs)
