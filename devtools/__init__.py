"""Tools for developing, serving locally, packaging and measuring the project; never packaged."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the project's root folder


def size_text(size: float) -> str:
    """A file's or a folder's size in bytes, as a person reads it."""
    return next(
        f"{size / 1024**power:.1f} {unit}"
        for power, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB"))
        if size >= 1024**power or unit == "KiB"
    )
