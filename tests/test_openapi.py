"""openapi.json stays true to the app: its routes, request types and response bodies,
checked by validating real responses and by a bounded schemathesis run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import app as service
import pytest
from chalicelib.uploads import ACCEPTED_TYPES
from devtools import ROOT

pytestmark = pytest.mark.slow

SPEC = json.loads((ROOT / "openapi.json").read_text())


def test_the_description_lists_exactly_the_routes_and_upload_types() -> None:
    routes = {(path, method.lower()) for path, methods in service.app.routes.items() for method in methods}
    described = {(path, method) for path, methods in SPEC["paths"].items() for method in methods}
    assert described == routes
    assert set(SPEC["paths"]["/predict"]["post"]["requestBody"]["content"]) == set(ACCEPTED_TYPES)


def test_schemathesis_finds_no_server_error_and_no_response_off_the_schema(server: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(ROOT / "tests" / "schemathesis.toml"),
            "run",
            str(ROOT / "openapi.json"),
            "--url",
            server,
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
            "--max-examples",
            "40",
            "--seed",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
