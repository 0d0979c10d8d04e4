"""Runs devtools/renders/blender_scene.py in .venv-render (made on first use: bpy needs numpy < 2,
so it cannot live in .venv), in the worker processes asked for, each rendering its share
of the images with one thread."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from tqdm import tqdm
from training.errors import TrainingError

from devtools import ROOT
from devtools.renders.dishes import OTHER_FOODS
from devtools.renders.seeds import image_seed
from devtools.venvs import ensure_render_venv


class RenderError(TrainingError, RuntimeError):
    """Blender failed; the message carries the end of its log."""


DONE = "rendered "  # what blender_scene prints after each image


def render_all(jobs: list[dict[str, object]], workers: int) -> None:
    """jobs: blender_scene's job dicts (label, seed, path, size, samples)."""
    python = ensure_render_venv() / "bin" / "python"  # says so when it installs Blender (once)
    with tempfile.TemporaryDirectory(prefix="blender-") as tmp:
        processes = []
        for index in range(workers):
            share = Path(tmp) / f"jobs-{index}.json"
            share.write_text(json.dumps(jobs[index::workers]))
            log = (Path(tmp) / f"log-{index}.txt").open("w")
            processes.append(
                (
                    subprocess.Popen(
                        [str(python), "-m", "devtools.renders.blender_scene", str(share), "1"],
                        cwd=ROOT,
                        stdout=subprocess.PIPE,
                        stderr=log,
                        text=True,
                    ),
                    log,
                )
            )
        with tqdm(total=len(jobs), desc="rendering", unit="image", disable=None) as bar:
            for process, _ in processes:  # each prints a line per image; the others run meanwhile
                for line in process.stdout or ():
                    bar.update(line.startswith(DONE))
        failed = [(process, log) for process, log in processes if process.wait() != 0]
        for _, log in processes:
            log.close()
        if failed:
            tail = Path(failed[0][1].name).read_text()[-2000:]
            raise RenderError(f"Blender stopped with exit status {failed[0][0].returncode}:\n{tail}")


def render_other_foods(out: Path, per_kind: int, seed: int, size: int, samples: int, workers: int) -> int:
    """out/<food>/NNNNN.jpg for each of OTHER_FOODS: photographs a food model should call
    none of its classes (evaluate --none-images); returns how many were written."""
    jobs: list[dict[str, object]] = []
    for index, food in enumerate(OTHER_FOODS):
        (out / food).mkdir(parents=True, exist_ok=True)
        jobs += [
            {
                "label": food,
                "seed": image_seed(seed, index, i),
                "size": size,
                "samples": samples,
                "path": str(out / food / f"{i:05d}.jpg"),
            }
            for i in range(per_kind)
        ]
    render_all(jobs, workers)
    return len(jobs)
