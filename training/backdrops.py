"""Tables, plates, napkins and cloths with nothing on them, drawn with numpy and Pillow and
finished as a phone camera would (exposure, white balance, vignette, noise, blur, JPEG):
clutter among the images of "none of these" that every model's rule is calibrated
against (training/negatives.py), and the backdrop the demo's Pillow renderer puts its food
on (devtools/renders/pillow.py)."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageFilter

CANVAS = 320  # the side everything is drawn at, before the camera's resize


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    img = Image.fromarray((grid * 255).astype(np.uint8)).resize(shape[::-1], Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


# Surfaces food is photographed on, muted as real ones are: (kind, base colour range).
SURFACES = (
    ("wood", (0.35, 0.22, 0.12), (0.62, 0.45, 0.28)),
    ("marble", (0.78, 0.77, 0.75), (0.93, 0.92, 0.9)),
    ("granite", (0.25, 0.24, 0.24), (0.55, 0.53, 0.5)),
    ("paper", (0.8, 0.68, 0.5), (0.97, 0.95, 0.92)),  # kraft to white: napkins, baking paper
    ("cloth", (0.45, 0.2, 0.15), (0.9, 0.88, 0.85)),
)


def _surface(rng: np.random.Generator, n: int) -> np.ndarray:
    """A table top: wood grain, veined marble, speckled granite, crumpled paper or cloth."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
    kind, low, high = SURFACES[rng.integers(0, len(SURFACES))]
    base = rng.uniform(low, high).astype(np.float32)
    if kind == "wood":
        freq = rng.uniform(8, 30)
        grain = np.sin((x * freq + smooth_noise(rng, (n, n), 5) * 4) * math.pi)
        tex = grain[..., None] * 0.06 + (smooth_noise(rng, (n, n), 40)[..., None] - 0.5) * 0.08
    elif kind == "marble":
        veins = np.abs(np.sin((x + y + smooth_noise(rng, (n, n), 4) * 2.5) * rng.uniform(3, 8)))
        tex = -((1 - veins) ** 12)[..., None] * 0.25 + (smooth_noise(rng, (n, n), 12)[..., None] - 0.5) * 0.05
    elif kind == "granite":
        tex = (rng.random((n, n, 1)).astype(np.float32) - 0.5) * 0.25 + (
            smooth_noise(rng, (n, n), 30)[..., None] - 0.5
        ) * 0.1
    elif kind == "paper":
        folds = smooth_noise(rng, (n, n), int(rng.integers(3, 8)))
        gy, gx = np.gradient(folds)
        tex = ((gx + gy) * n * 0.02)[..., None] + (rng.random((n, n, 1)).astype(np.float32) - 0.5) * 0.03
    else:
        cells = rng.integers(6, 16)
        check = ((np.floor(x * cells) + np.floor(y * cells)) % 2)[..., None]
        tex = (
            check * (rng.uniform(0.85, 1.0, 3).astype(np.float32) - base) * 0.7
            + (smooth_noise(rng, (n, n), 60)[..., None] - 0.5) * 0.06
        )
    return np.clip(base + tex, 0, 1)


def background(rng: np.random.Generator, n: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The surface under a light gradient, usually with a plate or napkin on it; returns
    the image and the (x, y, radius) in pixels where food may go."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
    img = _surface(rng, n)
    gx, gy = rng.uniform(-0.25, 0.25, 2)
    img = img + ((x - 0.5) * gx + (y - 0.5) * gy)[..., None]
    area = (n / 2, n / 2, n * 0.45)
    if rng.random() < 0.7:
        cx, cy = rng.uniform(0.4, 0.6, 2)
        radius = rng.uniform(0.38, 0.62)
        squash = rng.uniform(0.7, 1.0)
        d = np.sqrt((x - cx) ** 2 + ((y - cy) / squash) ** 2)
        if rng.random() < 0.75:  # white or cream ceramic, sometimes a muted colour
            plate = np.array([0.94, 0.93, 0.9], np.float32) * rng.uniform(0.9, 1.02)
        else:
            plate = rng.uniform(0.35, 0.8, 3).astype(np.float32) * 0.5 + 0.35
        rim = np.clip(1 - np.abs(d - radius * 0.82) / 0.025, 0, 1)[..., None] * 0.1
        plate_img = plate - rim + (0.5 - y[..., None]) * 0.08 - (d / radius)[..., None] * 0.05
        shadow = np.clip((d - radius) / 0.04, 0, 1)[..., None]
        img = img * (0.75 + 0.25 * shadow)
        img = np.where((d < radius)[..., None], plate_img, img)
        area = (cx * n, cy * n, radius * n * 0.8)
    return np.clip(img, 0, 1), area


def finish(rng: np.random.Generator, img: np.ndarray, size: int) -> Image.Image:
    """The camera: exposure, white balance, vignette, noise, blur and JPEG artefacts."""
    n = img.shape[0]
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
    img = img * rng.uniform(0.75, 1.15) * (np.array([1.03, 1.0, 0.94], np.float32) * rng.uniform(0.95, 1.05, 3))
    img = img * (1 - rng.uniform(0, 0.35) * ((x - 0.5) ** 2 + (y - 0.5) ** 2))[..., None]
    img = img + rng.normal(0, rng.uniform(0.004, 0.03), img.shape)
    pil = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    if rng.random() < 0.35:
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.6)))
    pil = pil.resize((size, size), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:  # a photo that has been through a messenger app
        buffer = io.BytesIO()
        pil.save(buffer, "JPEG", quality=int(rng.integers(35, 80)))
        pil = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return pil


def render_empty(seed: int, size: int) -> Image.Image:
    """A plate, napkin, paper or counter with nothing on it: clutter for "none of these"."""
    rng = np.random.default_rng(seed + 7_000_003)
    return finish(rng, background(rng, CANVAS)[0], size)
