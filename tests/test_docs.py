"""The README's error and configuration tables and openapi.json's error codes, tied to the
code: a code raised, a setting read or a stage value changed without the documents (or
the other way round) fails here."""

from __future__ import annotations

import json
import re

import pytest
from chalicelib import errors
from chalicelib.settings import Settings
from chalicelib.uploads import ACCEPTED_TYPES
from devtools import ROOT

README = (ROOT / "README.md").read_text()
ERROR_TYPES: list[type[errors.ApiError]] = [errors.ApiError, *errors.ApiError.__subclasses__()]
ERROR_CLASSES = "|".join(cls.__name__ for cls in ERROR_TYPES)


def table(heading: str) -> list[list[str]]:
    """The rows of the README table whose header row starts with heading."""
    lines = README[README.index(heading) :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def raised_codes() -> dict[int, set[str]]:
    """Every error code the service's code raises, by HTTP status: each raise site names a
    chalicelib.errors.Code, never a bare string."""
    found: dict[int, set[str]] = {}
    for source in [*(ROOT / "chalicelib").glob("*.py"), ROOT / "app.py"]:
        text = source.read_text()
        assert not re.findall(rf"\b({ERROR_CLASSES})\(\s*\"", text), f"{source.name} raises an error with a bare code"
        for name, constant in re.findall(rf"\b({ERROR_CLASSES})\(\s*Code\.([A-Z_]+)", text):
            found.setdefault(getattr(errors, name).status, set()).add(getattr(errors.Code, constant))
    return found


def test_every_code_is_raised_somewhere() -> None:
    named = {value for name, value in vars(errors.Code).items() if name.isupper()}
    assert named == set().union(*raised_codes().values())


def test_the_error_table_lists_exactly_the_codes_the_code_raises() -> None:
    documented = {
        int(status): set(re.findall(r"`([a-z_]+)`", codes)) for status, codes, _ in table("| status | codes |")
    }
    assert documented == raised_codes()


def test_openapi_enumerates_the_same_error_codes() -> None:
    spec = json.loads((ROOT / "openapi.json").read_text())
    enum = spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert set(enum) == set().union(*raised_codes().values())


def configuration() -> dict[str, list[str]]:
    documented = {}
    for row in table("| variable | default |"):
        name = re.fullmatch(r"`(\w+)`", row[0])
        assert name, f"not a variable's name: {row[0]}"
        documented[name[1]] = row[1:4]
    return documented


def value(cell: str) -> str | None:
    """A table cell as the environment would hold it; None for "default" (unset)."""
    return {"empty": "", "default": None}.get(cell, cell.strip("`"))


def test_the_configuration_table_lists_every_setting_the_code_reads() -> None:
    read = set(re.findall(r'env\.get\("(\w+)"', (ROOT / "chalicelib" / "settings.py").read_text()))
    read.discard("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # Lambda's own, not a setting of ours
    assert set(configuration()) == read


@pytest.mark.parametrize("variable", sorted(configuration()))
def test_each_documented_default_is_the_codes_default(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)  # MODEL_CACHE_DIR's default is in the system's temporary folder
    default = value(configuration()[variable][0])
    documented = {} if default is None else {variable: default}
    assert Settings.from_env(documented) == Settings.from_env({})


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_stage_columns_are_config_json(stage: str) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    actual = {**config["environment_variables"], **config["stages"][stage].get("environment_variables", {})}
    column = 1 if stage == "dev" else 2
    documented = {variable: value(cells[column]) for variable, cells in configuration().items()}
    assert {k: v for k, v in documented.items() if v is not None} == actual


def section(heading: str) -> str:
    """The README's text under a heading, up to the next heading of its level or above."""
    level = heading.split(" ")[0]
    lines = README.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if re.match(rf"#{{1,{len(level)}}} ", lines[i])), len(lines))
    return "\n".join(lines[start + 1 : end])


def test_the_readme_names_exactly_the_accepted_upload_types() -> None:
    named = set(re.findall(r"`([a-z]+/[a-z0-9+.-]+)`", section("### `POST /predict`")))
    assert set(ACCEPTED_TYPES) <= named  # the section also names curl's default form type, a 415
    assert {kind for kind in named if kind.startswith("image/")} <= set(ACCEPTED_TYPES)


def test_the_readme_lists_every_field_of_get_model() -> None:
    from chalicelib.model_store import LoadedModel
    from chalicelib.runtimes import load_runtime

    fields = LoadedModel(load_runtime(ROOT / "demo" / "model" / "model.onnx"), "", "", "", {}).describe()
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### `GET /model`") : readme.index("### `GET /health`")]
    assert [field for field in fields if f"`{field}`" not in section] == []


def test_the_readme_stays_short_enough_to_read() -> None:
    """Details live in docs/; the README keeps what a user needs first (issue 32: under 320 lines)."""
    assert len(README.splitlines()) < 320
