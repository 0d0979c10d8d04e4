"""training/quantize.py: an int8 file is written only when it answers like fp32, and says
what it is; the service loads, describes and publishes it as such."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from chalicelib.imaging import preprocess
from chalicelib.runtimes import Outputs, load_runtime
from training.errors import ExportError
from training.publish import publish

from tests.colour_model import COLOUR_META, ConvColour
from tests.imagefiles import BLUE, GREEN, GREY, RED, noisy_photo, solid
from tests.support import make_store
from training import quantize

pytestmark = pytest.mark.slow


def photos() -> torch.Tensor:
    images = [noisy_photo((48, 40), colour, seed) for colour in (RED, GREEN, BLUE) for seed in range(4)]
    images += [solid(colour) for colour in (RED, GREEN, BLUE)]
    return torch.cat([torch.from_numpy(preprocess(image, COLOUR_META)) for image in images])


def test_an_int8_file_agrees_with_fp32_and_records_how_it_was_made(tmp_path: Path) -> None:
    images = photos()
    out = tmp_path / "model-int8.onnx"
    record = quantize.export_int8(ConvColour().eval(), COLOUR_META, out, images[:4], images[:8], images)
    assert record["top1_agreement"] == 1.0 and record["none_agreement"] == 1.0
    assert record["calibration_images"] == 8 and record["validation_images"] == len(images)
    assert record["scheme"] in quantize.schemes()
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # quantized, not an fp32 copy
    runtime = load_runtime(out)
    assert runtime.metadata.precision == "int8" and runtime.metadata.quantization == record
    assert runtime.run(images[:3].numpy()).probabilities.argmax(1).tolist() == [2, 2, 2]  # red
    assert list(tmp_path.iterdir()) == [out]


def test_the_none_decision_is_also_checked_on_images_of_none_of_the_labels(tmp_path: Path) -> None:
    images, greys = photos(), torch.cat([torch.from_numpy(preprocess(solid(GREY), COLOUR_META))] * 3)
    record = quantize.export_int8(
        ConvColour().eval(), COLOUR_META, tmp_path / "m.onnx", images[:4], images, images, greys.numpy()
    )
    assert record["none_images"] == 3 and record["validation_images"] == len(images)
    # The label's images all agree; one refused image changes its decision: the gate sees it.
    rule = COLOUR_META.none_rule
    assert rule is not None
    scores = np.array([0.9, 0.9, rule.threshold / 2, rule.threshold / 2])
    moved = scores.copy()
    moved[3] = rule.threshold * 2  # int8 lifted a refused image over the threshold
    probabilities = np.eye(3)[[0, 1, 2, 2]]
    result = quantize.agreement(Outputs(probabilities, scores), Outputs(probabilities, moved), COLOUR_META, 2)
    assert result == {"top1_agreement": 1.0, "none_agreement": 0.75}


def test_an_int8_file_that_disagrees_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quantize, "AGREEMENT", 1.01)  # a gate nothing meets
    images = photos()
    with pytest.raises(ExportError, match=r"no int8 scheme agrees .* s8s8: top-1 100\.0%"):
        quantize.export_int8(ConvColour().eval(), COLOUR_META, tmp_path / "model-int8.onnx", images[:4], images, images)
    assert list(tmp_path.iterdir()) == []


def test_int8_is_an_onnx_format(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="must end in .onnx"):
        quantize.export_int8(ConvColour().eval(), COLOUR_META, tmp_path / "model.pt", *(photos(),) * 3)


def test_the_service_describes_and_publishes_an_int8_model_as_such(
    tmp_path: Path, s3: Any, bucket: str, prefix: str
) -> None:
    images = photos()
    out = tmp_path / "model-int8.onnx"
    quantize.export_int8(ConvColour().eval(), COLOUR_META, out, images[:4], images, images)
    uri = publish(out, bucket, prefix=prefix)
    assert uri == f"s3://{bucket}/{prefix}/test-colours/1/model-int8.onnx"  # beside, never over, model.onnx
    described = make_store(uri, tmp_path / "cache").get()[0].describe()
    assert described["precision"] == "int8" and described["quantization"]["top1_agreement"] == 1.0
