"""Tools for developing, serving locally, packaging and measuring the project; never packaged."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the project's root folder
