"""Images of none of the labels, from what this project installs (nothing is downloaded).

- none_images(): images that are not food, for calibrating "none of these": scikit-learn's
  and matplotlib's sample photos, Debian's wallpaper packages when installed
  (gnome-backgrounds, plasma-workspace-wallpapers: `scripts/test` installs them where it
  can), procedural clutter (empty plates and tables: training/backdrops.py) and any
  folder of the user's own (`train --none-images DIR`).
- held_out_photos(): scikit-image's sample photos, never used for training or calibration:
  the model card's evaluation set for "none of these".
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
from chalicelib.imaging import preprocess
from chalicelib.metadata import ModelMetadata
from PIL import Image

from training.dataset import IMAGE_SUFFIXES, service_input
from training.errors import DatasetError

GNOME_WALLPAPERS = Path("/usr/share/backgrounds")
PLASMA_WALLPAPERS = Path("/usr/share/wallpapers")  # <name>/contents/images/<width>x<height>.<ext>
CLUTTER_COUNT = 48
# scikit-image's bundled photographs (its data folder also holds charts, text and
# synthetic test patterns, which are not photos).
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "clock_motion.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "horse.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
)


def package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin).parent if spec and spec.origin else None


def _images_in(folder: Path | None, names: tuple[str, ...] | None = None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    if names is not None:
        return [folder / name for name in names if (folder / name).is_file()]
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _one_size_each(folder: Path) -> list[Path]:
    """One file per Plasma wallpaper (each comes in many sizes): the smallest of at least 1280 px wide."""
    chosen = []
    for images in sorted(folder.glob("*/contents/images")) if folder.is_dir() else []:
        sized = [(int(m[1]), p) for p in images.iterdir() if (m := re.match(r"(\d+)x\d+", p.stem))]
        wide = sorted(pair for pair in sized if pair[0] >= 1280) or sorted(sized, reverse=True)
        if wide and wide[0][1].suffix.lower() in IMAGE_SUFFIXES:
            chosen.append(wide[0][1])
    return chosen


def sample_photos() -> dict[str, list[Path]]:
    """scikit-learn's and matplotlib's sample photos, by package (empty where it is missing)."""
    sklearn = package_dir("sklearn")
    matplotlib = package_dir("matplotlib")
    return {
        "scikit-learn samples": _images_in(sklearn / "datasets" / "images" if sklearn else None),
        "matplotlib samples": [
            p
            for p in _images_in(matplotlib / "mpl-data" / "sample_data" if matplotlib else None)
            if p.suffix.lower() in (".jpg", ".jpeg")
        ],
    }


def photo_files(extra: Path | None = None) -> dict[str, list[Path]]:
    """The non-food photo files by source; a source whose package is missing is empty."""
    sources = {
        **sample_photos(),
        "GNOME wallpapers": _images_in(GNOME_WALLPAPERS),
        "Plasma wallpapers": _one_size_each(PLASMA_WALLPAPERS),
    }
    if extra is not None:
        sources[f"{extra}"] = user_images(extra)
    return sources


def user_images(folder: Path, option: str = "--none-images") -> list[Path]:
    """The images of a folder named by option (`train --none-images DIR`), in any subfolders."""
    files = _images_in(folder)
    if not files:
        raise DatasetError(f"{option} {folder} holds no images")
    return files


def bundled_examples(meta: ModelMetadata, renders: int = 8) -> np.ndarray:
    """float32 NCHW inputs of real photos that come with the project and its packages (the
    page's example photos, scikit-learn's and matplotlib's samples) and a few renders:
    images any model can be checked on."""
    examples = _images_in(Path(__file__).parent.parent / "chalicelib" / "examples")
    photos = [*examples, *(photo for photos in sample_photos().values() for photo in photos)]
    return np.concatenate(
        [service_input(path, meta) for path in photos] + [preprocess(image, meta) for image in clutter(renders)]
    )


def clutter(count: int = CLUTTER_COUNT, size: int = 256) -> list[Image.Image]:
    """Tables, plates and cloths with nothing on them, drawn (training/backdrops.py)."""
    from training.backdrops import render_empty

    return [render_empty(seed, size) for seed in range(count)]


def none_inputs(meta: ModelMetadata, extra: Path | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """float32 NCHW inputs of the non-food images for calibration, exactly as the service
    would feed them to the model, and their count by source."""
    inputs, counts = [], {}
    for source, files in photo_files(extra).items():
        inputs += [service_input(path, meta) for path in files]
        counts[source] = len(files)
    extra_clutter = clutter()
    counts["procedural clutter"] = len(extra_clutter)
    return np.concatenate(inputs + [preprocess(image, meta) for image in extra_clutter]), counts


def held_out_photos() -> list[Path]:
    """scikit-image's sample photos (needs scikit-image installed)."""
    skimage = package_dir("skimage")
    return _images_in(skimage / "data" if skimage else None, SKIMAGE_PHOTOS)
