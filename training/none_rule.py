""" "None of these": fitting each score (training/none_scores.py says what each measures and
computes it in the graph) and the threshold below which the service answers that the image
looks like none of the labels.

Which score suits which model: feature_distance works for any labels when the photos to
come are like the training ones; reference_mass holds where the training images are unlike
them (the demo's renders), since the ImageNet head has seen real photographs;
outlier_exposure adds a detector fitted against the user's own images of none of the
labels (`train --none-images`: other foods, for the demo), to tell the labels' foods from
other foods. Networks trained from scratch have max_probability; imported models
max_probability or energy, whichever tells better. The threshold accepts the validation
split and refuses the non-food images (training/negatives.py) with the best balanced
accuracy; `auto` picks the score that does so best on non-food images held out of that
choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from chalicelib.metadata import ModelMetadata, NoneRule
from torch import nn

from training.choices import PRETRAINED_SCORES
from training.config import TrainConfig
from training.dataset import eval_batches
from training.errors import DatasetError
from training.features import Features, input_features
from training.networks import FeatureDistance, Network
from training.none_scores import (
    DESCRIPTIONS,
    Scoring,
    WithExposedMass,
    WithFeatureDistance,
    WithReferenceMass,
    feature_scores,
    score_array,
    with_score,
)

# The ImageNet classes reference_mass sums: those the training images put at least
# LANDING_RATIO times the non-food images' mean probability on, the most probable first,
# until they hold LANDING_COVER of the training images' mass on such classes.
LANDING_RATIO = 10.0
LANDING_COVER = 0.9


@dataclass(frozen=True)
class FittedRule:
    """What calibration learned, as a fitted estimator holds it: the rule, and the parts the
    network must carry to compute its score (a distance for feature_distance, a detector
    for outlier_exposure). Calibration reads the network and changes nothing in it; the
    one who assembles the model attaches these."""

    rule: NoneRule
    distance: FeatureDistance | None = None
    known: nn.Linear | None = None

    def attach(self, network: Network) -> None:
        network.distance, network.known = self.distance, self.known


def output_rule(accepted: dict[str, np.ndarray], refused: dict[str, np.ndarray], sources: dict[str, int]) -> NoneRule:
    """The rule of an imported model, from each kind's scores of photos of its labels
    (accepted) and of images of none of them (refused): with more than one kind, the one
    with the best balanced accuracy on the half of refused its threshold did not see."""
    held_out: dict[str, float] = {}
    if len(accepted) > 1:
        for kind in accepted:
            held_out[kind] = held_out_accuracy(accepted[kind], refused[kind][0::2], refused[kind][1::2])
    kind = max(accepted, key=lambda k: held_out.get(k, 0.0))  # a tie keeps the first
    rule = rule_from_scores(kind, accepted[kind], refused[kind], sources=sources)
    if held_out:
        rule.calibration["chosen_from"] = held_out
    return rule


def fit_feature_distance(features: np.ndarray, labels: np.ndarray, classes: int) -> FeatureDistance:
    """Class means, and the within-class covariance shrunk by Ledoit and Wolf's rule (there
    are fewer training views than feature dimensions)."""
    from sklearn.covariance import LedoitWolf

    centres = np.stack([features[labels == c].mean(axis=0) for c in range(classes)])
    covariance = LedoitWolf(assume_centered=True).fit(features - centres[labels]).covariance_
    variances, vectors = np.linalg.eigh(covariance)  # ascending
    rank = min(FeatureDistance.RANK, len(variances) - 1)
    distance = FeatureDistance(classes, features.shape[1], rank)
    with torch.no_grad():
        distance.centres.copy_(torch.from_numpy(centres))
        distance.basis.copy_(torch.from_numpy(vectors[:, -rank:].copy()))
        distance.inverse_variances.copy_(torch.from_numpy(1 / variances[-rank:]))
        distance.inverse_rest.fill_(float(1 / variances[:-rank].mean()))
    return distance


def imagenet_probabilities(network: Network, features: np.ndarray) -> np.ndarray:
    """The frozen ImageNet head's probabilities for pooled features."""
    assert network.reference is not None
    with torch.inference_mode():
        return torch.softmax(network.reference(torch.from_numpy(features)), dim=1).numpy()


def landing_classes(train_probabilities: np.ndarray, none_probabilities: np.ndarray) -> tuple[int, ...]:
    """The ImageNet classes the training images land on and the non-food images do not."""
    train_mass, none_mass = train_probabilities.mean(axis=0), none_probabilities.mean(axis=0)
    telling = [int(c) for c in np.argsort(-train_mass) if train_mass[c] >= LANDING_RATIO * none_mass[c]]
    held = np.cumsum(train_mass[telling])
    return tuple(telling[: int(np.searchsorted(held, LANDING_COVER * held[-1])) + 1]) if telling else ()


def best_threshold(accept: np.ndarray, refuse: np.ndarray) -> tuple[float, float]:
    """(threshold, balanced accuracy): accept scores ≥ threshold should pass, refuse
    scores below it should not. Midway between neighbouring scores, in log space (the
    masses span decades), so that neither side sits on the edge."""
    candidates = np.unique(np.concatenate([accept, refuse]))
    best = (0.0, -1.0)
    for low, high in zip(np.concatenate([[0.0], candidates]), np.concatenate([candidates, [1.0]])):
        threshold = float(np.sqrt(max(low, 1e-9) * high)) if high > 0 else 0.0
        balanced = ((accept >= threshold).mean() + (refuse < threshold).mean()) / 2 if len(refuse) else 1.0
        if balanced > best[1]:
            best = (threshold, float(balanced))
    return best


def held_out_accuracy(accept: np.ndarray, refuse_fit: np.ndarray, refuse_check: np.ndarray) -> float:
    """Balanced accuracy, on accept and refuse_check, of the threshold best between accept and
    refuse_fit: how a score would do on images of none of the labels that did not set it."""
    threshold, _ = best_threshold(accept, refuse_fit)
    return round(float(((accept >= threshold).mean() + (refuse_check < threshold).mean()) / 2), 4)


def pretrained_rule(
    network: Network,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    none_x: np.ndarray,
    requested: str,
    sources: dict[str, int],
) -> FittedRule:
    """The rule of a pretrained network from pooled features: train_x of every training
    view (labels train_y), val_x and none_x of the service's view of the validation and
    non-food images. requested: one of PRETRAINED_SCORES, or auto for the one with the
    best balanced accuracy on the half of the non-food images its fitting did not see."""
    kinds = PRETRAINED_SCORES if requested == "auto" else (requested,)
    distance = (
        fit_feature_distance(train_x, train_y, network.head.out_features) if "feature_distance" in kinds else None
    )
    train_probabilities = imagenet_probabilities(network, train_x) if "reference_mass" in kinds else None

    def fitted(kind: str, none_part: np.ndarray) -> tuple[Scoring, tuple[int, ...]]:
        if kind == "feature_distance":
            return WithFeatureDistance(network, distance), ()
        assert train_probabilities is not None  # computed above whenever reference_mass is a kind
        classes = landing_classes(train_probabilities, imagenet_probabilities(network, none_part))
        return WithReferenceMass(network, classes), classes

    held_out: dict[str, float] = {}
    if len(kinds) > 1:
        fit_half, check_half = none_x[0::2], none_x[1::2]
        for kind in kinds:
            module, _ = fitted(kind, fit_half)
            held_out[kind] = held_out_accuracy(
                *(feature_scores(module, network, part) for part in (val_x, fit_half, check_half))
            )
    kind = max(kinds, key=lambda k: held_out.get(k, 0.0))  # a tie keeps the first
    module, classes = fitted(kind, none_x)
    rule = rule_from_scores(
        kind, feature_scores(module, network, val_x), feature_scores(module, network, none_x), classes, sources
    )
    if held_out:
        rule.calibration["chosen_from"] = held_out  # balanced accuracy with half the non-food images held out
    return FittedRule(rule, distance if kind == "feature_distance" else None)


def fit_known(labels_x: np.ndarray, labels_val_x: np.ndarray, none_x: np.ndarray, none_val_x: np.ndarray) -> nn.Linear:
    """The logit of "one of the labels" from pooled features: a logistic regression of the
    labels' training views against the none-images' (head.fit_head, its strength chosen
    on the validation images against the none-images' held-out views)."""
    from training.head import fit_head

    def stacked(ours: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate([theirs, ours]), np.concatenate([np.zeros(len(theirs), int), np.ones(len(ours), int)])

    fitted = fit_head(*stacked(labels_x, none_x), *stacked(labels_val_x, none_val_x), 2)
    layer = nn.Linear(labels_x.shape[1], 1)
    with torch.no_grad():  # two classes' logits → their difference: "labels" minus "none"
        layer.weight.copy_(fitted.layer.weight[1:] - fitted.layer.weight[:1])
        layer.bias.copy_(fitted.layer.bias[1:] - fitted.layer.bias[:1])
    return layer


def exposed_rule(
    network: Network, features: Features, bundled_x: np.ndarray, exposure: np.ndarray, sources: dict[str, int]
) -> FittedRule:
    """outlier_exposure from pooled features: features of the labels' images, bundled_x of
    the bundled non-food images' service view (what reference_mass is fitted on), exposure
    (images, views, features) of the user's none-images. Every fifth of those chooses the
    detector's strength; all of them, and the bundled ones, set the threshold."""
    held = np.arange(len(exposure)) % 5 == 4
    known = fit_known(
        features.train, features.val, exposure[~held].reshape(-1, exposure.shape[2]), exposure[held][:, 0]
    )
    classes = landing_classes(
        imagenet_probabilities(network, features.train), imagenet_probabilities(network, bundled_x)
    )
    module = WithExposedMass(network, classes, known)
    refuse = np.concatenate([bundled_x, exposure[:, 0]])
    rule = rule_from_scores(
        "outlier_exposure",
        feature_scores(module, network, features.val),
        feature_scores(module, network, refuse),
        classes,
        sources,
    )
    return FittedRule(rule, known=known)


def rule_from_scores(
    kind: str,
    accept: np.ndarray,
    refuse: np.ndarray,
    reference_classes: tuple[int, ...] = (),
    sources: dict[str, int] | None = None,
) -> NoneRule:
    """The rule whose threshold best tells the validation images' scores (accept) from the
    non-food images' (refuse), both computed by with_score(network, kind)."""
    threshold, balanced = best_threshold(accept, refuse)
    threshold = float(f"{threshold:.6g}")  # scores span decades: six significant digits, not places
    calibration: dict[str, Any] = {
        "balanced_accuracy": round(balanced, 4),
        "validation_images": len(accept),
        "validation_accepted": round(float((accept >= threshold).mean()), 4),
        "none_images": len(refuse),
        "none_refused": round(float((refuse < threshold).mean()), 4) if len(refuse) else None,
        "none_sources": sources or {},
    }
    if kind in ("reference_mass", "outlier_exposure"):
        calibration["reference_classes"] = list(reference_classes)
    return NoneRule(kind, threshold, DESCRIPTIONS[kind], calibration)


def calibrated_rule(
    model: Network,
    val_samples: list[tuple[Path, int]],
    meta: ModelMetadata,
    cfg: TrainConfig,
    features: Features | None = None,
) -> NoneRule:
    """The trained model's rule, from the validation split and the non-food images (the
    bundled ones and cfg.none_images), with the parts its score needs attached to model.
    features: the pooled features fitting computed, where the backbone was frozen; without
    them, the new head's max_probability."""
    from training.negatives import none_inputs

    if problem := cfg.none_rule_problem():
        raise DatasetError(problem)
    exposed = cfg.none_rule == "outlier_exposure"
    # outlier_exposure's reference classes are fitted on the bundled non-food images alone:
    # the none-images (other foods) land on the labels' classes, and its detector reads them.
    negatives, sources = none_inputs(meta, None if exposed else cfg.none_images)
    if exposed and features is not None and cfg.none_images is not None:  # as none_rule_problem ensures
        from training.features import pooled_features
        from training.negatives import user_images

        files = user_images(cfg.none_images)
        sources[str(cfg.none_images)] = len(files)
        exposure = pooled_features(model.backbone, files, meta, cfg.views, "none-image features")
        fitted = exposed_rule(model, features, input_features(model.backbone, negatives), exposure, sources)
    elif features is not None:
        fitted = pretrained_rule(
            model,
            features.train,
            features.train_labels,
            features.val,
            input_features(model.backbone, negatives),
            cfg.none_rule,
            sources,
        )
    else:
        module = with_score(model, "max_probability").eval()
        refuse = [torch.from_numpy(negatives[i : i + cfg.batch_size]) for i in range(0, len(negatives), cfg.batch_size)]
        accept = [torch.from_numpy(inputs) for inputs, _ in eval_batches(val_samples, meta, cfg.batch_size)]
        fitted = FittedRule(
            rule_from_scores(
                "max_probability", score_array(module, accept), score_array(module, refuse), sources=sources
            )
        )
    fitted.attach(model)
    print(rule_summary(fitted.rule), flush=True)
    return fitted.rule


def rule_summary(rule: NoneRule, accepted: str = "validation images") -> str:
    """A sentence: what the rule accepts, how it did on the images it was set on, and why
    this score was chosen where there was a choice."""
    calibration = rule.calibration
    shown, refused = calibration["validation_images"], calibration["none_images"]
    line = (
        f"none-rule: {rule.score}, accepting an image whose score is at least {rule.threshold:.4g} "
        f"({round(calibration['validation_accepted'] * shown)} of {shown} {accepted} accepted, "
        f"{round((calibration['none_refused'] or 0) * refused)} of {refused} images of none of the labels refused)"
    )
    chosen: dict[str, float] | None = calibration.get("chosen_from")
    if not chosen:
        return line
    others = [kind for kind in chosen if kind != rule.score]
    tie = " (a tie, which keeps the first tried)" if all(chosen[k] == chosen[rule.score] for k in others) else ""
    scores = ", ".join(f"{kind} {value:.1%}" for kind, value in chosen.items())
    return (
        f"{line}; chosen over {' and '.join(others)} by balanced accuracy on non-food images its threshold "
        f"did not see: {scores}{tie}"
    )
