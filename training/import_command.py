"""`python -m training import`: its options and what runs them (training/model_import.py does the work)."""

from __future__ import annotations

import argparse
from pathlib import Path

from training.choices import ARCHITECTURES, OUTPUT_SCORES
from training.cli import Adder, identity_options


def _labels(text: str) -> tuple[str, ...]:
    """A file of one label per line, or a comma list."""
    path = Path(text)
    names = path.read_text().splitlines() if path.is_file() else text.split(",")
    labels = tuple(name.strip() for name in names if name.strip())
    if len(labels) < 2:
        raise argparse.ArgumentTypeError(f"{text!r} names fewer than two labels (a file of one a line, or a,b,c)")
    return labels


def _triple(text: str) -> tuple[float, float, float]:
    try:
        first, second, third = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not three numbers, one per colour channel (e.g. 0.5,0.5,0.5)"
        ) from None
    return first, second, third


def import_options(add: Adder) -> None:
    p = add(
        "import",
        help="turn a classifier made elsewhere (TorchScript, ONNX, a torchvision or timm state_dict, a "
        "pickled nn.Module, a fastai export.pkl) into a model file the service serves",
    )
    p.add_argument("model", type=Path, help="the model file; its kind is read from its content")
    p.add_argument(
        "--out", type=Path, action="append", required=True, help="model file to write (.onnx or .pt); repeatable"
    )
    identity_options(p, "the label")
    p.add_argument(
        "--labels",
        type=_labels,
        help="the labels in the order of the model's outputs: a file of one a line, or a,b,c "
        "(default: what the file records: a fastai Learner's vocab)",
    )
    p.add_argument(
        "--architecture",
        help="for a state_dict: the network it is the weights of: "
        f"{', '.join(ARCHITECTURES)}, torchvision:NAME or timm:NAME (its head sized from the weights)",
    )
    p.add_argument(
        "--input-size",
        type=int,
        help="side of the square the model sees (default: what the file records, else 224)",
    )
    p.add_argument(
        "--resize-size",
        type=int,
        help="shorter side an image is resized to before the centre crop (default: what the file records, "
        "else input size x 256/224)",
    )
    p.add_argument(
        "--mean", type=_triple, help="per-channel mean of 0-1 pixels (default: what the file records, else ImageNet's)"
    )
    p.add_argument(
        "--std", type=_triple, help="per-channel std of 0-1 pixels (default: what the file records, else ImageNet's)"
    )
    p.add_argument(
        "--outputs",
        default="auto",
        choices=("auto", "logits", "log_probabilities", "probabilities"),
        help="what the model's output is; auto: read from its values on the check images",
    )
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="load a pickled model (a whole nn.Module, a fastai export.pkl), which runs code the file names: "
        "only for a file you trust",
    )
    p.add_argument(
        "--check-images",
        type=Path,
        help="images on which the written file must answer as the original (default: the project's bundled "
        "photos and renders)",
    )
    p.add_argument(
        "--calibration-images",
        type=Path,
        help="photos of the labels (class folders or one folder): fits a none-rule on the model's top "
        "probability against the bundled non-food images; without it, every image gets a label",
    )
    p.add_argument("--none-images", type=Path, help="with --calibration-images: more images of none of the labels")
    p.add_argument(
        "--none-rule",
        default="auto",
        choices=("auto", *OUTPUT_SCORES, "feature_distance"),
        help="with --calibration-images, what says 'none of these': max_probability (the top label's "
        "probability), energy (the log of the summed exponentials of the logits), feature_distance (for a "
        f"state_dict of {', '.join(ARCHITECTURES)}: how far its pooled features lie from the calibration "
        "photos'), or auto: the one that tells the calibration photos from non-food images best, on "
        "non-food images its threshold did not see",
    )
    p.set_defaults(run=_import, problem=_import_problem)


def _import_problem(args: argparse.Namespace) -> str | None:
    if args.none_images and not args.calibration_images:
        return "--none-images needs --calibration-images (photos of the labels) to fit a none-rule"
    return None


def _import(args: argparse.Namespace) -> None:
    from training.model_import import ImportOptions, import_model

    options = ImportOptions(
        name=args.name,
        version=args.version,
        labels=args.labels,
        architecture=args.architecture,
        input_size=args.input_size,
        resize_size=args.resize_size,
        mean=args.mean,
        std=args.std,
        outputs=args.outputs,
        none_rule=args.none_rule,
        trust_pickle=args.trust_pickle,
        display_names=dict(args.display_name),
    )
    said = import_model(args.model, options, args.out, args.check_images, args.calibration_images, args.none_images)
    print("\n".join(said))
