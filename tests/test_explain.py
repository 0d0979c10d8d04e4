"""Class-activation maps: an output of the exported graph, the same from TorchScript and
ONNX, and true to the answer (each label's map averages to its logit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from chalicelib.metadata import ModelMetadata, NoneRule
from chalicelib.runtimes import load_runtime
from training.choices import ARCHITECTURES
from training.export import export
from training.networks import build_network

pytestmark = pytest.mark.slow

LABELS = ("bagel", "donut", "vada")
RULE = NoneRule("max_probability", 0.5, "recognised when the top label's probability is at least 0.5")


@pytest.mark.parametrize("architecture, rule", [("efficientnet_lite0", RULE), ("resnet18", None)])
def test_torchscript_and_onnx_give_the_same_maps(tmp_path: Path, architecture: str, rule: NoneRule | None) -> None:
    torch.manual_seed(0)
    network = build_network(architecture, len(LABELS)).eval()
    mean, std = ARCHITECTURES[architecture].mean, ARCHITECTURES[architecture].std
    meta = ModelMetadata(
        name="maps",
        version="1",
        architecture=architecture,
        labels=LABELS,
        input_size=224,
        resize_size=256,
        mean=mean,
        std=std,
        none_rule=rule,
    )
    inputs = torch.randn(3, 3, 224, 224)
    runs = {}
    for suffix in (".pt", ".onnx"):
        export(network, meta, tmp_path / f"model{suffix}", inputs)
        runs[suffix] = load_runtime(tmp_path / f"model{suffix}").run(inputs.numpy())
    torchscript, onnx = runs[".pt"], runs[".onnx"]
    assert torchscript.maps is not None and onnx.maps is not None
    assert torchscript.maps.shape == (3, len(LABELS), 7, 7)
    assert np.abs(torchscript.maps - onnx.maps).max() < 1e-4
    # softmax of each label's mean activation is the answer itself
    means = onnx.maps.astype(np.float64).mean(axis=(2, 3))
    shifted = np.exp(means - means.max(axis=1, keepdims=True))
    assert np.abs(shifted / shifted.sum(axis=1, keepdims=True) - onnx.probabilities).max() < 1e-5
    assert (onnx.scores is not None) == (rule is not None)
