"""chalicelib/runtimes.py: whatever is wrong with a model file, loading it raises ModelLoadError."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from chalicelib.errors import ModelLoadError
from chalicelib.model_formats import LIBRARIES, import_library
from chalicelib.runtimes import RUNTIMES, load_runtime
from training.export import WRITERS

from tests.colour_model import COLOUR_META, MeanColour


@pytest.mark.parametrize(
    "name, data",
    [
        ("model.h5", b"weights"),  # no runtime for the suffix
        ("model.pt", b"not a torchscript zip"),
        ("model.onnx", b"not a protobuf"),
    ],
)
def test_a_file_that_is_not_a_model_is_a_model_load_error(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ModelLoadError):
        load_runtime(path)


@pytest.mark.parametrize("suffix", sorted(RUNTIMES))
def test_metadata_naming_more_labels_than_the_graph_has_is_a_model_load_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    WRITERS[suffix](MeanColour().eval(), replace(COLOUR_META, labels=("a", "b", "c", "d"), none_rule=None), path)
    with pytest.raises(ModelLoadError, match="3 scores for 4 labels"):
        load_runtime(path)


def test_a_graph_that_refuses_its_metadatas_input_size_is_a_model_load_error(tmp_path: Path) -> None:
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 3)).eval()  # 32 px only
    path = tmp_path / "model.pt"
    WRITERS[".pt"](flat, replace(COLOUR_META, none_rule=None), path)
    load_runtime(path)  # 32 px: fits
    WRITERS[".pt"](flat, replace(COLOUR_META, input_size=30, none_rule=None), path)
    with pytest.raises(ModelLoadError, match="30 px"):
        load_runtime(path)


def test_every_model_format_has_a_runtime_and_its_library_imports() -> None:
    assert RUNTIMES.keys() == LIBRARIES.keys()
    for suffix in LIBRARIES:
        import_library(Path(f"x{suffix}"))
    with pytest.raises(ModelLoadError, match="no runtime"):
        import_library(Path("x.tflite"))


def test_the_colour_model_loads_in_each_runtime(colour_model: Path) -> None:
    runtime = load_runtime(colour_model)
    assert runtime.metadata == COLOUR_META and runtime.name in ("onnx", "torchscript")
