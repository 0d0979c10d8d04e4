"""`python -m training import`: a classifier made elsewhere becomes the self-describing model
file the service serves, with the labels' probabilities as the service reads them
whatever the original ends in, a none-rule where calibration images are given, and the
file written only once, loaded as the service loads it, it answers as the original does."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from chalicelib.errors import ModelLoadError
from chalicelib.metadata import ModelMetadata, NoneRule, Triple
from torch import nn

from training.choices import ARCHITECTURES, OUTPUT_SCORES
from training.dataset import check_batch, resize_side, scan, service_input
from training.errors import ImportModelError
from training.export import export, parity, write_checked
from training.features import input_features
from training.model_files import read_source
from training.model_source import Source
from training.networks import FeatureDistance, Network
from training.onnx_import import EPSILON, wrapped

IMAGENET_MEAN: Triple = (0.485, 0.456, 0.406)
IMAGENET_STD: Triple = (0.229, 0.224, 0.225)
DEFAULT_SIDE = 224
BATCH = 32


@dataclass
class ImportOptions:
    """What the user said; None where the file (or the stated default) is to say it."""

    name: str
    version: str
    labels: tuple[str, ...] | None = None
    architecture: str | None = None
    input_size: int | None = None
    resize_size: int | None = None
    mean: Triple | None = None
    std: Triple | None = None
    outputs: str = "auto"  # auto, logits, log_probabilities or probabilities
    none_rule: str = "auto"  # with calibration images: auto or one of OUTPUT_SCORES
    trust_pickle: bool = False
    display_names: dict[str, str] = field(default_factory=dict)


class AsLogits(nn.Module):
    """The original network, its output turned into logits where it gives probabilities
    (log-probabilities are logits already: their softmax is the probabilities)."""

    def __init__(self, model: nn.Module, probabilities: bool) -> None:
        super().__init__()
        self.model, self.probabilities, self.floor = model, probabilities, EPSILON  # TorchScript reads no globals

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return torch.log(out.clamp_min(self.floor)) if self.probabilities else out


def import_model(
    path: Path,
    options: ImportOptions,
    outs: list[Path],
    check_images: Path | None = None,
    calibration_images: Path | None = None,
    none_images: Path | None = None,
) -> list[str]:
    """Writes each of outs; returns what to tell the user."""
    source = read_source(path, options.architecture, options.trust_pickle)
    said: list[str] = [f"read {path} as {source.kind}"]
    meta = _metadata(path, source, options, said)
    said += source.notes
    _check_outputs(source, meta)
    check, described = _check_inputs(meta, check_images)
    raw = _run(source, check)
    ends_in = options.outputs if options.outputs != "auto" else ends_in_of(raw)
    said.append(
        f"its output read as {ends_in.replace('_', '-')}"
        + (" (from its values on the check images; --outputs says otherwise)" if options.outputs == "auto" else "")
    )
    if calibration_images is None:
        said.append(
            "no none-rule: every image gets one of the labels "
            "(--calibration-images DIR, photos of the labels, fits one)"
        )
    else:
        rule = _calibrated(source, meta, options.none_rule, ends_in, calibration_images, none_images)
        meta = _with_rule(meta, rule)
        from training.none_rule import rule_summary

        said.append(rule_summary(rule, f"photos of {calibration_images}"))
    for out in outs:
        worst = _write(source, meta, ends_in, out, torch.from_numpy(check))
        said.append(f"wrote {out}: {parity(worst, len(check), described)}")
    return said


def _metadata(path: Path, source: Source, options: ImportOptions, said: list[str]) -> ModelMetadata:
    recorded = source.recorded
    labels = options.labels or recorded.labels
    if not labels:
        raise ImportModelError("the file records no labels: give them with --labels a,b,c or --labels FILE")
    if recorded.input_size and options.input_size and recorded.input_size != options.input_size:
        if source.kind == "ONNX":
            raise ImportModelError(
                f"--input-size {options.input_size}, but the graph takes {recorded.input_size} px images only"
            )
    side = options.input_size or recorded.input_size
    if side is None:
        side = DEFAULT_SIDE
        said.append(f"input size {DEFAULT_SIDE} px assumed (the file records none; --input-size)")
    mean, std = options.mean or recorded.mean, options.std or recorded.std
    if mean is None or std is None:
        said.append("ImageNet's mean and std assumed (the file records none; --mean, --std)")
    meta = ModelMetadata(
        name=options.name,
        version=options.version,
        architecture=recorded.architecture,
        labels=tuple(labels),
        input_size=side,
        resize_size=options.resize_size or recorded.resize_size or resize_side(side),
        mean=mean or IMAGENET_MEAN,
        std=std or IMAGENET_STD,
        training={"imported_from": {"kind": source.kind, "file": path.name, "sha256": _sha256(path)}},
        display_names=options.display_names,
    )
    try:
        return ModelMetadata.from_json(meta.to_json())  # the service's own checks
    except ModelLoadError as exc:
        raise ImportModelError(str(exc)) from exc


def _sha256(path: Path) -> str:
    from chalicelib.model_cache import sha256_of

    with path.open("rb") as stream:
        return sha256_of(stream)


def _check_outputs(source: Source, meta: ModelMetadata) -> None:
    side = meta.input_size
    try:
        out = source.run(np.zeros((1, 3, side, side), np.float32))
    except ImportModelError:
        raise
    except Exception as exc:  # whatever the model's own code raises
        raise ImportModelError(f"the model fails on a {side} px image: {str(exc).splitlines()[0]}") from exc
    if out.ndim != 2:
        raise ImportModelError(f"the model outputs shape {out.shape[1:]} per image, not one score per class")
    if out.shape[1] != len(meta.labels):
        raise ImportModelError(f"{len(meta.labels)} labels for the model's {out.shape[1]} outputs")


def _check_inputs(meta: ModelMetadata, folder: Path | None) -> tuple[np.ndarray, str]:
    """float32 NCHW images the written file must answer as the original does, and where they are from."""
    if folder is not None:
        inputs = check_batch(scan(folder, (meta.resize_size, meta.input_size)), meta).numpy()
        return inputs, str(folder)
    from training.negatives import bundled_examples

    return bundled_examples(meta), "the bundled photos and renders"


def _run(source: Source, inputs: np.ndarray) -> np.ndarray:
    return np.concatenate([source.run(inputs[i : i + BATCH]) for i in range(0, len(inputs), BATCH)])


def ends_in_of(raw: np.ndarray) -> str:
    """What a model's outputs are, from their values: rows of non-negative numbers summing
    to 1 are probabilities, rows whose exponentials do are log-probabilities."""
    if (raw >= 0).all() and np.abs(raw.sum(axis=1) - 1).max() < 1e-3:
        return "probabilities"
    if (raw <= 0).all() and np.abs(np.exp(raw.astype(np.float64)).sum(axis=1) - 1).max() < 1e-3:
        return "log_probabilities"
    return "logits"


def as_logits(raw: np.ndarray, ends_in: str) -> np.ndarray:
    return np.log(np.maximum(raw, EPSILON)) if ends_in == "probabilities" else raw


def _calibrated(
    source: Source, meta: ModelMetadata, rule: str, ends_in: str, calibration: Path, none_images: Path | None
) -> NoneRule:
    """The rule set between the calibration photos and the images of none of the labels
    (the bundled ones and none_images): read from the model's logits, or for one of train's
    networks also from its pooled features."""
    from training.negatives import none_inputs, user_images
    from training.none_rule import FittedRule, output_rule
    from training.none_scores import output_scores

    network = source.module if isinstance(source.module, Network) else None
    usable = [
        kind
        for kind in (*OUTPUT_SCORES, "feature_distance")
        if (kind != "energy" or ends_in == "logits") and (kind != "feature_distance" or network is not None)
    ]
    if rule != "auto" and rule not in usable:
        if rule == "energy":
            raise ImportModelError(f"--none-rule energy needs logits, and the model outputs {ends_in}")
        raise ImportModelError(
            f"--none-rule feature_distance needs pooled features, which an imported {source.kind} does not expose: "
            f"import a state_dict of {', '.join(ARCHITECTURES)}"
        )
    photos = user_images(calibration, "--calibration-images")
    accept = np.concatenate([service_input(p, meta) for p in photos])
    refuse, sources = none_inputs(meta, none_images)
    accepted, refused = (output_scores(as_logits(_run(source, inputs), ends_in)) for inputs in (accept, refuse))
    distance = None
    if network is not None and "feature_distance" in usable:
        distances = _distance_scores(network, meta, photos, accept, refuse)
        if distances is None and rule == "feature_distance":
            raise ImportModelError(
                "--none-rule feature_distance needs calibration photos of every label (class folders named as "
                "the labels, or photos the model labels so), two or more each"
            )
        if distances is None:
            usable.remove("feature_distance")
        else:
            accepted["feature_distance"], refused["feature_distance"], distance = distances
    kinds = tuple(usable) if rule == "auto" else (rule,)
    chosen = output_rule({k: accepted[k] for k in kinds}, {k: refused[k] for k in kinds}, sources)
    if network is not None:  # the model being assembled carries the distance only for its rule
        FittedRule(chosen, distance if chosen.score == "feature_distance" else None).attach(network)
    return chosen


def _distance_scores(
    network: Network, meta: ModelMetadata, photos: list[Path], accept: np.ndarray, refuse: np.ndarray
) -> tuple[np.ndarray, np.ndarray, FeatureDistance] | None:
    """feature_distance's scores and the distance (the network left as it is): class means
    and covariance fitted on every other calibration photo (labelled by its folder where
    folders name the labels, else by the model's answer), scored on the others, which its
    threshold is then set on; None where a label has no photo to fit its mean on."""
    from training.none_rule import fit_feature_distance
    from training.none_scores import WithFeatureDistance, feature_scores

    features, refused = input_features(network.backbone, accept), input_features(network.backbone, refuse)
    if all(photo.parent.name in meta.labels for photo in photos):
        labels = np.array([meta.labels.index(photo.parent.name) for photo in photos])
    else:
        with torch.inference_mode():
            labels = network.head(torch.from_numpy(features)).argmax(dim=1).numpy()
    if len(np.unique(labels[0::2])) < len(meta.labels) or len(photos) < 2:
        return None
    distance = fit_feature_distance(features[0::2], labels[0::2], len(meta.labels))
    module = WithFeatureDistance(network, distance)
    return feature_scores(module, network, features[1::2]), feature_scores(module, network, refused), distance


def _with_rule(meta: ModelMetadata, rule: NoneRule) -> ModelMetadata:
    from dataclasses import replace

    return replace(meta, none_rule=rule)


def _write(source: Source, meta: ModelMetadata, ends_in: str, out: Path, check: torch.Tensor) -> float:
    if source.onnx is None:
        # One of train's networks ends in its head's logits, with activation maps beside them.
        network = isinstance(source.module, Network)
        return export(
            source.module if network else AsLogits(source.module, ends_in == "probabilities"), meta, out, check
        )
    if out.suffix != ".onnx":
        raise ImportModelError(f"an ONNX model is written as .onnx, not {out.name}")
    import onnx

    graph = wrapped(source.onnx, ends_in, meta)
    return write_checked(out, lambda path: onnx.save(graph, str(path)), _reference(source, ends_in, meta), check)


def _reference(source: Source, ends_in: str, meta: ModelMetadata) -> Callable[[torch.Tensor], Any]:
    """What the written file must give: the original's outputs as logits, and the rule's score."""
    from training.none_scores import output_scores

    def reference(inputs: torch.Tensor) -> list[torch.Tensor]:
        logits = as_logits(_run(source, inputs.numpy()), ends_in).astype(np.float32)
        if meta.none_rule is None:
            return [torch.from_numpy(logits)]
        score = output_scores(logits.astype(np.float64))[meta.none_rule.score]
        return [torch.from_numpy(logits), torch.from_numpy(score.astype(np.float32))]

    return reference
