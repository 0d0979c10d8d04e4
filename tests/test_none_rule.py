""" "None of these": the rule's threshold from data, its place in the metadata, and the
score output the exported files carry beside the logits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from chalicelib.errors import ModelLoadError
from chalicelib.imaging import preprocess
from chalicelib.metadata import MetadataError, ModelMetadata, NoneRule
from chalicelib.runtimes import load_runtime
from devtools.renders.pillow import render
from training.checkpoint import load_checkpoint, save_checkpoint
from training.dataset import service_input
from training.export import export
from training.features import Features, input_features
from training.negatives import clutter, photo_files
from training.networks import build_network
from training.none_rule import best_threshold, exposed_rule, fit_feature_distance, landing_classes, pretrained_rule
from training.none_scores import WithExposedMass, WithFeatureDistance, WithReferenceMass

from tests.colour_model import COLOUR_META, MeanColour

pytestmark = pytest.mark.slow


def test_threshold_separates_accepted_from_refused_scores() -> None:
    accept, refuse = np.array([0.41, 0.6, 0.99]), np.array([0.001, 0.02, 0.04])
    threshold, balanced = best_threshold(accept, refuse)
    assert 0.04 < threshold <= 0.41 and balanced == 1.0
    assert threshold == pytest.approx(np.sqrt(0.04 * 0.41))


def test_threshold_with_overlap_keeps_the_best_balance() -> None:
    threshold, balanced = best_threshold(np.array([0.05, 0.5, 0.6, 0.7]), np.array([0.01, 0.02, 0.3]))
    assert balanced == pytest.approx((0.75 + 1.0) / 2)
    assert 0.3 < threshold <= 0.5


def test_landing_classes_are_where_training_images_land_and_non_food_does_not() -> None:
    train = np.zeros((4, 10))
    train[:, 2], train[:, 5], train[:, 7], train[:, 9] = 0.5, 0.3, 0.15, 0.05
    none = np.full((3, 10), 0.01)  # class 9 holds too little more of the training images' mass
    assert landing_classes(train, none) == (2, 5, 7)
    none[:, 5] = 0.05  # the non-food images land on 5 too: it no longer tells them apart
    assert landing_classes(train, none) == (2, 7)


def test_metadata_round_trips_the_rule_and_refuses_a_bad_threshold() -> None:
    again = ModelMetadata.from_json(COLOUR_META.to_json())
    assert again == COLOUR_META and again.none_rule is not None
    assert again.none_rule.recognises(0.9) and not again.none_rule.recognises(0.89)
    raw = json.loads(COLOUR_META.to_json())
    raw["none_rule"]["threshold"] = 1.5
    with pytest.raises(MetadataError, match="threshold"):
        ModelMetadata.from_json(json.dumps(raw))
    raw["none_rule"] = None
    assert ModelMetadata.from_json(json.dumps(raw)).none_rule is None


def test_display_names_default_to_the_label_with_spaces_and_name_only_its_labels() -> None:
    raw = json.loads(COLOUR_META.to_json())
    raw["labels"], raw["display_names"] = ["sky_blue", "grass_green", "red"], {"red": "Tomato red"}
    meta = ModelMetadata.from_json(json.dumps(raw))
    assert [meta.display(label) for label in meta.labels] == ["sky blue", "grass green", "Tomato red"]
    assert ModelMetadata.from_json(meta.to_json()) == meta
    raw["display_names"] = {"pink": "Pink"}
    with pytest.raises(MetadataError, match="pink"):
        ModelMetadata.from_json(json.dumps(raw))


FOODS = ("bagel", "donut", "vada")
PROBE = ModelMetadata("probe", "0", "efficientnet_lite0", FOODS, 224, 256, (0.5,) * 3, (0.5,) * 3)


@pytest.fixture(scope="module")
def probe_features() -> dict[str, np.ndarray]:
    """Pooled Lite0 features: renders of the three foods to train and validate on, and
    non-food images (scikit-learn's two photos, rendered empty tables)."""
    network = build_network("efficientnet_lite0", 3, pretrained=True).eval()

    def inputs(images: list) -> np.ndarray:
        return np.concatenate([preprocess(image, PROBE) for image in images])

    train = inputs([render(label, seed, 256) for seed in range(8) for label in FOODS])
    val = inputs([render(label, seed, 256) for seed in range(100, 104) for label in FOODS])
    none = np.concatenate(
        [*(service_input(p, PROBE) for p in photo_files()["scikit-learn samples"]), inputs(clutter(10))]
    )
    return {
        "train": input_features(network.backbone, train),
        "train_labels": np.tile([0, 1, 2], 8),
        "val": input_features(network.backbone, val),
        "none": input_features(network.backbone, none),
    }


@pytest.mark.parametrize("requested", ["feature_distance", "reference_mass", "auto"])
def test_a_pretrained_rule_accepts_the_labels_and_refuses_the_rest(
    requested: str, probe_features: dict[str, np.ndarray]
) -> None:
    network = build_network("efficientnet_lite0", 3, pretrained=True).eval()
    f = probe_features
    fitted = pretrained_rule(network, f["train"], f["train_labels"], f["val"], f["none"], requested, {"test": 12})
    rule = fitted.rule
    assert rule.score == requested or (
        requested == "auto" and set(rule.calibration["chosen_from"]) == {"feature_distance", "reference_mass"}
    )
    assert rule.calibration["validation_images"] == 12 and rule.calibration["none_images"] == 12
    assert rule.calibration["none_refused"] >= 0.9 and rule.calibration["validation_accepted"] >= 0.9
    assert 0 < rule.threshold < 1 and rule.description
    # Fitting leaves the network as it was; the distance is learned only for the rule that reads it.
    assert network.distance is None and network.known is None
    assert (fitted.distance is not None) == (rule.score == "feature_distance") and fitted.known is None
    fitted.attach(network)
    assert network.distance is fitted.distance
    if rule.score == "reference_mass":
        assert 931 in rule.calibration["reference_classes"]  # ImageNet's bagel: where rendered bagels land


def test_the_feature_distance_is_mahalanobis_under_the_shrunk_covariance() -> None:
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    features = (rng.normal(0, 1, (80, 6)) * [3, 1, 1, 0.5, 0.2, 2] + labels[:, None] * 4).astype(np.float32)
    distance = fit_feature_distance(features, labels, 2)  # 6 features: rank 5 and one for the rest, exact
    centres = np.stack([features[labels == c].mean(0) for c in (0, 1)])
    precision = np.linalg.inv(LedoitWolf(assume_centered=True).fit(features - centres[labels]).covariance_)
    probes = rng.normal(0, 3, (5, 6)).astype(np.float32)
    expected = np.exp(-np.min([np.einsum("ij,jk,ik->i", probes - c, precision, probes - c) for c in centres], 0) / 6)
    with torch.inference_mode():
        np.testing.assert_allclose(distance(torch.from_numpy(probes)).numpy(), expected, rtol=1e-4)


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_the_feature_distance_is_exported_as_a_second_output_and_checkpointed(
    tmp_path: Path, suffix: str, probe_features: dict[str, np.ndarray]
) -> None:
    network = build_network("efficientnet_lite0", 3, pretrained=True).eval()
    network.distance = fit_feature_distance(probe_features["train"], probe_features["train_labels"], 3)
    rule = NoneRule("feature_distance", 1e-3, "distance", {})
    meta = ModelMetadata("lite", "1", "efficientnet_lite0", FOODS, 64, 72, (0.5,) * 3, (0.5,) * 3, none_rule=rule)
    save_checkpoint(network, meta, tmp_path / "weights", half=True)  # as the demo's is committed
    state = torch.load(tmp_path / "weights" / "weights.pt", weights_only=True)
    assert state["head.weight"].dtype == torch.float16 and state["distance.inverse_variances"].dtype == torch.float32
    network, meta = load_checkpoint(tmp_path / "weights")
    inputs = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    export(network, meta, tmp_path / f"model{suffix}", inputs)
    result = load_runtime(tmp_path / f"model{suffix}").run(inputs.numpy())
    with torch.inference_mode():
        expected = WithFeatureDistance(network)(inputs)[1].double().numpy()
    assert result.scores is not None
    np.testing.assert_allclose(result.scores, expected, rtol=1e-4)


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_reference_mass_is_exported_as_a_second_output(tmp_path: Path, suffix: str) -> None:
    classes = (415, 931, 963)
    network = build_network("efficientnet_lite0", 3, pretrained=True).eval()
    rule = NoneRule("reference_mass", 0.1, "mass", {"reference_classes": list(classes)})
    meta = ModelMetadata("lite", "1", "efficientnet_lite0", FOODS, 64, 72, (0.5,) * 3, (0.5,) * 3, none_rule=rule)
    inputs = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    export(network, meta, tmp_path / f"model{suffix}", inputs)
    runtime = load_runtime(tmp_path / f"model{suffix}")
    result = runtime.run(inputs.numpy())
    with torch.inference_mode():
        expected = WithReferenceMass(network, classes)(inputs)[1].double().numpy()
    assert result.scores is not None
    np.testing.assert_allclose(result.scores, expected, atol=1e-4)
    assert result.probabilities.shape == (3, 3) and runtime.metadata.none_rule == rule


@pytest.fixture(scope="module")
def other_food_features() -> np.ndarray:
    """(images, 1 view, features): Pillow-rendered vadas stand in for "other foods" that a
    two-label model (bagel, donut) must refuse though ImageNet's head calls them food too."""
    network = build_network("efficientnet_lite0", 3, pretrained=True).eval()
    inputs = np.concatenate([preprocess(render("vada", seed, 256), PROBE) for seed in range(200, 215)])
    return input_features(network.backbone, inputs)[:, None]


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_outlier_exposure_refuses_what_it_was_exposed_to_and_is_exported_and_checkpointed(
    tmp_path: Path, suffix: str, probe_features: dict[str, np.ndarray], other_food_features: np.ndarray
) -> None:
    f = probe_features
    ours = f["train_labels"] < 2  # bagels and donuts; the vadas are what it must refuse
    val_ours = np.tile([True, True, False], 4)
    network = build_network("efficientnet_lite0", 2, pretrained=True).eval()
    features = Features(f["train"][ours], f["train_labels"][ours], f["val"][val_ours])
    fitted = exposed_rule(network, features, f["none"], other_food_features, {"vada renders": 15})
    rule = fitted.rule
    assert rule.score == "outlier_exposure" and fitted.known is not None and network.known is None
    fitted.attach(network)
    assert rule.calibration["validation_accepted"] >= 0.9 and rule.calibration["none_refused"] >= 0.9
    assert rule.calibration["none_images"] == len(f["none"]) + 15
    # Fresh vadas, never fitted against: the detector, not the ImageNet mass, refuses them.
    fresh = np.concatenate([preprocess(render("vada", seed, 256), PROBE) for seed in range(300, 306)])
    module = WithExposedMass(network, tuple(rule.calibration["reference_classes"])).eval()
    with torch.inference_mode():
        scores = module(torch.from_numpy(fresh))[1].numpy()
        masses = WithReferenceMass(network, tuple(rule.calibration["reference_classes"]))(torch.from_numpy(fresh))[1]
    assert (scores < rule.threshold).mean() >= 0.5 > (masses.numpy() < rule.threshold).mean()

    meta = ModelMetadata("lite", "1", "efficientnet_lite0", FOODS[:2], 64, 72, (0.5,) * 3, (0.5,) * 3, none_rule=rule)
    save_checkpoint(network, meta, tmp_path / "weights", half=True)
    network, meta = load_checkpoint(tmp_path / "weights")
    assert network.known is not None
    inputs = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    export(network, meta, tmp_path / f"model{suffix}", inputs)
    result = load_runtime(tmp_path / f"model{suffix}").run(inputs.numpy())
    with torch.inference_mode():
        expected = WithExposedMass(network, tuple(rule.calibration["reference_classes"]))(inputs)[1].double().numpy()
    assert result.scores is not None
    np.testing.assert_allclose(result.scores, expected, atol=1e-4)


def test_a_rule_without_its_score_output_is_refused_at_load(tmp_path: Path) -> None:
    """A file whose metadata names a rule must carry the score, or the service could not apply it."""
    from training.export import write_onnx

    write_onnx(MeanColour().eval(), COLOUR_META, tmp_path / "model.onnx")  # the bare logits, no score
    with pytest.raises(ModelLoadError, match="none_rule"):
        load_runtime(tmp_path / "model.onnx")


def test_the_rule_is_told_as_a_sentence_with_counts() -> None:
    from chalicelib.metadata import NoneRule
    from training.none_rule import rule_summary

    calibration = {"validation_images": 60, "validation_accepted": 0.9833, "none_images": 397, "none_refused": 0.93}
    tied = {**calibration, "chosen_from": {"feature_distance": 0.9, "reference_mass": 0.9}}
    said = rule_summary(NoneRule("feature_distance", 0.0353, "d", tied))
    assert said.startswith(
        "none-rule: feature_distance, accepting an image whose score is at least 0.0353 (59 of 60 validation "
        "images accepted, 369 of 397 images of none of the labels refused); chosen over reference_mass"
    )
    assert said.endswith("feature_distance 90.0%, reference_mass 90.0% (a tie, which keeps the first tried)")
    assert "{" not in said  # no raw dict
