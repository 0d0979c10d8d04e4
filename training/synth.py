"""Procedural renderer of donuts, bagels and medu vadas for the demo data set.

Every image comes from its own seeded generator (seed, split, class, index), so a tree
renders identically on any machine and in any number of worker processes.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("bagel", "donut", "vada")
SPLITS = {"train": 0.8, "val": 0.1, "test": 0.1}
CANVAS = 320


@dataclass(frozen=True)
class Job:
    out: Path
    split: str
    label: str
    index: int
    seed: int
    size: int


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    img = Image.fromarray((grid * 255).astype(np.uint8)).resize(shape[::-1], Image.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def _radial_wobble(rng: np.random.Generator, theta: np.ndarray, amount: float, harmonics: int) -> np.ndarray:
    """A smooth random function of the angle, for irregular outlines."""
    out = np.zeros_like(theta)
    for k in range(2, 2 + harmonics):
        out += rng.normal(0, amount / k) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    return out


def _background(rng: np.random.Generator, n: int) -> np.ndarray:
    """A table (plain, wood grain or cloth check) under a light gradient, optionally a plate."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
    base = rng.uniform(0.15, 0.95, 3).astype(np.float32)
    kind = rng.integers(0, 3)
    if kind == 0:
        tex = _smooth_noise(rng, (n, n), 6)[..., None] * 0.2
    elif kind == 1:
        freq = rng.uniform(10, 40)
        grain = np.sin((x * freq + _smooth_noise(rng, (n, n), 4) * 3) * math.pi)
        tex = (grain[..., None] * 0.08) + 0.0
        base = np.array([rng.uniform(0.35, 0.6), rng.uniform(0.2, 0.4), rng.uniform(0.1, 0.25)], np.float32)
    else:
        cells = rng.integers(4, 12)
        check = ((np.floor(x * cells) + np.floor(y * cells)) % 2)[..., None]
        other = rng.uniform(0.3, 1.0, 3).astype(np.float32)
        tex = check * (other - base) * 0.6
    gx, gy = rng.uniform(-0.3, 0.3, 2)
    img = base + tex + ((x - 0.5) * gx + (y - 0.5) * gy)[..., None]
    if rng.random() < 0.6:
        cx, cy = rng.uniform(0.35, 0.65, 2)
        radius = rng.uniform(0.4, 0.6)
        squash = rng.uniform(0.6, 1.0)
        d = np.sqrt((x - cx) ** 2 + ((y - cy) / squash) ** 2)
        plate = rng.choice([np.array([0.95, 0.95, 0.93]), rng.uniform(0.3, 1.0, 3)]).astype(np.float32)
        rim = np.clip(1 - np.abs(d - radius * 0.85) / 0.03, 0, 1)[..., None] * 0.12
        inside = (d < radius)[..., None]
        img = np.where(inside, plate - rim + (0.5 - y[..., None]) * 0.1, img)
    return np.clip(img, 0, 1)


@dataclass(frozen=True)
class Look:
    """How one kind of ring-shaped food is drawn."""

    hole: tuple[float, float]
    thickness: tuple[float, float]
    wobble: float
    roughness: float
    gloss: float


LOOKS = {
    "donut": Look(hole=(0.38, 0.5), thickness=(0.55, 0.75), wobble=0.015, roughness=0.02, gloss=0.5),
    "bagel": Look(hole=(0.18, 0.3), thickness=(0.9, 1.2), wobble=0.03, roughness=0.05, gloss=0.1),
    "vada": Look(hole=(0.0, 0.18), thickness=(0.5, 0.8), wobble=0.05, roughness=0.35, gloss=0.2),
}


def _crust_colour(rng: np.random.Generator, label: str) -> np.ndarray:
    if label == "donut":
        return np.array([rng.uniform(0.75, 0.9), rng.uniform(0.5, 0.65), rng.uniform(0.25, 0.4)], np.float32)
    if label == "bagel":
        dark = rng.uniform(0, 1)
        return np.array([0.75 - 0.35 * dark, 0.5 - 0.3 * dark, 0.25 - 0.15 * dark], np.float32) + rng.normal(0, 0.02, 3).astype(np.float32)
    return np.array([rng.uniform(0.72, 0.9), rng.uniform(0.42, 0.58), rng.uniform(0.08, 0.2)], np.float32)


ICINGS = [
    (0.95, 0.55, 0.7), (0.35, 0.18, 0.1), (0.97, 0.95, 0.9), (0.98, 0.85, 0.3),
    (0.5, 0.75, 0.95), (0.6, 0.85, 0.5), (0.85, 0.3, 0.3), (0.7, 0.5, 0.85),
]
SPRINKLES = [(1, 0.2, 0.2), (0.2, 0.6, 1), (1, 0.9, 0.2), (0.3, 0.9, 0.3), (1, 1, 1), (1, 0.5, 0.8), (0.6, 0.3, 0.9)]


def _draw_bits(rng: np.random.Generator, mask: np.ndarray, count: int, colours: list, size: tuple[float, float], n: int) -> tuple[Image.Image, Image.Image]:
    """Small elongated specks (sprinkles or seeds) scattered over mask; returns (colour, alpha)."""
    layer = Image.new("RGB", (n, n))
    alpha = Image.new("L", (n, n))
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return layer, alpha
    draw_c, draw_a = ImageDraw.Draw(layer), ImageDraw.Draw(alpha)
    for i in rng.integers(0, len(xs), count):
        length = rng.uniform(*size)
        width = length * rng.uniform(0.3, 0.5)
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
        colour = tuple(int(c * 255) for c in colours[rng.integers(0, len(colours))])
        line = [(xs[i] - dx, ys[i] - dy), (xs[i] + dx, ys[i] + dy)]
        draw_c.line(line, fill=colour, width=max(1, round(width)))
        draw_a.line(line, fill=255, width=max(1, round(width)))
    return layer, alpha


def _ring(rng: np.random.Generator, label: str, bg: np.ndarray) -> np.ndarray:
    """Draws one shaded ring (torus seen from above, tilted) over the background."""
    n = bg.shape[0]
    look = LOOKS[label]
    scale = rng.uniform(0.22, 0.42) * n
    cx = n / 2 + rng.normal(0, 0.12) * n
    cy = n / 2 + rng.normal(0, 0.12) * n
    tilt = rng.uniform(0.55, 1.0)
    rot = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    u, v = x - cx, y - cy
    u, v = u * math.cos(rot) + v * math.sin(rot), (-u * math.sin(rot) + v * math.cos(rot)) / tilt
    rho = np.sqrt(u**2 + v**2) / scale
    theta = np.arctan2(v, u)
    outer = 1 + _radial_wobble(rng, theta, look.wobble * 4, 6)
    hole = rng.uniform(*look.hole) * (1 + _radial_wobble(rng, theta, look.wobble * 2, 3))
    tube = np.clip((outer - hole) / 2, 0.05, None)
    centre = (outer + hole) / 2
    t = (rho - centre) / tube  # -1 at the hole edge, +1 at the outer edge
    inside = np.abs(t) < 1
    height = np.sqrt(np.clip(1 - t**2, 0, 1)) * rng.uniform(*look.thickness)
    bumps = _smooth_noise(rng, (n, n), int(rng.integers(20, 45))) - 0.5
    height = height + bumps * look.roughness
    # Normals from the height field, lit from a random direction above.
    gy, gx = np.gradient(height * scale * 0.3)
    normal = np.stack([-gx, -gy, np.ones_like(gx)], -1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    az = rng.uniform(0, 2 * math.pi)
    elev = rng.uniform(0.4, 1.2)
    light = np.array([math.cos(az) * math.cos(elev), math.sin(az) * math.cos(elev), math.sin(elev)], np.float32)
    lambert = np.clip(normal @ light, 0, 1)[..., None]
    albedo = np.broadcast_to(_crust_colour(rng, label), (n, n, 3)).copy()
    gloss = look.gloss

    if label == "donut":
        # Pale ring around the waist where the donut floated in the fryer.
        albedo = np.where((np.abs(np.abs(t) - 0.85) < 0.12)[..., None], albedo * 1.15, albedo)
        if rng.random() < 0.85:
            edge = 0.55 + _radial_wobble(rng, theta, 0.15, 8)
            iced = inside & (np.abs(t) < edge)
            icing = np.array(ICINGS[rng.integers(0, len(ICINGS))], np.float32)
            albedo = np.where(iced[..., None], icing, albedo)
            gloss = 0.9
            if rng.random() < 0.6:
                layer, alpha = _draw_bits(rng, iced, int(rng.integers(30, 120)), SPRINKLES, (0.03 * scale, 0.09 * scale), n)
                a = np.asarray(alpha, np.float32)[..., None] / 255
                albedo = albedo * (1 - a) + np.asarray(layer, np.float32) / 255 * a
        else:
            sugar = rng.random((n, n)) < 0.25
            albedo = np.where((inside & sugar)[..., None], albedo * 1.3, albedo)
    elif label == "bagel":
        topping = rng.choice(["plain", "sesame", "poppy", "everything"])
        top = inside & (np.abs(t) < 0.75)
        if topping != "plain":
            seeds = {"sesame": [(0.95, 0.88, 0.7)], "poppy": [(0.08, 0.08, 0.1)]}
            colours = seeds.get(topping, [(0.95, 0.88, 0.7), (0.08, 0.08, 0.1), (0.9, 0.9, 0.85), (0.5, 0.35, 0.2)])
            layer, alpha = _draw_bits(rng, top, int(rng.integers(60, 260)), colours, (0.02 * scale, 0.05 * scale), n)
            a = np.asarray(alpha, np.float32)[..., None] / 255
            albedo = albedo * (1 - a) + np.asarray(layer, np.float32) / 255 * a
        albedo *= 1 + (bumps[..., None] * 0.1)
    else:
        # Fried, craggy surface: dark crisp flecks and a darker rim.
        crisp = _smooth_noise(rng, (n, n), int(rng.integers(40, 70)))
        albedo *= (0.75 + 0.45 * crisp)[..., None]
        albedo = np.where((np.abs(t) > 0.7)[..., None], albedo * 0.8, albedo)

    spec = np.clip(normal @ (light + np.array([0, 0, 1], np.float32)) / np.linalg.norm(light + np.array([0, 0, 1])), 0, 1)
    shaded = albedo * (0.35 + 0.75 * lambert) + (gloss * spec**30)[..., None]
    # Soft shadow of the ring on the table.
    shadow = Image.fromarray((inside * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(scale * 0.12))
    shift = (int(-light[0] * scale * 0.15), int(-light[1] * scale * 0.15))
    shadow_a = np.roll(np.asarray(shadow, np.float32) / 255, shift, axis=(1, 0))[..., None] * 0.45
    out = bg * (1 - shadow_a)
    # Anti-aliased edge.
    cover = np.clip((1 - np.abs(t)) * tube * scale / 1.5, 0, 1)[..., None]
    return out * (1 - cover) + np.clip(shaded, 0, 1) * cover


def render(label: str, seed: int, size: int) -> Image.Image:
    """One deterministic photo-like image of label."""
    rng = np.random.default_rng(seed)
    n = CANVAS
    img = _ring(rng, label, _background(rng, n))
    img *= rng.uniform(0.7, 1.2) * rng.uniform(0.9, 1.1, 3)  # exposure and white balance
    img += rng.normal(0, rng.uniform(0.005, 0.04), img.shape)
    pil = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    if rng.random() < 0.3:
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    return pil.resize((size, size), Image.BILINEAR)


def _render_job(job: Job) -> None:
    path = job.out / job.split / job.label / f"{job.index:05d}.jpg"
    render(job.label, job.seed, job.size).save(path, quality=90)


def synth(out: Path, per_class: int, seed: int = 0, size: int = 256, workers: int = 2) -> dict[str, int]:
    """Writes out/{train,val,test}/<class>/*.jpg; returns the number of images per split."""
    jobs, counts = [], {}
    start = 0
    for split, share in SPLITS.items():
        count = max(1, round(per_class * share))
        counts[split] = count * len(CLASSES)
        for ci, label in enumerate(CLASSES):
            (out / split / label).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                # One seed per image, independent of the worker that renders it.
                image_seed = seed * 1_000_003 + ci * 100_003 + start + i
                jobs.append(Job(out, split, label, i, image_seed, size))
        start += count
    # spawn, not fork: forking a process that runs threads (a test runner, a server) can
    # deadlock the children on locks those threads held.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_render_job, jobs, chunksize=16))
    return counts
