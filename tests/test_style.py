"""The code's style (ruff: pyflakes, pycodestyle, import order; settings in pyproject.toml)
and the annotations of what the Lambda runs (mypy on app.py and chalicelib/)."""

from __future__ import annotations

import subprocess
import sys

from devtools import ROOT


def check(*argv: str) -> None:
    result = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing() -> None:
    check("ruff", "check", "app.py", "chalicelib", "training", "devtools", "bench", "tests")


def test_mypy_finds_nothing_in_what_the_lambda_runs() -> None:
    check("mypy")
