"""python -m training COMMAND: from image folders to a served model (each command's options and what runs it)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from chalicelib.settings import usable_cpus

from training.choices import ARCHITECTURES, DEVICES, OUTPUT_SCORES, PRETRAINED_SCORES
from training.config import TrainConfig

TRAIN = TrainConfig(data=Path())  # train's defaults


class _ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in --help, where it has one (not "None", "False" or "[]")."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        shown = not (action.default is None or action.default is False or action.default == [])
        return super()._get_help_string(action) if shown else action.help


def _display_name(text: str) -> tuple[str, str]:
    label, equals, words = text.partition("=")
    if not (equals and label and words.strip()):
        raise argparse.ArgumentTypeError(f'{text!r} is not LABEL=WORDS (e.g. city_night="City at night")')
    return label, words.strip()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    problem = args.problem(args)
    if problem:
        parser.error(problem)
    from training.errors import TrainingError

    try:
        args.run(args)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # a command that trains or exports, run where only serving is installed
        print(
            f"error: {args.command} needs {exc.name}, which this Python lacks: run it with .venv/bin/python "
            "(./scripts/bootstrap makes .venv)",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:  # a file or folder named on the command line that cannot be read or written
        print(f"error: {exc.strerror or exc}: {exc.filename}" if exc.filename else f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # train writes its folder only once it has trained; export renames a checked file into place.
        unwritten = "; nothing written" if args.command in ("train", "export", "import") else ""
        print(f"{args.command} stopped by Ctrl+C{unwritten}", file=sys.stderr)
        return 130  # what a shell reports for a command that SIGINT ended
    return 0


def _parser() -> argparse.ArgumentParser:
    """Each subcommand's options, with the function that runs it (args.run) and the function
    that finds what argparse cannot (args.problem: a message for parser.error, or None)."""
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add = functools.partial(sub.add_parser, formatter_class=_ShowDefaults)
    for options in (
        _synth_options,
        _train_options,
        _export_options,
        _import_options,
        _evaluate_options,
        _realism_options,
        _none_photos_options,
        _other_foods_options,
        _publish_options,
    ):
        options(add)
    return parser


def _identity_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, label: str) -> None:
    """What the model is called, in its metadata: train's and import's."""
    p.add_argument("--name", required=True, help="the model's name, in its metadata and its S3 key")
    p.add_argument("--version", required=True, help="the model's version, e.g. 1.0.0")
    p.add_argument(
        "--display-name",
        type=_display_name,
        action="append",
        default=[],
        metavar="LABEL=WORDS",
        help=f"how the page and the API's display_name write a label (default: {label} with spaces for "
        "underscores); repeatable",
    )


def _no_problem(args: argparse.Namespace) -> None:
    return None


def _synth_options(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("synth", help="render the demo donut/bagel/vada ImageFolder tree")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--per-class", type=int, default=800, help="images per class over all splits")
    p.add_argument("--size", type=int, default=256, help="side of each square render, in pixels")
    p.add_argument("--seed", type=int, default=0, help="the same seed renders the same images")
    p.add_argument(
        "--renderer",
        choices=("pillow", "blender"),
        default="pillow",
        help="pillow: 2D drawings, about 100 images a second; blender: Cycles path tracing (denoised), "
        "photographs of procedural scenes, about 6 s per 256 px image per worker, in .venv-render "
        "(made on first use, about 1 GB)",
    )
    p.add_argument("--samples", type=int, default=16, help="with --renderer blender: path-tracing samples per pixel")
    _workers_option(p)
    p.set_defaults(run=_synth, problem=_workers_problem)


def _workers_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers", type=int, default=usable_cpus(), help="render processes: one per CPU this process may use"
    )


def _workers_problem(args: argparse.Namespace) -> str | None:
    return "--workers must be 1 or more" if args.workers < 1 else None


def _train_options(add: Callable[..., argparse.ArgumentParser]) -> None:
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
    _identity_options(p, "its folder's name")
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


def _export_options(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("export", help="write self-describing TorchScript (.pt) and/or ONNX (.onnx) files")
    p.add_argument("--weights", type=Path, required=True, help="folder with weights.pt and metadata.json")
    p.add_argument("--out", type=Path, action="append", required=True, help="model file to write; repeatable")
    p.add_argument(
        "--check-images",
        type=Path,
        required=True,
        help="images on which the export must match the trained model: the run's val.txt, or a folder of class folders",
    )
    p.add_argument(
        "--int8",
        action="store_true",
        help="write .onnx files statically quantized to int8, only if they give the fp32 model's label and "
        "none-of-these decision on 99%% of --check-images",
    )
    p.add_argument(
        "--calibration-images",
        type=Path,
        help="with --int8: training images to calibrate on: the run's train.txt, or a folder of class folders",
    )
    p.set_defaults(run=_export, problem=_export_problem)


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


def _import_options(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add(
        "import",
        help="turn a classifier made elsewhere (TorchScript, ONNX, a torchvision or timm state_dict, a "
        "pickled nn.Module, a fastai export.pkl) into a model file the service serves",
    )
    p.add_argument("model", type=Path, help="the model file; its kind is read from its content")
    p.add_argument(
        "--out", type=Path, action="append", required=True, help="model file to write (.onnx or .pt); repeatable"
    )
    _identity_options(p, "the label")
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


def _evaluate_options(add: Callable[..., argparse.ArgumentParser]) -> None:
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
    p.set_defaults(run=_evaluate, problem=_no_problem)


def _realism_options(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add(
        "realism",
        help="how photographic renders look to ImageNet's head, per class: where it puts them, "
        "their food mass, how tightly their features cluster",
    )
    p.add_argument("data", type=Path, help="class folders, or a tree whose train/ holds them")
    p.add_argument("--out", type=Path, help="write the figures as JSON here too")
    p.set_defaults(run=_realism, problem=_no_problem)


def _none_photos_options(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add(
        "none-photos",
        help="copy scikit-image's sample photos, never used in training or "
        "calibration, to a folder: a test set for evaluate --none-images",
    )
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=_none_photos, problem=_no_problem)


def _other_foods_options(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add(
        "other-foods",
        help="render photographs of other foods (pretzels, croissants, cookies, idli, samosas, muffins, "
        "bondas, onion rings, churros, appams, kachoris, pancakes) with Blender's Cycles, one folder each: "
        "a test set for evaluate --none-images, or what train --none-rule outlier_exposure is fitted against",
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--per-kind", type=int, default=20, help="images of each food")
    p.add_argument("--size", type=int, default=256, help="side of each square render, in pixels")
    p.add_argument("--seed", type=int, default=0, help="the same seed renders the same images")
    p.add_argument("--samples", type=int, default=16, help="path-tracing samples per pixel")
    _workers_option(p)
    p.set_defaults(run=_other_foods, problem=_other_foods_problem)


def _publish_options(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("publish", help="upload a model file to S3 with its sha256")
    p.add_argument("model", type=Path)
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", default="models", help="key prefix (the IAM policy grants this prefix)")
    p.add_argument("--force", action="store_true", help="overwrite an existing version")
    p.add_argument("--create-bucket", action="store_true", help="create the bucket if it does not exist")
    p.set_defaults(run=_publish, problem=_no_problem)


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


def _export_problem(args: argparse.Namespace) -> str | None:
    if args.int8 and args.calibration_images is None:
        return "--int8 needs --calibration-images (training images, e.g. build/mine/train.txt)"
    return None


def _import_problem(args: argparse.Namespace) -> str | None:
    if args.none_images and not args.calibration_images:
        return "--none-images needs --calibration-images (photos of the labels) to fit a none-rule"
    return None


def _other_foods_problem(args: argparse.Namespace) -> str | None:
    return "--per-kind must be 1 or more" if args.per_kind < 1 else _workers_problem(args)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The run's settings: each option whose name is a TrainConfig field, and the display names."""
    named = {field.name for field in dataclasses.fields(TrainConfig)} & set(vars(args))
    return TrainConfig(**{name: getattr(args, name) for name in named}, display_names=dict(args.display_name))


def _synth(args: argparse.Namespace) -> None:
    from training.synth import synth

    counts = synth(args.out, args.per_class, args.seed, args.size, args.workers, args.renderer, args.samples)
    print(f"wrote {counts} images under {args.out}")


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
    from training.export import export

    model, meta = load_checkpoint(args.weights)
    check_images = scan(args.check_images, (meta.resize_size, meta.input_size))
    check = check_batch(check_images, meta)
    if not args.int8:
        for out in args.out:
            export(model, meta, out, check)
            print(f"wrote {out}")
        return
    from training.quantize import CALIBRATION_IMAGES, VALIDATION_IMAGES, export_int8

    calibration = check_batch(
        scan(args.calibration_images, (meta.resize_size, meta.input_size)), meta, CALIBRATION_IMAGES
    )
    validation = check_batch(check_images, meta, VALIDATION_IMAGES)
    for out in args.out:
        record = export_int8(model, meta, out, check, calibration, validation)
        print(
            f"wrote {out} (int8, {record['scheme']}: top-1 agrees with fp32 on {record['top1_agreement']:.1%} "
            f"of {record['validation_images']} images)"
        )


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


def _evaluate(args: argparse.Namespace) -> None:
    from training.evaluate import evaluate, summary, write_report

    report = evaluate(args.model, args.split, args.none_images)
    print("\n".join(summary(report)))
    if args.out:
        for path in write_report(report, args.out):
            print(f"wrote {path}")
    else:
        print("--out DIR writes report.json (every figure), confusion.png and most_wrong.png")


def _realism(args: argparse.Namespace) -> None:
    import json

    from training.realism import realism, summary

    report = realism(args.data)
    print("\n".join(summary(report)))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


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


def _other_foods(args: argparse.Namespace) -> None:
    from training.blender_synth import render_other_foods

    count = render_other_foods(args.out, args.per_kind, args.seed, args.size, args.samples, args.workers)
    print(f"wrote {count} images to {args.out}")


def _publish(args: argparse.Namespace) -> None:
    from training.publish import publish

    print(publish(args.model, args.bucket, force=args.force, prefix=args.prefix, create_bucket=args.create_bucket))


if __name__ == "__main__":
    sys.exit(main())
