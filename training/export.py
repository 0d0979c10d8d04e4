"""Trained model → self-describing TorchScript and ONNX files, each proven to answer like
the trained model before it is written."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from chalicelib.metadata import METADATA_FILE, ModelMetadata
from chalicelib.model_cache import write_atomically
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
    names = output_names(model, meta)
    try:
        if any(isinstance(part, torch.jit.ScriptModule) for part in model.modules()):
            # An imported TorchScript model: torch.export cannot see into it, the TorchScript exporter can.
            with torchscript_deprecation_silenced(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # that exporter's own notice
                torch.onnx.export(
                    torch.jit.script(model),
                    (example,),
                    str(path),
                    dynamo=False,
                    opset_version=ONNX_OPSET,
                    input_names=["input"],
                    output_names=names,
                    dynamic_axes={name: {0: "batch"} for name in ["input", *names]},
                )
        else:
            # All weights inside the one file (external_data=False): a model is one S3 object.
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=True,
                external_data=False,
                opset_version=ONNX_OPSET,
                input_names=["input"],
                output_names=names,
                verbose=False,
                dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},),
            )
    except Exception as exc:  # the exporters raise many kinds, each a long report
        raise ExportError(f"torch cannot export this model to ONNX: {str(exc).strip().splitlines()[0]}") from exc
    proto = onnx.load(str(path))
    stamp(proto, meta)
    onnx.save(proto, str(path))


def stamp(proto: Any, meta: ModelMetadata) -> None:
    """Puts meta into an ONNX ModelProto, in place of metadata it held; other properties stay."""
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key != METADATA_FILE]
    del proto.metadata_props[:]
    for key, value in [*kept, (METADATA_FILE, meta.to_json())]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


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


def export(model: nn.Module, meta: ModelMetadata, out: Path, check: torch.Tensor) -> float:
    """Writes out in the format its suffix names (.pt TorchScript, .onnx ONNX): the
    labels' logits, with a none-rule in meta the rule's score, and for a trained network the
    labels' activation maps (training/explain.py). Returns the parity check's worst difference."""
    if out.suffix not in WRITERS:
        raise ExportError(f"cannot export to {out.name}: use one of {', '.join(WRITERS)}")
    model = exported(model, meta.none_rule).eval()
    return write_checked(out, lambda path: WRITERS[out.suffix](model, meta, path), model, check)


def write_checked(
    out: Path, write: Callable[[Path], None], reference: Callable[[torch.Tensor], Any], check: torch.Tensor
) -> float:
    """Writes through a temporary file and renames only once the file, loaded as the
    service loads it, gives the reference's probabilities on check (reference: the model,
    or what gives its outputs as tensors); returns the worst difference."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as scratch:
        unchecked = Path(scratch) / f"model{out.suffix}"  # the exporters write to a path
        write(unchecked)
        worst = assert_parity(reference, unchecked, check)
        with unchecked.open("rb") as written:
            # 0600 would keep a web server or a container build out.
            write_atomically(out, lambda sink: shutil.copyfileobj(written, sink), durable=False, mode=0o666 & ~_umask())
    return worst


def parity(worst: float, images: int, where: object) -> str:
    """What a parity check found, for the user: export's and import's words."""
    return (
        f"loaded as the service loads it, it answers as the model does on {images} images of {where} "
        f"(worst difference {worst:.1e}, allowed {PARITY_TOLERANCE:g})"
    )


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def assert_parity(model: Callable[[torch.Tensor], Any], exported: Path, inputs: torch.Tensor) -> float:
    """The worst difference between the file's outputs and the model's (relative where they
    exceed 1); ExportError over PARITY_TOLERANCE."""
    with torch.inference_mode():
        expected = tensor_outputs(model(inputs))
    runtime = load_as_served(exported)
    try:
        actual = runtime.run(inputs.numpy())
    except Exception as exc:  # the runtime's own kinds: the graph takes one image, but not a batch
        raise ExportError(
            f"the written {exported.suffix} file fails on a batch of {len(inputs)} images: {exc}"
        ) from exc
    worst_of_all = 0.0
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
        worst_of_all = max(worst_of_all, worst)
    return worst_of_all
