"""A trained model → a statically quantized int8 ONNX file (QDQ, per-channel weights),
calibrated on training images and written only when it answers like the fp32 export: the
same top label on at least AGREEMENT of the validation images, and the same "none of these"
decision on as many of those and of the images the rule was set to refuse (an int8 graph
moves scores near the threshold, which only such images reach; measured: docs/training.md).
The metadata inside records the precision and what was measured."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from chalicelib.metadata import ModelMetadata
from chalicelib.runtimes import Outputs, Runtime
from torch import nn

from training.errors import ExportError
from training.export import export, stamp
from training.served_model import load_as_served

AGREEMENT = 0.99
CALIBRATION_IMAGES = 200
VALIDATION_IMAGES = 500
_BATCH = 16


def schemes() -> dict[str, dict[str, Any]]:
    """On AVX2 without VNNI, uint8 activations times int8 weights can saturate ONNX
    Runtime's 16-bit intermediate sums. reduce_range (7-bit weights) avoids that, and so
    do int8 activations; which agrees better with fp32 depends on the model: both are tried."""
    from onnxruntime.quantization import QuantType

    return {
        "s8s8": {"activation_type": QuantType.QInt8, "weight_type": QuantType.QInt8, "reduce_range": False},
        "u8s8_reduce_range": {
            "activation_type": QuantType.QUInt8,
            "weight_type": QuantType.QInt8,
            "reduce_range": True,
        },
    }


def export_int8(
    model: nn.Module,
    meta: ModelMetadata,
    out: Path,
    check: torch.Tensor,
    calibration: torch.Tensor,
    validation: torch.Tensor,
    refused: np.ndarray | None = None,
) -> dict[str, Any]:
    """Exports fp32 ONNX (checked against the model on check as every export is), quantizes
    it and writes out if it agrees; returns the quantization record its metadata holds.
    refused: inputs of images of none of the labels (for a model with a none-rule)."""
    if out.suffix != ".onnx":
        raise ExportError(f"int8 is an ONNX format: {out.name} must end in .onnx")
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export(model, meta, fp32, check)
        return quantize(fp32, out, calibration.numpy(), validation.numpy(), Path(tmp), refused)


def quantize(
    fp32: Path,
    out: Path,
    calibration: np.ndarray,
    validation: np.ndarray,
    work: Path,
    refused: np.ndarray | None = None,
) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    reference = load_as_served(fp32)
    checked = validation if refused is None else np.concatenate([validation, refused])
    meta, expected = reference.metadata, run_all(reference, checked)

    class Images(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = batches(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {"input": batch}

    prepared = work / "prepared.onnx"
    quant_pre_process(str(fp32), str(prepared))
    tried = []
    for name, options in schemes().items():
        candidate = work / f"{name}.onnx"
        quantize_static(
            str(prepared), str(candidate), Images(), quant_format=QuantFormat.QDQ, per_channel=True, **options
        )
        record = {
            "scheme": name,
            "calibration_images": len(calibration),
            "validation_images": len(validation),
            "none_images": 0 if refused is None else len(refused),
        }
        record.update(agreement(expected, run_all(stamped(candidate, meta, record), checked), meta, len(validation)))
        tried.append((candidate, record))
    candidate, best = max(tried, key=lambda tried_one: worst_agreement(tried_one[1]))
    if worst_agreement(best) < AGREEMENT:
        raise ExportError(
            f"no int8 scheme agrees with the fp32 model on {AGREEMENT:.0%} of {len(validation)} validation "
            f"images and {best['none_images']} of none of the labels, so {out.name} was not written: "
            + "; ".join(describe(record) for _, record in tried)
        )
    stamped(candidate, meta, best)  # now with the agreement it measured
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(candidate, out)
    return best


def stamped(path: Path, meta: ModelMetadata, quantization: dict[str, Any]) -> Runtime:
    """Writes meta, as this int8 file's, into path; then loads it as the service does."""
    import onnx

    proto = onnx.load(str(path))
    stamp(proto, replace(meta, precision="int8", quantization=quantization))
    onnx.save(proto, str(path))
    return load_as_served(path)


def batches(images: np.ndarray) -> Iterator[np.ndarray]:
    return (images[i : i + _BATCH] for i in range(0, len(images), _BATCH))


def run_all(runtime: Runtime, images: np.ndarray) -> Outputs:
    parts = [runtime.run(batch) for batch in batches(images)]
    scores = None if parts[0].scores is None else np.concatenate([p.scores for p in parts])
    return Outputs(np.concatenate([p.probabilities for p in parts]), scores)


def agreement(expected: Outputs, actual: Outputs, meta: ModelMetadata, labelled: int) -> dict[str, float | None]:
    """How often the int8 answer is the fp32 one: the top label on the first labelled images
    (those of the labels), and whether it is recognised on all of them."""
    top1 = float(np.mean(expected.probabilities[:labelled].argmax(1) == actual.probabilities[:labelled].argmax(1)))
    none = None
    if meta.none_rule is not None:
        none = float(np.mean(expected.recognised(meta.none_rule) == actual.recognised(meta.none_rule)))
    return {"top1_agreement": round(top1, 4), "none_agreement": None if none is None else round(none, 4)}


def worst_agreement(record: dict[str, Any]) -> float:
    return min(record["top1_agreement"], 1.0 if record["none_agreement"] is None else record["none_agreement"])


def describe(record: dict[str, Any]) -> str:
    none = "n/a" if record["none_agreement"] is None else f"{record['none_agreement']:.1%}"
    return f"{record['scheme']}: top-1 {record['top1_agreement']:.1%}, none-of-these {none}"
