"""Procedural renderer of donuts, bagels and vadas (medu and masala) for the demo data set,
drawn to look like food photos to an ImageNet model (the model card's "food mass").

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
from training.backdrops import CANVAS, background, finish, smooth_noise

from devtools.renders.seeds import image_seed

CLASSES = ("bagel", "donut", "vada")
SPLITS = {"train": 0.8, "val": 0.1, "test": 0.1}


@dataclass(frozen=True)
class Job:
    out: Path
    split: str
    label: str
    index: int
    seed: int
    size: int


def _radial_wobble(rng: np.random.Generator, theta: np.ndarray, amount: float, harmonics: int) -> np.ndarray:
    """A smooth random function of the angle, for irregular outlines."""
    out = np.zeros_like(theta)
    for k in range(2, 2 + harmonics):
        out += rng.normal(0, amount / k) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    return out


@dataclass(frozen=True)
class Look:
    """How one kind of round fried or baked food is drawn."""

    hole: tuple[float, float]  # inner radius / outer radius
    thickness: tuple[float, float]  # height of the ring's cross-section
    wobble: float  # irregularity of the outline
    roughness: float  # bumpiness of the surface
    gloss: float


LOOKS = {
    "donut": Look(hole=(0.16, 0.3), thickness=(0.9, 1.25), wobble=0.012, roughness=0.03, gloss=0.25),
    "bagel": Look(hole=(0.16, 0.28), thickness=(1.0, 1.3), wobble=0.025, roughness=0.05, gloss=0.15),
    "medu vada": Look(hole=(0.12, 0.22), thickness=(0.8, 1.1), wobble=0.02, roughness=0.25, gloss=0.4),
    "masala vada": Look(hole=(0.0, 0.0), thickness=(0.4, 0.6), wobble=0.035, roughness=0.4, gloss=0.3),
}


def _crust_colour(rng: np.random.Generator, kind: str) -> np.ndarray:
    golden = rng.uniform(0, 1)  # pale to deep fried or baked
    if kind == "donut":
        colour = (0.86 - 0.2 * golden, 0.62 - 0.22 * golden, 0.33 - 0.15 * golden)
    elif kind == "bagel":
        colour = (0.8 - 0.35 * golden, 0.58 - 0.3 * golden, 0.32 - 0.2 * golden)
    else:  # vadas: deep-fried lentil batter, darker and redder
        colour = (0.8 - 0.25 * golden, 0.5 - 0.2 * golden, 0.16 - 0.08 * golden)
    return np.array(colour, np.float32) + rng.normal(0, 0.015, 3).astype(np.float32)


ICINGS = [  # pink, chocolate, dark chocolate, white, vanilla, caramel, lemon, blue, strawberry
    (0.95, 0.6, 0.72),
    (0.36, 0.2, 0.11),
    (0.2, 0.11, 0.07),
    (0.97, 0.95, 0.9),
    (0.98, 0.9, 0.72),
    (0.78, 0.52, 0.25),
    (0.98, 0.88, 0.45),
    (0.55, 0.75, 0.95),
    (0.88, 0.3, 0.35),
]
SPRINKLES = [(1, 0.2, 0.2), (0.2, 0.6, 1), (1, 0.9, 0.2), (0.3, 0.9, 0.3), (1, 1, 1), (1, 0.5, 0.8), (0.6, 0.3, 0.9)]
SKIN = [(0.95, 0.78, 0.65), (0.85, 0.64, 0.5), (0.65, 0.45, 0.32), (0.45, 0.3, 0.2)]


def _draw_bits(
    rng: np.random.Generator,
    mask: np.ndarray,
    count: int,
    colours: list,
    size: tuple[float, float],
    n: int,
    roundness: tuple[float, float] = (0.3, 0.5),
) -> tuple[Image.Image, Image.Image]:
    """Small elongated specks (sprinkles or seeds) scattered over mask; returns (colour, alpha)."""
    layer = Image.new("RGB", (n, n))
    alpha = Image.new("L", (n, n))
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return layer, alpha
    draw_c, draw_a = ImageDraw.Draw(layer), ImageDraw.Draw(alpha)
    for i in rng.integers(0, len(xs), count):
        length = rng.uniform(*size)
        width = length * rng.uniform(*roundness)
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
        colour = tuple(int(c * 255) for c in colours[rng.integers(0, len(colours))])
        line = [(xs[i] - dx, ys[i] - dy), (xs[i] + dx, ys[i] + dy)]
        draw_c.line(line, fill=colour, width=max(1, round(width)))
        draw_a.line(line, fill=255, width=max(1, round(width)))
    return layer, alpha


def _over(albedo: np.ndarray, bits: tuple[Image.Image, Image.Image]) -> np.ndarray:
    a = np.asarray(bits[1], np.float32)[..., None] / 255
    return albedo * (1 - a) + np.asarray(bits[0], np.float32) / 255 * a


def _kind(rng: np.random.Generator, label: str) -> str:
    if label == "vada":
        return "medu vada" if rng.random() < 0.65 else "masala vada"
    return label


def _topping(
    rng: np.random.Generator,
    kind: str,
    albedo: np.ndarray,
    t: np.ndarray,
    inside: np.ndarray,
    theta: np.ndarray,
    bumps: np.ndarray,
    scale: float,
    n: int,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Glaze, seeds, a cut face or crisp flecks; returns (albedo, gloss, extra height)."""
    if kind == "donut":
        return _donut_topping(rng, albedo, t, inside, theta, scale, n)
    if kind == "bagel":
        return _bagel_topping(rng, albedo, t, inside, bumps, scale, n)
    return _fried_crust(rng, kind, albedo, t, inside, scale, n), LOOKS[kind].gloss, np.zeros_like(t)


def _donut_topping(
    rng: np.random.Generator,
    albedo: np.ndarray,
    t: np.ndarray,
    inside: np.ndarray,
    theta: np.ndarray,
    scale: float,
    n: int,
) -> tuple[np.ndarray, float, np.ndarray]:
    # The pale band round the waist where the donut floated in the fryer.
    albedo = np.where((np.abs(np.abs(t) - 0.9) < 0.1)[..., None], np.clip(albedo * 1.25, 0, 1), albedo)
    style = rng.choice(["glaze", "glaze", "chocolate", "sugar", "plain-glaze"])
    if style == "sugar":
        sugar = rng.random(t.shape) < rng.uniform(0.3, 0.7)
        return np.where((inside & sugar)[..., None], np.clip(albedo * 0.4 + 0.6, 0, 1), albedo), 0.05, np.zeros_like(t)
    if style == "plain-glaze":  # a thin clear glaze: shiny, a little lighter
        return np.clip(albedo * 1.08, 0, 1), 1.0, np.zeros_like(t)
    edge = 0.62 + _radial_wobble(rng, theta, 0.2, 10)  # drips down the sides
    iced = inside & (np.abs(t) < edge)
    icing = np.array(
        ICINGS[2 if style == "chocolate" and rng.random() < 0.5 else 1]
        if style == "chocolate"
        else ICINGS[rng.integers(0, len(ICINGS))],
        np.float32,
    )
    albedo = np.where(iced[..., None], icing, albedo)
    if rng.random() < 0.55:
        sprinkles = _draw_bits(
            rng, iced, int(rng.integers(40, 160)), SPRINKLES, (0.05 * scale, 0.1 * scale), n, (0.25, 0.35)
        )
        albedo = _over(albedo, sprinkles)
    return albedo, 0.8, iced * 0.06


def _bagel_topping(
    rng: np.random.Generator,
    albedo: np.ndarray,
    t: np.ndarray,
    inside: np.ndarray,
    bumps: np.ndarray,
    scale: float,
    n: int,
) -> tuple[np.ndarray, float, np.ndarray]:
    style = rng.choice(["plain", "sesame", "poppy", "everything", "sliced", "cream cheese"])
    gloss, lift = LOOKS["bagel"].gloss, np.zeros_like(t)
    if style in ("sliced", "cream cheese"):
        # Cut in half, seen from above: pale crumb with holes inside a crust rim.
        crumb = np.array([0.93, 0.86, 0.7], np.float32) * rng.uniform(0.9, 1.02)
        pores = (smooth_noise(rng, t.shape, int(rng.integers(50, 90))) < 0.3)[..., None]
        face = inside & (np.abs(t) < 0.82)
        albedo = np.where(face[..., None], np.where(pores, crumb * 0.8, crumb), albedo)
        lift = face * -0.4  # flat cut face
        gloss = 0.05
        if style == "cream cheese":
            spread = face & (smooth_noise(rng, t.shape, 8) > rng.uniform(0.25, 0.5))
            albedo = np.where(spread[..., None], np.array([0.98, 0.97, 0.94], np.float32), albedo)
            lift = lift + spread * 0.12
            gloss = 0.3
    elif style != "plain":
        top = inside & (np.abs(t) < 0.75)
        seeds = {"sesame": [(0.95, 0.88, 0.7)], "poppy": [(0.08, 0.08, 0.1)]}
        colours = seeds.get(style, [(0.95, 0.88, 0.7), (0.08, 0.08, 0.1), (0.9, 0.9, 0.85), (0.5, 0.35, 0.2)])
        albedo = _over(
            albedo, _draw_bits(rng, top, int(rng.integers(120, 400)), colours, (0.025 * scale, 0.05 * scale), n)
        )
        gloss = 0.3
    return albedo * (1 + bumps[..., None] * 0.12), gloss, lift


def _fried_crust(
    rng: np.random.Generator, kind: str, albedo: np.ndarray, t: np.ndarray, inside: np.ndarray, scale: float, n: int
) -> np.ndarray:
    """Fried, craggy surface: dark crisp ridges, a darker rim; masala vadas show lentils
    and green curry-leaf flecks."""
    crisp = smooth_noise(rng, t.shape, int(rng.integers(50, 90)))
    albedo = albedo * (0.75 + 0.45 * crisp)[..., None]
    albedo = np.where((np.abs(t) > 0.7)[..., None], albedo * 0.85, albedo)
    if kind == "masala vada":
        bits = [(0.85, 0.62, 0.2), (0.55, 0.3, 0.08), (0.2, 0.4, 0.12), (0.9, 0.75, 0.35)]
        albedo = _over(
            albedo,
            _draw_bits(rng, inside, int(rng.integers(150, 400)), bits, (0.02 * scale, 0.05 * scale), n, (0.6, 0.9)),
        )
    return albedo


def _item(
    rng: np.random.Generator,
    kind: str,
    bg: np.ndarray,
    cx: float,
    cy: float,
    scale: float,
    light: np.ndarray,
    tilt: float,
) -> np.ndarray:
    """Draws one shaded round item (a torus or a lumpy disc, seen from above, tilted)."""
    n = bg.shape[0]
    look = LOOKS[kind]
    rot = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    u, v = x - cx, y - cy
    u, v = u * math.cos(rot) + v * math.sin(rot), (-u * math.sin(rot) + v * math.cos(rot)) / tilt
    rho = np.sqrt(u**2 + v**2) / scale
    theta = np.arctan2(v, u)
    outer = 1 + _radial_wobble(rng, theta, look.wobble * 4, 6)
    hole = rng.uniform(*look.hole) * (1 + _radial_wobble(rng, theta, look.wobble * 2, 3))
    if look.hole[1] == 0:  # a disc: the "tube" runs from the centre out
        hole = -outer
    tube = np.clip((outer - hole) / 2, 0.05, None)
    centre = (outer + hole) / 2
    t = (rho - centre) / tube  # -1 at the hole edge, +1 at the outer edge
    inside = np.abs(t) < 1
    profile = np.sqrt(np.clip(1 - t**2, 0, 1))
    if look.hole[1] == 0:
        profile = np.sqrt(np.clip(1 - np.clip(t, 0, None) ** 2, 0, 1))  # flat top, rounded edge
    bumps = smooth_noise(rng, (n, n), int(rng.integers(20, 45))) - 0.5
    fine = smooth_noise(rng, (n, n), int(rng.integers(70, 110))) - 0.5
    albedo = np.broadcast_to(_crust_colour(rng, kind), (n, n, 3)).copy()
    albedo, gloss, lift = _topping(rng, kind, albedo, t, inside, theta, bumps, scale, n)
    height = profile * rng.uniform(*look.thickness) + (bumps + fine * 0.5) * look.roughness + lift * profile
    # Normals from the height field, lit from the scene's light.
    gy, gx = np.gradient(height * scale * 0.3)
    normal = np.stack([-gx, -gy, np.ones_like(gx)], -1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    lambert = np.clip(normal @ light, 0, 1)[..., None]
    half = light + np.array([0, 0, 1], np.float32)
    spec = np.clip(normal @ (half / np.linalg.norm(half)), 0, 1)
    shaded = albedo * (0.3 + 0.8 * lambert) + (gloss * 0.6 * spec**25)[..., None]
    # Soft shadow on the table, away from the light.
    shadow = Image.fromarray((inside * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(scale * 0.15))
    shift = (int(-light[0] * scale * 0.2), int(-light[1] * scale * 0.2))
    shadow_a = np.roll(np.asarray(shadow, np.float32) / 255, shift, axis=(1, 0))[..., None] * 0.5
    out = bg * (1 - shadow_a)
    cover = np.clip((1 - np.abs(t)) * tube * scale / 1.5, 0, 1)[..., None]  # anti-aliased edge
    return out * (1 - cover) + np.clip(shaded, 0, 1) * cover


def _hand(
    rng: np.random.Generator, img: np.ndarray, cx: float, cy: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """A hand reaching in from the bottom edge towards (cx, cy), drawn under the item;
    returns the image and the thumb (colour × alpha, alpha), drawn over the item afterwards."""
    n = img.shape[0]
    skin = np.array(SKIN[rng.integers(0, len(SKIN))], np.float32)
    palm, thumb = Image.new("L", (n, n)), Image.new("L", (n, n))
    draw = ImageDraw.Draw(palm)
    w = scale * 0.5
    draw.ellipse((cx - w * 1.6, cy + scale * 0.4, cx + w * 1.6, n + scale), fill=255)
    for k in range(4):  # fingers behind the item, spread under it
        fx = cx - w * 1.2 + k * w * 0.8
        draw.line([(fx, cy + scale * 0.6), (fx + (k - 1.5) * w * 0.2, cy - scale * 0.7)], fill=255, width=int(w * 0.55))
    ImageDraw.Draw(thumb).line(
        [(cx + w * 1.4, cy + scale * 1.1), (cx + scale * 0.9, cy + scale * 0.3)], fill=255, width=int(w * 0.6)
    )
    shade = 0.85 + 0.3 * smooth_noise(rng, (n, n), 6)[..., None]
    a = np.asarray(palm.filter(ImageFilter.GaussianBlur(1.2)), np.float32)[..., None] / 255
    img = img * (1 - a) + skin * shade * a
    thumb_a = np.asarray(thumb.filter(ImageFilter.GaussianBlur(1.2)), np.float32)[..., None] / 255
    return img, np.stack([skin * shade * thumb_a, np.broadcast_to(thumb_a, img.shape)])


def render(label: str, seed: int, size: int) -> Image.Image:
    """One deterministic photo-like image of label: one to four items on a plate, a
    napkin, paper or a counter, sometimes held in a hand."""
    rng = np.random.default_rng(seed)
    n = CANVAS
    img, (ax, ay, ar) = background(rng, n)
    az, elev = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.2)
    light = np.array([math.cos(az) * math.cos(elev), math.sin(az) * math.cos(elev), math.sin(elev)], np.float32)
    count = int(rng.choice([1, 1, 1, 2, 3, 4]))
    kind = _kind(rng, label)
    tilt = rng.uniform(0.6, 1.0)
    scale = n * (rng.uniform(0.26, 0.4) if count == 1 else rng.uniform(0.15, 0.22))
    held = count == 1 and rng.random() < 0.15
    thumb = None
    spots = (
        [(ax + rng.normal(0, 0.15) * ar, ay + rng.normal(0, 0.15) * ar)]
        if count == 1
        else [
            (ax + math.cos(a) * ar * 0.5, ay + math.sin(a) * ar * 0.5)
            for a in rng.uniform(0, 2 * math.pi) + np.arange(count) * 2 * math.pi / count
        ]
    )
    for cx, cy in spots:
        if held:
            img, thumb = _hand(rng, img, cx, cy, scale)
        img = _item(rng, kind, img, cx, cy, scale, light, tilt)
    if thumb is not None:
        img = img * (1 - thumb[1]) + thumb[0]
    return finish(rng, img, size)


def _path(job: Job) -> Path:
    return job.out / job.split / job.label / f"{job.index:05d}.jpg"


def _render_job(job: Job) -> None:
    render(job.label, job.seed, job.size).save(_path(job), quality=90)


def synth(
    out: Path,
    per_class: int,
    seed: int = 0,
    size: int = 256,
    workers: int = 2,  # processes
    renderer: str = "pillow",
    samples: int = 16,
) -> dict[str, int]:
    """Writes out/{train,val,test}/<class>/*.jpg; returns the number of images per split.
    renderer: pillow (this module, about 100 images a second), or blender (Cycles path
    tracing with samples per pixel, denoised: seconds per image, see docs/training.md)."""
    jobs, counts = [], {}
    start = 0
    for split, share in SPLITS.items():
        count = max(1, round(per_class * share))
        counts[split] = count * len(CLASSES)
        for ci, label in enumerate(CLASSES):
            (out / split / label).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                jobs.append(Job(out, split, label, i, image_seed(seed, ci, start + i), size))
        start += count
    if renderer == "blender":
        from devtools.renders.blender import render_all

        render_all(
            [
                {"label": job.label, "seed": job.seed, "size": job.size, "samples": samples, "path": str(_path(job))}
                for job in jobs
            ],
            workers,
        )
        return counts
    # spawn, not fork: forking a process that runs threads (a test runner, a server) can
    # deadlock the children on locks those threads held.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_render_job, jobs, chunksize=16))
    return counts
