"""What the project's command lines share (`python -m training`, `python -m devtools.renders`):
help that shows each default, checks argparse cannot make, and one line and a non-zero exit
for every mistake, never a traceback."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from chalicelib.settings import usable_cpus

Adder = Callable[..., argparse.ArgumentParser]


def commands(prog: str, description: str | None) -> tuple[argparse.ArgumentParser, Adder]:
    """A parser of subcommands, and what adds one: each sets run (the function that runs it)
    and problem (what argparse cannot check: a message for parser.error, or None)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    return parser, functools.partial(sub.add_parser, formatter_class=ShowDefaults)


def run(parser: argparse.ArgumentParser, argv: list[str] | None, atomic: tuple[str, ...] = ()) -> int:
    """Parses argv and runs the command it names: a mistake is one line and exit status 2,
    Ctrl+C one line and 130. atomic: the commands that write nothing until they are done."""
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
        unwritten = "; nothing written" if args.command in atomic else ""
        print(f"{args.command} stopped by Ctrl+C{unwritten}", file=sys.stderr)
        return 130  # what a shell reports for a command that SIGINT ended
    return 0


class ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in --help, where it has one (not "None", "False" or "[]")."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        shown = not (action.default is None or action.default is False or action.default == [])
        return super()._get_help_string(action) if shown else action.help


def display_name(text: str) -> tuple[str, str]:
    label, equals, words = text.partition("=")
    if not (equals and label and words.strip()):
        raise argparse.ArgumentTypeError(f'{text!r} is not LABEL=WORDS (e.g. city_night="City at night")')
    return label, words.strip()


def no_problem(args: argparse.Namespace) -> None:
    return None


def workers_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers", type=int, default=usable_cpus(), help="render processes: one per CPU this process may use"
    )


def workers_problem(args: argparse.Namespace) -> str | None:
    return "--workers must be 1 or more" if args.workers < 1 else None


def identity_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, label: str) -> None:
    """What the model is called, in its metadata: train's and import's."""
    p.add_argument("--name", required=True, help="the model's name, in its metadata and its S3 key")
    p.add_argument("--version", required=True, help="the model's version, e.g. 1.0.0")
    p.add_argument(
        "--display-name",
        type=display_name,
        action="append",
        default=[],
        metavar="LABEL=WORDS",
        help=f"how the page and the API's display_name write a label (default: {label} with spaces for "
        "underscores); repeatable",
    )
