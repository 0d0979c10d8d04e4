""""None of these": the rule's threshold from data, its place in the metadata, and the
score output the exported files carry beside the logits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from chalicelib.imaging import preprocess
from chalicelib.metadata import MetadataError, ModelLoadError, ModelMetadata, NoneRule
from chalicelib.runtimes import load_runtime
from tests.colour_model import colour_batch, COLOUR_META, MeanColour
from training.dataset import load_rgb
from training.export import export
from training.negatives import clutter, photo_files
from training.networks import build_network
from training.none_rule import FOOD_CLASSES, WithReferenceMass, best_threshold, calibrate, score_kind, scores, scoring
from training.synth import render


def test_threshold_separates_accepted_from_refused_scores() -> None:
    accept, refuse = np.array([0.41, 0.6, 0.99]), np.array([0.001, 0.02, 0.04])
    threshold, balanced = best_threshold(accept, refuse)
    assert 0.04 < threshold <= 0.41 and balanced == 1.0
    assert threshold == pytest.approx(np.sqrt(0.04 * 0.41))


def test_threshold_with_overlap_keeps_the_best_balance() -> None:
    threshold, balanced = best_threshold(np.array([0.05, 0.5, 0.6, 0.7]), np.array([0.01, 0.02, 0.3]))
    assert balanced == pytest.approx((0.75 + 1.0) / 2)
    assert 0.3 < threshold <= 0.5


def test_food_classes_are_imagenets_food_block_and_bakery() -> None:
    assert FOOD_CLASSES[0] == 415 and FOOD_CLASSES[1:] == tuple(range(923, 966)) and 967 not in FOOD_CLASSES


def test_metadata_round_trips_the_rule_and_refuses_a_bad_threshold() -> None:
    again = ModelMetadata.from_json(COLOUR_META.to_json())
    assert again == COLOUR_META and again.none_rule.recognises(0.9) and not again.none_rule.recognises(0.89)
    raw = json.loads(COLOUR_META.to_json())
    raw["none_rule"]["threshold"] = 1.5
    with pytest.raises(MetadataError, match="threshold"):
        ModelMetadata.from_json(json.dumps(raw))
    raw["none_rule"] = None
    assert ModelMetadata.from_json(json.dumps(raw)).none_rule is None


def test_calibration_of_a_pretrained_network_uses_the_imagenet_food_mass() -> None:
    """Rendered bagels are to be accepted, scikit-learn's sample photos (a temple, a
    flower) and empty tables refused: the ImageNet head's food mass tells them apart, and
    the threshold falls between them."""
    network = build_network("efficientnet_lite0", 3, pretrained=True).eval()
    meta = ModelMetadata("probe", "0", "efficientnet_lite0", ("a", "b", "c"), 224, 256, (0.5,) * 3, (0.5,) * 3)
    batch = lambda images: torch.from_numpy(np.concatenate([preprocess(image, meta) for image in images]))
    accept = [batch([render("bagel", seed, 256) for seed in range(6)])]
    photos = photo_files()["scikit-learn samples"]
    assert len(photos) == 2
    refuse = [batch([load_rgb(p, 256) for p in photos] + clutter(4))]
    kind = score_kind(network)
    module = scoring(network, kind).eval()
    rule = calibrate(kind, scores(module, accept), scores(module, refuse), sources={"test": 6})
    assert rule.score == "reference_mass" and rule.calibration["reference_classes"] == list(FOOD_CLASSES)
    assert rule.calibration["validation_images"] == 6 and rule.calibration["none_images"] == 6
    assert rule.calibration["none_refused"] == 1.0 and rule.calibration["validation_accepted"] >= 0.83
    assert 0 < rule.threshold < 1 and rule.description


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_reference_mass_is_exported_as_a_second_output(tmp_path: Path, suffix: str) -> None:
    network = build_network("efficientnet_lite0", 3, pretrained=True).eval()
    rule = NoneRule("reference_mass", 0.1, "food mass", {"reference_classes": list(FOOD_CLASSES)})
    meta = ModelMetadata("lite", "1", "efficientnet_lite0", ("bagel", "donut", "vada"), 64, 72,
                         (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), none_rule=rule)
    inputs = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    export(network, meta, tmp_path / f"model{suffix}", inputs)
    runtime = load_runtime(tmp_path / f"model{suffix}")
    result = runtime.run(inputs.numpy())
    with torch.inference_mode():
        expected = WithReferenceMass(network, FOOD_CLASSES)(inputs)[1].double().numpy()
    np.testing.assert_allclose(result.scores, expected, atol=1e-4)
    assert result.probabilities.shape == (3, 3) and runtime.metadata.none_rule == rule


def test_a_rule_without_its_score_output_is_refused_at_load(tmp_path: Path) -> None:
    """A file whose metadata names a rule must carry the score, or the service could not apply it."""
    from training.export import write_onnx

    write_onnx(MeanColour().eval(), COLOUR_META, tmp_path / "model.onnx")  # the bare logits, no score
    with pytest.raises(ModelLoadError, match="none_rule"):
        load_runtime(tmp_path / "model.onnx")
