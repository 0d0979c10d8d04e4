"""The demo model file, exported from the float16 checkpoint committed under demo/model/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "demo" / "model"
MODEL_FILE = ROOT / "build" / "demo" / "model.pt"


def build_demo_model() -> Path:
    """Exports the TorchScript file once; later calls reuse it while it is newer than the checkpoint."""
    newest_input = max(p.stat().st_mtime for p in CHECKPOINT.iterdir())
    if MODEL_FILE.exists() and MODEL_FILE.stat().st_mtime >= newest_input:
        return MODEL_FILE
    from training.checkpoint import load_checkpoint
    from training.export import export_torchscript

    print(f"exporting the demo model to {MODEL_FILE.relative_to(ROOT)}", flush=True)
    model, meta = load_checkpoint(CHECKPOINT)
    export_torchscript(model, meta, MODEL_FILE)
    return MODEL_FILE
