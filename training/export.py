"""Trained model → a self-describing TorchScript file (metadata as an extra file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from chalicelib.metadata import METADATA_FILE, ModelMetadata
from chalicelib.runtimes import load_runtime, torchscript_deprecation_silenced

PARITY_TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """The exported file would not answer like the trained model."""


def export_torchscript(model: nn.Module, meta: ModelMetadata, out: Path, check: torch.Tensor | None = None) -> None:
    """Scripts model, writes it atomically to out, and checks that the written file,
    loaded as the service loads it, gives the eager model's probabilities."""
    model = model.eval()
    if check is None:
        check = torch.randn(2, 3, meta.input_size, meta.input_size, generator=torch.Generator().manual_seed(0))
    with torchscript_deprecation_silenced():
        scripted = torch.jit.script(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=".export-", suffix=out.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with torchscript_deprecation_silenced():
            torch.jit.save(scripted, str(tmp), _extra_files={METADATA_FILE: meta.to_json()})
        assert_parity(model, tmp, check)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def assert_parity(model: nn.Module, exported: Path, inputs: torch.Tensor) -> None:
    with torch.inference_mode():
        expected = torch.softmax(model(inputs), dim=1).double().numpy()
    actual = load_runtime(exported).probabilities(inputs.numpy())
    worst = float(abs(actual - expected).max())
    if worst > PARITY_TOLERANCE:
        raise ExportError(f"exported probabilities differ from the eager model's by {worst:.2e} > {PARITY_TOLERANCE}")
