"""What `chalice deploy` would create, checked offline: the SAM templates (validated by
cfn-lint), Terraform output, the IAM policy, and the container route's merged template."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from chalicelib.settings import UPLOAD_PREFIX
from chalicelib.uploads import ACCEPTED_TYPES
from devtools import ROOT, lambda_build
from devtools.local_chalice import copy_project
from devtools.policy import check as check_policy
from devtools.policy import grants

from tests.support import build_package, cfn_lint

pytestmark = pytest.mark.py312

API_GATEWAY_TIMEOUT_S = 29


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("prod"), "--stage", "prod")


@pytest.fixture(scope="module")
def batch_terraform(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = copy_project(tmp_path_factory.mktemp("batch-project"), {"BATCH_BUCKET": "donut-or-not-dev-batch"})
    out = build_package(
        tmp_path_factory.mktemp("terraform"), "--project-dir", str(project), "--pkg-format", "terraform"
    )
    return json.loads((out / "chalice.tf.json").read_text())["resource"]


def sam(package: Path) -> dict[str, Any]:
    return json.loads((package / "sam.json").read_text())


def test_sam_templates_pass_cfn_lint(package: Path, prod: Path) -> None:
    cfn_lint(package / "sam.json")
    cfn_lint(prod / "sam.json")


def test_every_accepted_upload_type_is_binary(package: Path) -> None:
    swagger = sam(package)["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert set(ACCEPTED_TYPES) <= set(swagger["x-amazon-apigateway-binary-media-types"])


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_function_settings(package: Path, prod: Path, stage: str) -> None:
    function = sam(package if stage == "dev" else prod)["Resources"]["APIHandler"]["Properties"]
    assert function["Runtime"] == "python3.12" and function["Handler"] == "app.app"
    assert function["MemorySize"] == 1769  # one full vCPU: docs/deploying.md
    assert function["Timeout"] < API_GATEWAY_TIMEOUT_S
    variables = function["Environment"]["Variables"]
    assert variables["MODEL_URI"] == f"s3://donut-or-not-{stage}/models/donut-bagel-vada/3.4.0/model.onnx"
    assert variables["CORS_ALLOW_ORIGIN"] == "" and variables["BATCH_BUCKET"] == ""
    # A request waits for the model at most MODEL_WAIT_S, then gets a 503 (the load goes
    # on): with seconds to spare for the answer itself, Lambda never has to cut it off.
    assert float(variables["MODEL_WAIT_S"]) + 5 <= function["Timeout"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_iam_policy_reads_the_model_prefix_takes_uploads_and_nothing_else(
    package: Path, prod: Path, stage: str
) -> None:
    template = sam(package if stage == "dev" else prod)
    [policy] = template["Resources"]["ApiHandlerRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    uri, uploads = urlparse(variables["MODEL_URI"]), variables["UPLOAD_BUCKET"]
    s3 = [s for s in statements if any(a.startswith("s3:") for a in s["Action"])]
    assert [(s["Action"], s["Resource"]) for s in s3] == [
        (["s3:GetObject"], [f"arn:aws:s3:::{uri.netloc}/models/*"]),
        # Presigned forms are signed with the function's role: S3 lets them write only here.
        (["s3:PutObject", "s3:GetObject"], [f"arn:aws:s3:::{uploads}/{UPLOAD_PREFIX}*"]),
    ]
    assert grants(policy["PolicyDocument"], variables["MODEL_URI"])
    assert not grants(policy["PolicyDocument"], f"s3://{uploads}/results/x.json", "s3:PutObject")
    others = [a for s in statements if s not in s3 for a in s["Action"]]
    assert set(others) == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert all(r.startswith("arn:aws:logs:") for s in statements if s not in s3 for r in s["Resource"])


def test_packaging_refuses_an_upload_bucket_the_policy_does_not_grant(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project", {"UPLOAD_BUCKET": "my-own-uploads"})
    with pytest.raises(
        SystemExit, match="does not let the dev stage take uploads into its UPLOAD_BUCKET my-own-uploads"
    ):
        check_policy(project, "dev", write=False)
    check_policy(project, "dev", write=True)
    after = json.loads((project / ".chalice" / "policy-dev.json").read_text())
    assert after["Statement"][-1] == {
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:GetObject"],
        "Resource": [f"arn:aws:s3:::my-own-uploads/{UPLOAD_PREFIX}*"],
    }
    check_policy(project, "dev", write=False)  # granted now: no complaint


def test_packaging_refuses_a_model_uri_the_policy_does_not_grant(tmp_path: Path) -> None:
    elsewhere = "s3://my-own-bucket/models/my-model/1.0.0/model.onnx"
    project = copy_project(tmp_path / "project", {"MODEL_URI": elsewhere})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.lambda_build",
            "package",
            "--project-dir",
            str(project),
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0 and not (tmp_path / "out").exists()
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f".chalice/policy-dev.json does not let the dev stage read its MODEL_URI {elsewhere}")
    )
    assert "Traceback" not in result.stderr


def test_write_policy_grants_the_model_folder_and_nothing_more(tmp_path: Path) -> None:
    elsewhere = "s3://my-own-bucket/models/my-model/1.0.0/model.onnx"
    project = copy_project(tmp_path / "project", {"MODEL_URI": elsewhere})
    text = (project / ".chalice" / "policy-dev.json").read_text()
    before = json.loads(text)
    check_policy(project, "dev", write=True)
    written = (project / ".chalice" / "policy-dev.json").read_text()
    after = json.loads(written)
    # The file's own layout kept: its lines up to the last statement's end are untouched.
    kept = text[: text.rindex("}", 0, text.rindex("]"))]
    assert written.startswith(kept) and written.count("\n") == text.count("\n") + 5
    assert after["Statement"][:-1] == before["Statement"] and grants(after, elsewhere)
    assert after["Statement"][-1] == {
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::my-own-bucket/models/my-model/1.0.0/*"],
    }
    assert not grants(after, "s3://my-own-bucket/other/model.onnx")
    check_policy(project, "dev", write=False)  # granted now: no complaint


def test_cors_is_off_unless_configured(package: Path, tmp_path: Path) -> None:
    paths = sam(package)["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert not [p for p, methods in paths.items() if "options" in methods]
    project = copy_project(tmp_path / "project", {"CORS_ALLOW_ORIGIN": "https://donuts.example.org"})
    with_cors = sam(build_package(tmp_path / "out", "--project-dir", str(project)))
    paths = with_cors["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    preflight = json.dumps(paths["/predict"]["options"])
    assert "https://donuts.example.org" in preflight


def test_terraform_carries_the_api_and_the_s3_batch_trigger(batch_terraform: dict[str, Any]) -> None:
    functions = batch_terraform["aws_lambda_function"]
    assert functions["api_handler"]["runtime"] == "python3.12"
    assert functions["classify_upload"]["handler"] == "app.classify_upload"
    assert {f["memory_size"] for f in functions.values()} == {1769}
    [notification] = batch_terraform["aws_s3_bucket_notification"].values()
    assert notification["bucket"] == "donut-or-not-dev-batch"
    assert notification["lambda_function"][0]["filter_prefix"] == "incoming/"
    assert set(ACCEPTED_TYPES) <= set(batch_terraform["aws_api_gateway_rest_api"]["rest_api"]["binary_media_types"])
    batch_policy = json.loads(json.dumps(batch_terraform["aws_iam_role_policy"]["classify_upload_role"]["policy"]))
    assert "donut-or-not-dev-batch/results/*" in batch_policy and "s3:PutObject" in batch_policy


def test_sam_cannot_express_s3_events_on_an_existing_bucket(tmp_path: Path) -> None:
    """Why BATCH_BUCKET is empty in the stages by default: docs/deploying.md, "S3-event batch classification"."""
    project = copy_project(tmp_path / "project", {"BATCH_BUCKET": "donut-or-not-dev-batch"})
    with pytest.raises(subprocess.CalledProcessError):
        build_package(tmp_path / "out", "--project-dir", str(project))


def test_container_route_template_passes_cfn_lint(tmp_path: Path) -> None:
    out = build_package(tmp_path / "out", "--merge-template", str(ROOT / "deploy" / "container" / "sam-merge.json"))
    cfn_lint(out / "sam.json")
    function = sam(out)["Resources"]["APIHandler"]["Properties"]
    assert function["PackageType"] == "Image" and function["ImageUri"] == {"Ref": "ImageUri"}
    assert function["Runtime"] is None and function["Handler"] is None and function["CodeUri"] is None
    dockerfile = (ROOT / "deploy" / "container" / "Dockerfile").read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12" in dockerfile and 'CMD ["app.app"]' in dockerfile


def test_prod_caps_its_concurrency_and_dev_does_not(package: Path, prod: Path) -> None:
    """A cost and abuse guard for a public endpoint (README, "Deploying")."""
    assert sam(prod)["Resources"]["APIHandler"]["Properties"]["ReservedConcurrentExecutions"] == 20
    assert "ReservedConcurrentExecutions" not in sam(package)["Resources"]["APIHandler"]["Properties"]


def test_api_key_is_off_by_default_and_switchable_per_stage(package: Path, tmp_path: Path) -> None:
    def predict_security(template: dict[str, Any]) -> Any:
        return template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]["/predict"]["post"].get(
            "security"
        )

    assert predict_security(sam(package)) is None
    project = copy_project(tmp_path / "project", {"API_KEY_REQUIRED": "true"})
    keyed = sam(build_package(tmp_path / "out", "--project-dir", str(project)))
    assert predict_security(keyed) == [{"api_key": []}]
    cfn_lint(tmp_path / "out" / "sam.json")


def test_the_container_ships_the_torch_the_benchmark_measures() -> None:
    """One torch pin for the container route: the Dockerfile's is devtools.venvs.TORCH_CPU."""
    from devtools.venvs import TORCH_CPU

    dockerfile = (ROOT / "deploy" / "container" / "Dockerfile").read_text()
    assert re.findall(r"\btorch==[\w.]+", dockerfile) == [TORCH_CPU]


def test_deploy_without_credentials_says_so_in_one_line(tmp_path: Path) -> None:
    """./scripts/deploy as written, where no credentials are: no ~/.aws, no AWS_* variables,
    no instance metadata (disabled, as no EC2 is here)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    # A HOME of its own hides ~/.aws, and pyenv's Python 3.12 with it: that one is put on PATH.
    python312 = Path(lambda_build.python312()).parent
    env.update(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true", PATH=f"{python312}:{env['PATH']}")
    result = subprocess.run(["./scripts/deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: no AWS credentials found: run `aws configure`")
