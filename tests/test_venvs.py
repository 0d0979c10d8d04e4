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
