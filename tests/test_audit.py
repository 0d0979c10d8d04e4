"""./scripts/audit says what it checked: the packages it audited and those it could not
(here, every one: PyPI's per-release API answers 404 and OSV is unreachable), never a bare
"No known vulnerabilities found" over a list of packages nobody looked at."""

from __future__ import annotations

import subprocess

import pytest
from devtools import ROOT

pytestmark = pytest.mark.slow


def test_the_audit_names_what_it_could_not_audit() -> None:
    ran = subprocess.run(["./scripts/audit"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    said = ran.stdout.strip().splitlines()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "No known vulnerabilities found" not in ran.stdout
    assert said and all(line.startswith(("audited ", "skipped ")) for line in said)
    assert sum(int(line.split()[1]) for line in said) == int(said[0].split()[3])  # audited + skipped = all
