"""Trained model → self-describing TorchScript and ONNX files, each proven to answer like
the trained model before it is written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import torch
from chalicelib.metadata import METADATA_FILE, ModelMetadata
from chalicelib.runtimes import tensor_outputs, torchscript_deprecation_silenced
from torch import nn

from training.errors import ExportError
from training.explain import Explained, exported
from training.served_model import load_as_served

PARITY_TOLERANCE = 1e-4
# The dynamo exporter's lowest opset; ONNX Runtime 1.31 (the Lambda's) runs up to opset 23.
ONNX_OPSET = 18


def write_torchscript(model: nn.Module, meta: ModelMetadata, path: Path) -> None:
    with torchscript_deprecation_silenced():
        scripted = torch.jit.script(model)
        torch.jit.save(scripted, str(path), _extra_files={METADATA_FILE: meta.to_json()})


def write_onnx(model: nn.Module, meta: ModelMetadata, path: Path) -> None:
    import onnx

    example = torch.zeros(1, 3, meta.input_size, meta.input_size)
    # Weights left channels_last (training computes features so) trace with the batch fixed at 1.
    model.to(memory_format=torch.contiguous_format)
    # All weights inside the one file (external_data=False): a model is one S3 object.
    torch.onnx.export(
        model,
        (example,),
        str(path),
        dynamo=True,
        external_data=False,
        opset_version=ONNX_OPSET,
        input_names=["input"],
        output_names=output_names(model, meta),
        verbose=False,
        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},),
    )
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_FILE, meta.to_json()
    onnx.save(proto, str(path))


def output_names(model: nn.Module, meta: ModelMetadata) -> list[str]:
    return [
        "logits",
        *(["none_score"] if meta.none_rule else []),
        *(["activation_maps"] if isinstance(model, Explained) else []),
    ]


WRITERS: dict[str, Callable[[nn.Module, ModelMetadata, Path], None]] = {
    ".pt": write_torchscript,
    ".onnx": write_onnx,
}


def export(model: nn.Module, meta: ModelMetadata, out: Path, check: torch.Tensor) -> None:
    """Writes out in the format its suffix names (.pt TorchScript, .onnx ONNX): the
    labels' logits, with a none-rule in meta the rule's score, and for a trained network the
    labels' activation maps (training/explain.py)."""
    if out.suffix not in WRITERS:
        raise ExportError(f"cannot export to {out.name}: use one of {', '.join(WRITERS)}")
    model = exported(model, meta.none_rule).eval()
    write_checked(out, lambda path: WRITERS[out.suffix](model, meta, path), model, check)


def write_checked(out: Path, write: Callable[[Path], None], reference: nn.Module, check: torch.Tensor) -> None:
    """Writes through a temporary file and renames only once the file, loaded as the
    service loads it, gives the reference model's probabilities on check."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=".export-", suffix=out.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        assert_parity(reference, tmp, check)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would keep a web server or a container build out
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def assert_parity(model: nn.Module, exported: Path, inputs: torch.Tensor) -> None:
    with torch.inference_mode():
        expected = tensor_outputs(model(inputs))
    actual = load_as_served(exported).run(inputs.numpy())
    for name in ("probabilities", "scores", "maps"):
        if getattr(expected, name) is None:
            continue
        if getattr(actual, name) is None:
            raise ExportError(f"{exported.suffix} file lacks the model's {name}")
        # Relative to the output's magnitude where it exceeds 1: activation maps are logits per cell.
        worst = float(abs(getattr(actual, name) - getattr(expected, name)).max())
        worst /= max(1.0, float(abs(getattr(expected, name)).max()))
        if worst > PARITY_TOLERANCE:
            raise ExportError(
                f"{exported.suffix} {name} differ from the eager model's by {worst:.2e} > {PARITY_TOLERANCE}"
            )
