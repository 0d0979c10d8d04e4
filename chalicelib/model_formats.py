"""Which library runs which kind of model file, by suffix: known before a byte of the
model is fetched, and without importing numpy or the library, which take a while."""

from __future__ import annotations

import importlib
from pathlib import Path

from chalicelib.errors import ModelLoadError

LIBRARIES: dict[str, str] = {".onnx": "onnxruntime", ".pt": "torch"}


def library_for(path: Path) -> str:
    if path.suffix not in LIBRARIES:
        raise ModelLoadError(f"no runtime for {path.name!r}; model files end in {', '.join(LIBRARIES)}")
    return LIBRARIES[path.suffix]


def import_library(path: Path) -> None:
    """Imports the library that runs path's kind of model (torch takes a second).
    ImportError: this deployment lacks it."""
    importlib.import_module(library_for(path))
