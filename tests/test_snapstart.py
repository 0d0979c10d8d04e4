"""SnapStart for prod: the runtime hooks, run through the real snapshot_restore_py as the
Lambda runtime runs them, and the merged SAM template that publishes a version, aliases
it and points API Gateway at the alias."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Callable

import pytest
import snapshot_restore_py
from chalice.test import Client
from devtools import ROOT

from tests import imagefiles as f
from tests.support import app_for, build_package, cfn_lint

pytestmark = pytest.mark.py312

MERGE_TEMPLATE = ROOT / "deploy" / "snapstart" / "sam-merge.json"


def hooks(registry: list[tuple[Callable[..., Any], tuple, dict]]) -> list[Callable[[], Any]]:
    return [functools.partial(func, *args, **kwargs) for func, args, kwargs in registry]


def test_before_the_snapshot_the_model_is_loaded_so_a_restored_container_answers_warm(
    model_uri: str, tmp_path: Path
) -> None:
    before = len(snapshot_restore_py.get_before_snapshot())
    service = app_for({"MODEL_URI": model_uri, "MODEL_CACHE_DIR": str(tmp_path / "cache")})
    [load] = hooks(snapshot_restore_py.get_before_snapshot()[before:])
    assert service.store.loaded is None
    load()  # what Lambda runs before it takes the snapshot
    assert service.store.loaded is not None
    response = Client(service.app, project_dir=str(ROOT)).http.post(
        "/predict", headers={"Content-Type": "image/jpeg"}, body=f.jpeg(f.RED)
    )
    answer = json.loads(response.body)
    assert answer["label"] == "red" and answer["cold_start"] is False


def test_after_a_restore_the_batch_handlers_client_is_made_again(model_uri: str, bucket: str, tmp_path: Path) -> None:
    before = len(snapshot_restore_py.get_after_restore())
    service = app_for({"MODEL_URI": model_uri, "BATCH_BUCKET": bucket, "MODEL_CACHE_DIR": str(tmp_path)})
    from chalicelib.s3_client import s3_client

    made_before_snapshot = s3_client(service.settings)
    for restore in hooks(snapshot_restore_py.get_after_restore()[before:]):
        restore()
    assert s3_client(service.settings) is not made_before_snapshot  # with the restored environment's credentials


@pytest.fixture(scope="module")
def snapstart_sam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = build_package(
        tmp_path_factory.mktemp("snapstart"), "--stage", "prod", "--merge-template", str(MERGE_TEMPLATE)
    )
    return out / "sam.json"


def test_the_snapstart_template_passes_cfn_lint(snapstart_sam: Path) -> None:
    cfn_lint(snapstart_sam)


def test_api_gateway_invokes_the_alias_of_a_published_snapstart_version(snapstart_sam: Path) -> None:
    resources = json.loads(snapstart_sam.read_text())["Resources"]
    function = resources["APIHandler"]["Properties"]
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"} and function["AutoPublishAlias"] == "live"
    assert function["Runtime"] == "python3.12"
    # SnapStart never serves $LATEST, which the unqualified function name means.
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandler.Alias"}
    paths = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    integrations = {
        (path, verb): method["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path, route in paths.items()
        for verb, method in route.items()
    }
    import app

    # Every route: one added to app.py must be added to the merge template too.
    assert set(integrations) == {(path, verb.lower()) for path, verbs in app.app.routes.items() for verb in verbs}
    assert all("${APIHandler.Alias}/invocations" in uri for uri in integrations.values())
