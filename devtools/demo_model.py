"""The demo model files, exported from the float16 checkpoint committed under demo/model/."""

from __future__ import annotations

from pathlib import Path

from devtools import ROOT

CHECKPOINT = ROOT / "demo" / "model"
OUT = ROOT / "build" / "demo"
FORMATS = (".onnx", ".pt")


def build_demo_models() -> list[Path]:
    """Exports model.onnx and model.pt once; later calls reuse files newer than the checkpoint.

    The exports' parity is checked on freshly rendered demo images (the data set itself
    is not committed)."""
    files = [OUT / f"model{suffix}" for suffix in FORMATS]
    newest_input = max(p.stat().st_mtime for p in CHECKPOINT.iterdir())
    if all(f.exists() and f.stat().st_mtime >= newest_input for f in files):
        return files
    import numpy as np
    import torch

    from chalicelib.imaging import preprocess
    from training.checkpoint import load_checkpoint
    from training.export import export
    from training.synth import CLASSES, render

    model, meta = load_checkpoint(CHECKPOINT)
    images = [render(label, seed, 256) for seed in range(10_000, 10_008) for label in CLASSES]
    check = torch.from_numpy(np.concatenate([preprocess(image, meta) for image in images]))
    for path in files:
        print(f"exporting the demo model to {path.relative_to(ROOT)}", flush=True)
        export(model, meta, path, check)
    return files
