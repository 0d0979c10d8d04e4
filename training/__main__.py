"""python -m training {synth,train,export,publish}: the path from image folders to a served model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="render the demo donut/bagel/vada ImageFolder tree")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--per-class", type=int, default=800, help="images per class over all splits")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("train", help="train a ResNet on DATA/train, early-stopping on DATA/val")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="folder for weights.pt and metadata.json")
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--architecture", default="resnet18")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--train-size", type=int, help="crop size while training (default: input size)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-weights", type=Path, help="local state_dict to start from (never downloaded)")

    p = sub.add_parser("export", help="write self-describing TorchScript (.pt) and/or ONNX (.onnx) files")
    p.add_argument("--weights", type=Path, required=True, help="folder with weights.pt and metadata.json")
    p.add_argument("--out", type=Path, action="append", required=True, help="model file to write; repeatable")
    p.add_argument("--check-images", type=Path, required=True,
                   help="ImageFolder split (e.g. DATA/val) on which the export must match the trained model")

    p = sub.add_parser("evaluate", help="accuracy, per-class precision/recall, confusion matrix")
    p.add_argument("model", type=Path, help="model file, loaded as the service loads it")
    p.add_argument("--split", type=Path, required=True, help="ImageFolder tree, e.g. data/demo/test")
    p.add_argument("--out", type=Path, help="write the report here as JSON")

    p = sub.add_parser("publish", help="upload a model file to S3 with its sha256")
    p.add_argument("model", type=Path)
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", default="models", help="key prefix (the IAM policy grants this prefix)")
    p.add_argument("--force", action="store_true", help="overwrite an existing version")

    args = parser.parse_args(argv)
    if args.command == "synth":
        from training.synth import synth

        counts = synth(args.out, args.per_class, args.seed, args.size)
        print(f"wrote {counts} images under {args.out}")
    elif args.command == "train":
        from training.checkpoint import save_checkpoint
        from training.train import TrainConfig, train

        cfg = TrainConfig(
            data=args.data, architecture=args.architecture, input_size=args.input_size,
            train_size=args.train_size, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            patience=args.patience, seed=args.seed, init_weights=args.init_weights,
        )
        model, meta = train(cfg, args.name, args.version)
        save_checkpoint(model, meta, args.out)
        print(f"wrote {args.out}/weights.pt and metadata.json")
    elif args.command == "export":
        from training.checkpoint import load_checkpoint
        from training.export import export
        from training.train import check_batch

        model, meta = load_checkpoint(args.weights)
        check = check_batch(args.check_images, meta)
        for out in args.out:
            export(model, meta, out, check)
            print(f"wrote {out}")
    elif args.command == "evaluate":
        import json

        from training.evaluate import evaluate, write_report

        report = evaluate(args.model, args.split)
        print(json.dumps(report, indent=2))
        if args.out:
            write_report(report, args.out)
    elif args.command == "publish":
        from training.publish import publish

        print(publish(args.model, args.bucket, force=args.force, prefix=args.prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
