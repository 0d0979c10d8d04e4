"""python -m devtools.renders COMMAND: the demo's data, made by this project: renders of its
three foods (Pillow's 2D drawings or Blender's Cycles), of other foods it must refuse, and
how photographic the renders look to ImageNet's head."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.cli import Adder, commands, no_problem, run, workers_option, workers_problem


def main(argv: list[str] | None = None) -> int:
    parser, add = commands("python -m devtools.renders", __doc__)
    for options in (_synth_options, _other_foods_options, _realism_options):
        options(add)
    return run(parser, argv)


def _synth_options(add: Adder) -> None:
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
        "photographs of procedural scenes, 7 s to 20 s per 256 px image per worker by the CPU, in .venv-render "
        "(made on first use, about 1 GB)",
    )
    p.add_argument("--samples", type=int, default=16, help="with --renderer blender: path-tracing samples per pixel")
    workers_option(p)
    p.set_defaults(run=_synth, problem=workers_problem)


def _realism_options(add: Adder) -> None:
    p = add(
        "realism",
        help="how photographic renders look to ImageNet's head, per class: where it puts them, "
        "their food mass, how tightly their features cluster",
    )
    p.add_argument("data", type=Path, help="class folders, or a tree whose train/ holds them")
    p.add_argument("--out", type=Path, help="write the figures as JSON here too")
    p.set_defaults(run=_realism, problem=no_problem)


def _other_foods_options(add: Adder) -> None:
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
    workers_option(p)
    p.set_defaults(run=_other_foods, problem=_other_foods_problem)


def _other_foods_problem(args: argparse.Namespace) -> str | None:
    return "--per-kind must be 1 or more" if args.per_kind < 1 else workers_problem(args)


def _synth(args: argparse.Namespace) -> None:
    from devtools.renders.pillow import synth

    counts = synth(args.out, args.per_class, args.seed, args.size, args.workers, args.renderer, args.samples)
    print(f"wrote {counts} images under {args.out}")


def _realism(args: argparse.Namespace) -> None:
    import json

    from devtools.renders.realism import realism, summary

    report = realism(args.data)
    print("\n".join(summary(report)))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


def _other_foods(args: argparse.Namespace) -> None:
    from devtools.renders.blender import render_other_foods

    count = render_other_foods(args.out, args.per_kind, args.seed, args.size, args.samples, args.workers)
    print(f"wrote {count} images to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
