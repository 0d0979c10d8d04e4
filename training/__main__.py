"""python -m training COMMAND: from image folders, or a model made elsewhere, to a served model
(each command's options and what runs it; the demo's renders: python -m devtools.renders)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from training.choices import ARCHITECTURES, DEVICES, PRETRAINED_SCORES
from training.cli import Adder, commands, identity_options, no_problem, run
from training.config import TrainConfig
from training.import_command import import_options

TRAIN = TrainConfig(data=Path())  # train's defaults


def main(argv: list[str] | None = None) -> int:
    # train writes its folder only once it has trained; export and import rename a checked file into place.
    return run(_parser(), argv, atomic=("train", "export", "import"))


def _parser() -> argparse.ArgumentParser:
    parser, add = commands("python -m training", __doc__)
    for options in (
        _train_options,
        _export_options,
        import_options,
        _evaluate_options,
        _none_photos_options,
        _publish_options,
    ):
        options(add)
    return parser


def _train_options(add: Adder) -> None:
    p = add("train", help="train a network on an ImageFolder tree, early-stopping on validation loss")
    _train_data_options(p.add_argument_group("images and output"))
    _train_model_options(p.add_argument_group("the model"))
    _train_fitting_options(p.add_argument_group("fitting"))
    p.set_defaults(run=_train, problem=_train_problem)


def _train_data_options(p: argparse._ArgumentGroup) -> None:
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="DATA/train (with DATA/val and DATA/test where you have them), or DATA/<class>/*; "
        "a missing part is held out of the rest",
    )
    p.add_argument(
        "--val-fraction", type=float, default=TRAIN.val_fraction, help="of each class, where DATA has no val/"
    )
    p.add_argument(
        "--test-fraction", type=float, default=TRAIN.test_fraction, help="of each class, where DATA has no test/"
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for weights.pt, metadata.json and the parts used: train.txt, val.txt, test.txt",
    )
    identity_options(p, "its folder's name")
    p.add_argument(
        "--none-images",
        type=Path,
        help="a folder of images that are none of the labels, added to the bundled non-food set; with "
        "--none-rule outlier_exposure, what its detector is fitted against",
    )


def _train_model_options(p: argparse._ArgumentGroup) -> None:
    p.add_argument("--architecture", default=TRAIN.architecture, choices=ARCHITECTURES, help="the network")
    p.add_argument(
        "--pretrained",
        action=argparse.BooleanOptionalAction,
        help="start from ImageNet weights and fit a new head on the frozen backbone's features, in "
        "seconds (default: yes where the weights install with a package: "
        f"{', '.join(n for n, a in ARCHITECTURES.items() if a.offline)}); "
        "--no-pretrained trains every layer, epoch by epoch",
    )
    p.add_argument(
        "--fine-tune",
        type=int,
        default=TRAIN.fine_tune,
        metavar="N",
        help="with --pretrained: after the head, also train the backbone's last N blocks epoch by epoch "
        "(augmentation, one-cycle schedule, early stopping on validation loss; --epochs, --lr, "
        "--patience apply). Slower by far: see the README for when it pays",
    )
    p.add_argument(
        "--none-rule",
        default=TRAIN.none_rule,
        choices=("auto", *PRETRAINED_SCORES, "outlier_exposure"),
        help="with --pretrained, what says 'none of these': feature_distance (how far an image's features "
        "lie from the nearest label's training images; for photos like the training ones), "
        "reference_mass (the ImageNet head's mass on the classes the training images land on; holds "
        "when the training images are renders), auto: the one of those two that tells held-out non-food "
        "images from the validation images best, or outlier_exposure: reference_mass times a detector "
        "fitted against the --none-images (for a model that must refuse things like its labels: "
        "other foods)",
    )
    p.add_argument(
        "--input-size",
        type=int,
        help="side of the square the model sees, in pixels (default: the architecture's own: "
        + ", ".join(f"{name} {arch.input_size}" for name, arch in ARCHITECTURES.items())
        + ")",
    )


def _train_fitting_options(p: argparse._ArgumentGroup) -> None:
    p.add_argument(
        "--views",
        type=int,
        default=TRAIN.views,
        help="with --pretrained: augmented views (crops, flips, colour) of each training image, besides "
        "the service's own",
    )
    p.add_argument("--train-size", type=int, help="crop size while training (default: input size)")
    p.add_argument(
        "--epochs",
        type=int,
        default=TRAIN.epochs,
        help="with --no-pretrained or --fine-tune: at most this many passes over the training images",
    )
    p.add_argument("--batch-size", type=int, default=TRAIN.batch_size, help="images per step")
    p.add_argument(
        "--lr",
        type=float,
        default=TRAIN.lr,
        help="with --no-pretrained or --fine-tune: peak learning rate (one-cycle schedule, AdamW)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=TRAIN.patience,
        help="with --no-pretrained or --fine-tune: stop after this many epochs without a lower validation loss",
    )
    p.add_argument(
        "--seed", type=int, default=TRAIN.seed, help="for the split, the initialisation and the augmentation"
    )
    p.add_argument("--init-weights", type=Path, help="local state_dict to start from (never downloaded)")
    p.add_argument(
        "--device",
        default=TRAIN.device,
        choices=DEVICES,
        help="auto: an NVIDIA GPU (CUDA, with mixed precision) if torch sees one, else an Apple GPU (MPS), "
        "else the CPU",
    )


def _export_options(add: Adder) -> None:
    p = add("export", help="write self-describing TorchScript (.pt) and/or ONNX (.onnx) files")
    p.add_argument("--weights", type=Path, required=True, help="folder with weights.pt and metadata.json")
    p.add_argument("--out", type=Path, action="append", required=True, help="model file to write; repeatable")
    p.add_argument(
        "--check-images",
        type=Path,
        required=True,
        help="images on which the export must match the trained model: the run's val.txt, or a folder of class folders",
    )
    p.set_defaults(run=_export, problem=no_problem)


def _evaluate_options(add: Adder) -> None:
    p = add("evaluate", help="accuracy, per-class precision/recall, confusion matrix, refusals")
    p.add_argument("model", type=Path, help="model file, loaded as the service loads it")
    p.add_argument(
        "--split",
        type=Path,
        required=True,
        help="images to score: the run's test.txt, or a folder of class folders (e.g. data/demo-cycles/test)",
    )
    p.add_argument("--out", type=Path, help="folder for report.json, confusion.png and most_wrong.png")
    p.add_argument(
        "--none-images",
        type=Path,
        action="append",
        help="a folder of images of none of the labels: reports how many the model refuses; repeatable, "
        "each folder counted on its own",
    )
    p.set_defaults(run=_evaluate, problem=no_problem)


def _none_photos_options(add: Adder) -> None:
    p = add(
        "none-photos",
        help="copy scikit-image's sample photos, never used in training or "
        "calibration, to a folder: a test set for evaluate --none-images",
    )
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=_none_photos, problem=no_problem)


def _publish_options(add: Adder) -> None:
    p = add("publish", help="upload a model file to S3 with its sha256")
    p.add_argument("model", type=Path)
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", default="models", help="key prefix (the IAM policy grants this prefix)")
    p.add_argument("--force", action="store_true", help="overwrite an existing version")
    p.add_argument("--create-bucket", action="store_true", help="create the bucket if it does not exist")
    p.set_defaults(run=_publish, problem=no_problem)


def _train_problem(args: argparse.Namespace) -> str | None:
    if args.views < 0:
        return "--views must be 0 or more"
    if problem := train_config(args).none_rule_problem():
        return problem
    if args.fine_tune and not train_config(args).starts_pretrained():
        return (
            "--fine-tune N refines a pretrained backbone: drop --no-pretrained, or train every layer "
            "without --fine-tune"
        )
    return None


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The run's settings: each option whose name is a TrainConfig field, and the display names."""
    named = {field.name for field in dataclasses.fields(TrainConfig)} & set(vars(args))
    return TrainConfig(**{name: getattr(args, name) for name in named}, display_names=dict(args.display_name))


def _train(args: argparse.Namespace) -> None:
    from training.checkpoint import save_checkpoint
    from training.dataset import write_list
    from training.train import train

    model, meta, parts = train(train_config(args), args.name, args.version)
    save_checkpoint(model, meta, args.out)
    for name, part in parts.items():
        write_list(part, args.out / f"{name}.txt")
    print(
        f"wrote {args.out}/weights.pt and metadata.json, and the images of each part: "
        + ", ".join(f"{args.out}/{name}.txt ({len(part.samples)})" for name, part in parts.items())
    )


def _export(args: argparse.Namespace) -> None:
    from training.checkpoint import load_checkpoint
    from training.dataset import check_batch, scan
    from training.export import export, parity

    model, meta = load_checkpoint(args.weights)
    check_images = scan(args.check_images, (meta.resize_size, meta.input_size))
    check = check_batch(check_images, meta)
    for out in args.out:
        worst = export(model, meta, out, check)
        print(f"wrote {out}: {parity(worst, len(check), args.check_images)}")


def _evaluate(args: argparse.Namespace) -> None:
    from training.evaluate import evaluate, summary, write_report

    report = evaluate(args.model, args.split, args.none_images)
    print("\n".join(summary(report)))
    if args.out:
        for path in write_report(report, args.out):
            print(f"wrote {path}")
    else:
        print("--out DIR writes report.json (every figure), confusion.png and most_wrong.png")


def _none_photos(args: argparse.Namespace) -> None:
    import shutil

    from training.errors import DatasetError
    from training.negatives import held_out_photos

    photos = held_out_photos()
    if not photos:
        raise DatasetError("scikit-image is not installed: pip install scikit-image")
    args.out.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        shutil.copy(photo, args.out / photo.name)
    print(f"wrote {len(photos)} photos to {args.out}")


def _publish(args: argparse.Namespace) -> None:
    from training.publish import publish

    print(publish(args.model, args.bucket, force=args.force, prefix=args.prefix, create_bucket=args.create_bucket))


if __name__ == "__main__":
    sys.exit(main())
