"""From image folders to an exported ONNX file: `python -m training train` then `export`,
timed as a user runs them, from an empty image cache, on photo-sized JPEGs.

python -m bench.training runs this part alone and puts its figures into the results file
(the "training" key); python -m bench runs it with the rest.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from chalicelib.settings import usable_cpus
from devtools import ROOT
from PIL import Image

# (photos per class, photo size): the 120 as a phone takes them (12 MP); the 1,200 at
# 3 MP, the size photos shared on the web usually have, so that they fit on disk.
RUNS = ((40, (4000, 3000)), (400, (2048, 1536)))


def _photo(args: tuple[str, int, tuple[int, int], Path]) -> None:
    from devtools.renders.pillow import render

    label, seed, size, path = args
    pixels = np.asarray(render(label, seed, 320).resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(seed).normal(0, 4, pixels.shape).astype(np.int16)  # a sensor's grain
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())


def make_photos(folder: Path, per_class: int, size: tuple[int, int]) -> None:
    from devtools.renders.pillow import CLASSES

    jobs = []
    for label in CLASSES:
        (folder / label).mkdir(parents=True, exist_ok=True)
        jobs += [(label, seed, size, folder / label / f"{seed:05d}.jpg") for seed in range(per_class)]
    with ProcessPoolExecutor(usable_cpus()) as pool:
        list(pool.map(_photo, jobs, chunksize=8))


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "training", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"training {args[0]} failed:\n{result.stderr[-3000:]}")
    return round(time.perf_counter() - started, 1)


def training_times(work: Path) -> list[dict[str, Any]]:
    """Per run: photos, their size, and the seconds train and export took."""
    rows = []
    for per_class, size in RUNS:
        photos = work / f"photos-{per_class}"
        print(f"training: making {3 * per_class} photos of {size[0]}x{size[1]}", flush=True)
        make_photos(photos, per_class, size)
        env = {**os.environ, "XDG_CACHE_HOME": str(work / f"cache-{per_class}")}  # empty: a first run
        out = work / f"run-{per_class}"
        print(f"training: train and export on {3 * per_class} photos", flush=True)
        train_s = timed(["train", "--data", str(photos), "--out", str(out), "--name", "bench", "--version", "1"], env)
        export_s = timed(
            [
                "export",
                "--weights",
                str(out),
                "--check-images",
                str(out / "val.txt"),
                "--out",
                str(work / f"model-{per_class}.onnx"),
            ],
            env,
        )
        rows.append(
            {
                "photos": 3 * per_class,
                "photo_size": f"{size[0]}x{size[1]}",
                "train_s": train_s,
                "export_s": export_s,
                "total_s": round(train_s + export_s, 1),
            }
        )
    return rows


def main() -> int:
    from bench.report import DEFAULT_RESULTS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        rows = training_times(Path(tmp))
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    from bench.measure import machine

    results["training"] = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "runs": rows}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for row in rows:
        print(
            f"{row['photos']} photos of {row['photo_size']}: train {row['train_s']} s, export {row['export_s']} s, "
            f"total {row['total_s']} s"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
