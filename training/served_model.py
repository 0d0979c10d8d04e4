"""The service's own loader, for training's commands: a model file the service would
refuse is a TrainingError here, so the CLI has one type to catch."""

from __future__ import annotations

from pathlib import Path

from chalicelib.errors import ModelLoadError
from chalicelib.metadata import ModelMetadata
from chalicelib.runtimes import Runtime, load_runtime

from training.errors import ModelFileError


def load_as_served(path: Path) -> Runtime:
    try:
        return load_runtime(path)
    except ModelLoadError as exc:  # its message names the file
        raise ModelFileError(str(exc)) from exc


def read_metadata(path: Path) -> ModelMetadata:
    """A checkpoint folder's metadata.json, checked as the service checks a model's."""
    try:
        return ModelMetadata.from_json(path.read_text())
    except ModelLoadError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
