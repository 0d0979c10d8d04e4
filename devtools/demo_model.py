"""The demo model: a float16 checkpoint (demo/model/weights.pt) and the float32 ONNX file
exported from it that the stages serve (demo/model/model.onnx), both committed, so that
serving the demo needs no torch. The TorchScript file is exported only where torch is.

python -m devtools.demo_model re-exports the ONNX file when it no longer answers like the
checkpoint (tests/test_demo_model.py fails until then), and otherwise leaves it be.
python -m devtools.demo_model rebuild makes the demo from nothing: renders its training
images with Blender's Cycles into data/demo-cycles and the other foods its none-rule is
fitted against into data/demo-other-foods (where no earlier rebuild finished them; one to
two and a half hours on 2 cores, by the CPU), trains, writes the float16 checkpoint,
exports the ONNX file, renders the example photos (chalicelib/examples/: the README's curl and the page use them) and
the model card's sample sheet (demo/samples.jpg)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from devtools import ROOT

if TYPE_CHECKING:
    import torch

CHECKPOINT = ROOT / "demo" / "model"
DATA = Path("data") / "demo-cycles"  # relative to ROOT, as the metadata records it
# Other foods the none-rule's detector is fitted against; seed 0 renders the model card's
# held-out test set of the same foods (other-foods --seed 0).
OTHER_FOODS = Path("data") / "demo-other-foods"
OTHER_PER_KIND, OTHER_SEED = 25, 1
NAME, VERSION = "donut-bagel-vada", "3.4.0"
ARCHITECTURE = "efficientnet_lite2"
PER_CLASS, SEED, SIZE = 200, 0, 256
SERVED = CHECKPOINT / "model.onnx"
EXAMPLES = ROOT / "chalicelib" / "examples"
EXAMPLE_SEED = 50_001  # training's seeds stay below 1,000 per class
TORCHSCRIPT = ROOT / "build" / "demo" / "model.pt"
# Cycles' float output varies a little from run to run, and its denoiser turns that into
# a few pixels a level apart; more on another CPU (docs/training.md, "The demo").
RENDERS_VARY = (
    f"note: Blender's renders come out with slightly other pixels on every run, so this rebuild trains a model near "
    f'demo {VERSION}, not its files again: a new version, to be measured again (docs/training.md, "The demo")'
)


def check_images() -> torch.Tensor:
    """Freshly rendered demo images (the data set is not committed), as the service
    preprocesses them: what an export must answer like the checkpoint on."""
    import numpy as np
    import torch
    from chalicelib.imaging import preprocess
    from training.checkpoint import load_checkpoint

    from devtools.renders.pillow import CLASSES, render

    _, meta = load_checkpoint(CHECKPOINT)
    images = [render(label, seed, 256) for seed in range(10_000, 10_008) for label in CLASSES]
    return torch.from_numpy(np.concatenate([preprocess(image, meta) for image in images]))


def export_demo(path: Path) -> Path:
    from training.checkpoint import load_checkpoint
    from training.export import export

    print(f"exporting the demo model to {path.relative_to(ROOT)}", flush=True)
    model, meta = load_checkpoint(CHECKPOINT)
    export(model, meta, path, check_images())
    return path


def build_demo_models() -> list[Path]:
    """The served ONNX file and the TorchScript file (exported once, needs torch)."""
    checkpoint = max((CHECKPOINT / name).stat().st_mtime for name in ("weights.pt", "metadata.json"))
    if not TORCHSCRIPT.exists() or TORCHSCRIPT.stat().st_mtime < checkpoint:
        export_demo(TORCHSCRIPT)
    return [SERVED, TORCHSCRIPT]


def served_is_current() -> bool:
    from chalicelib.errors import ModelLoadError
    from chalicelib.runtimes import load_runtime
    from training.checkpoint import load_checkpoint
    from training.errors import ExportError
    from training.explain import exported
    from training.export import assert_parity

    model, meta = load_checkpoint(CHECKPOINT)
    try:
        if load_runtime(SERVED).metadata != meta:
            return False
        assert_parity(exported(model, meta.none_rule).eval(), SERVED, check_images())
    except (ExportError, ModelLoadError, FileNotFoundError):
        return False
    return True


def render_examples() -> None:
    """One photo of each class, rendered at 448 px with 32 samples and shrunk to 256 px
    (enough for the model's 256 px resize; small enough to live inside the page)."""
    import tempfile

    from chalicelib.page import EXAMPLES_FOR
    from PIL import Image

    from devtools.renders.blender import render_all
    from devtools.renders.pillow import CLASSES

    with tempfile.TemporaryDirectory() as tmp:
        jobs = [
            {"label": label, "seed": EXAMPLE_SEED + index, "size": 448, "samples": 32, "path": f"{tmp}/{label}.jpg"}
            for index, label in enumerate(CLASSES)
        ]
        render_all(jobs, workers=1)
        for job in jobs:
            Image.open(str(job["path"])).resize((256, 256), Image.Resampling.LANCZOS).save(
                EXAMPLES / f"{job['label']}.jpg", quality=88, optimize=True
            )
    EXAMPLES_FOR.write_text(f"{NAME}\n")  # the page offers them for this model only


def sample_sheet(columns: int = 4, side: int = 200) -> None:
    """demo/samples.jpg, the model card's picture: the first training renders of each class, a row each."""
    from PIL import Image

    from devtools.renders.pillow import CLASSES

    sheet = Image.new("RGB", (columns * side, len(CLASSES) * side))
    for row, label in enumerate(CLASSES):
        for column, path in enumerate(sorted((ROOT / DATA / "train" / label).glob("*.jpg"))[:columns]):
            sheet.paste(
                Image.open(path).convert("RGB").resize((side, side), Image.Resampling.LANCZOS),
                (column * side, row * side),
            )
    sheet.save(CHECKPOINT.parent / "samples.jpg", quality=85, optimize=True)


def other_none_images_caution(here: dict[str, int], recorded: dict[str, int]) -> str | None:
    """What a rebuild must say first where the non-food photos its none-rule is calibrated on
    (here, by source: training/negatives.photo_files) are not those the committed demo's was
    (recorded, from its metadata): two of the sources are Debian packages a machine may lack."""
    differ = [
        f"{source}: {count} here, {recorded.get(source, 0)} then"
        for source, count in here.items()
        if count != recorded.get(source, 0)
    ]
    if not differ:
        return None
    return (
        f"note: the none-rule will be calibrated on other non-food photos than demo {VERSION}'s "
        f"({'; '.join(differ)}; training/negatives.py names the packages that give them)"
    )


def rendered_once(folder: Path, what: str, render: Callable[[Path], object]) -> None:
    """folder as render writes it, unless an earlier rebuild finished it: render writes into
    a partial folder renamed when it is done, so that a rebuild cut short renders again
    instead of training on the part it had."""
    if folder.exists():
        return
    partial = folder.with_name(f"{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    print(f"rendering {what} into {folder} with Blender's Cycles", flush=True)
    render(partial)
    partial.rename(folder)


def rebuild() -> None:
    import os

    from chalicelib.settings import usable_cpus
    from training.checkpoint import save_checkpoint
    from training.config import TrainConfig
    from training.negatives import photo_files
    from training.served_model import read_metadata
    from training.train import train

    from devtools.renders.blender import render_other_foods
    from devtools.renders.pillow import synth

    os.chdir(ROOT)
    if not DATA.exists():
        print(RENDERS_VARY, flush=True)
    recorded = read_metadata(CHECKPOINT / "metadata.json").none_rule
    caution = other_none_images_caution(
        {source: len(files) for source, files in photo_files().items()},
        recorded.calibration.get("none_sources", {}) if recorded else {},
    )
    if caution:
        print(caution, flush=True)
    rendered_once(
        DATA,
        f"{3 * PER_CLASS} images",
        lambda out: synth(out, PER_CLASS, SEED, SIZE, workers=usable_cpus(), renderer="blender"),
    )
    rendered_once(
        OTHER_FOODS,
        "other foods",
        lambda out: render_other_foods(out, OTHER_PER_KIND, OTHER_SEED, SIZE, 16, usable_cpus()),
    )
    # outlier_exposure, on reference_mass rather than auto: the renders' own feature distance
    # refuses most real photos (measured: 20 of 45 accepted), while ImageNet's head has seen
    # photographs; the detector fitted against other foods refuses what ImageNet calls food.
    config = TrainConfig(data=DATA, architecture=ARCHITECTURE, none_rule="outlier_exposure", none_images=OTHER_FOODS)
    model, meta, _ = train(config, NAME, VERSION)
    save_checkpoint(model, meta, CHECKPOINT, half=True)
    export_demo(SERVED)
    render_examples()
    sample_sheet()


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["rebuild"]:
        rebuild()
    elif served_is_current():
        print(f"{SERVED.relative_to(ROOT)} answers like the checkpoint; left as it is")
    else:
        export_demo(SERVED)
