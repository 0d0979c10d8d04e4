"""The demo model: a float16 checkpoint (demo/model/weights.pt) and the float32 ONNX file
exported from it that the stages serve (demo/model/model.onnx), both committed, so that
serving the demo needs no torch. The TorchScript file is exported only where torch is.

python -m devtools.demo_model re-exports the ONNX file when it no longer answers like the
checkpoint (tests/test_demo_model.py fails until then), and otherwise leaves it be."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from devtools import ROOT

if TYPE_CHECKING:
    import torch

CHECKPOINT = ROOT / "demo" / "model"
SERVED = CHECKPOINT / "model.onnx"
TORCHSCRIPT = ROOT / "build" / "demo" / "model.pt"


def check_images() -> torch.Tensor:
    """Freshly rendered demo images (the data set is not committed), as the service
    preprocesses them: what an export must answer like the checkpoint on."""
    import numpy as np
    import torch

    from chalicelib.imaging import preprocess
    from training.checkpoint import load_checkpoint
    from training.synth import CLASSES, render

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
    from chalicelib.metadata import ModelLoadError
    from chalicelib.runtimes import load_runtime
    from training.checkpoint import load_checkpoint
    from training.export import ExportError, assert_parity
    from training.none_rule import scored

    model, meta = load_checkpoint(CHECKPOINT)
    try:
        if load_runtime(SERVED).metadata != meta:
            return False
        assert_parity(scored(model, meta.none_rule).eval(), SERVED, check_images())
    except (ExportError, ModelLoadError, FileNotFoundError):
        return False
    return True


if __name__ == "__main__":
    if served_is_current():
        print(f"{SERVED.relative_to(ROOT)} answers like the checkpoint; left as it is")
    else:
        export_demo(SERVED)
