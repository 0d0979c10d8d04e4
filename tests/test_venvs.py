"""The environments ./scripts/bootstrap and the tools make: what they say while they do it."""

from pathlib import Path

import pytest
from devtools.venvs import ensure_venv


def test_an_environment_says_each_step_once_and_then_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    venv = tmp_path / ".venv-tiny"
    ensure_venv(venv, "python3.11", ["pip"])  # already in every venv: nothing to download
    said = capsys.readouterr().out.splitlines()
    assert said[0] == ".venv-tiny: making the environment (python3.11)"
    assert said[1].startswith(".venv-tiny: installing pip (minutes the first time")
    assert said[2].startswith(".venv-tiny: ready in ") and said[2].endswith(" MiB on disk")
    assert len(said) == 3
    ensure_venv(venv, "python3.11", ["pip"])
    assert capsys.readouterr().out == ""


def test_an_install_says_its_steps_as_it_reaches_them(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """From the package registry, as bootstrap installs: a line per step, not pip's output."""
    ensure_venv(tmp_path / ".venv-six", "python3.11", ["six==1.17.0"])
    said = capsys.readouterr().out.splitlines()
    collected = ".venv-six: collecting packages, 1 so far"
    assert said[2] in (f"{collected} (six==1.17.0)", f"{collected} (six)")  # from an index, or a local wheel
    assert said[3] == ".venv-six: installing 1 package (the longest step: unpacking them all)"
    assert said[4].startswith(".venv-six: ready in ") and len(said) == 5
