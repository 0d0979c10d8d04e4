"""Whether a stage's IAM policy lets the function do what its settings ask: read its
MODEL_URI, and with UPLOAD_BUCKET, write (presign) and read its uploads. Checked before
packaging or deploying: in Lambda, a policy that does not would answer every request with
a 503 model_forbidden, or every upload with S3's 403 and a 503 upload_store_error."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from chalicelib.settings import UPLOAD_PREFIX

READ = "s3:GetObject"
WRITE = "s3:PutObject"


@dataclass(frozen=True)
class Need:
    uri: str  # an object the function must reach
    actions: tuple[str, ...]
    folder: str  # the ARN --write-policy grants
    what: str  # what it is for, and what breaks without it


def stage_setting(project: Path, stage: str, name: str) -> str:
    config = json.loads((project / ".chalice" / "config.json").read_text())
    for scope in (config["stages"][stage], config):
        value = scope.get("environment_variables", {}).get(name)
        if value is not None:
            return str(value).strip()
    return ""


def policy_file(project: Path, stage: str) -> Path:
    config = json.loads((project / ".chalice" / "config.json").read_text())
    return project / ".chalice" / config["stages"][stage].get("iam_policy_file", f"policy-{stage}.json")


def object_arn(uri: str) -> str:
    parsed = urlparse(uri)
    return f"arn:aws:s3:::{parsed.netloc}{parsed.path}"


def grants(policy: dict, uri: str, action: str = READ) -> bool:
    arn = object_arn(uri)
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if (
            statement.get("Effect") == "Allow"
            and any(fnmatch.fnmatchcase(action, a) for a in actions)
            and any(fnmatch.fnmatchcase(arn, r) for r in resources)
        ):
            return True
    return False


def needs(project: Path, stage: str) -> list[Need]:
    found = []
    uri = stage_setting(project, stage, "MODEL_URI")
    if urlparse(uri).scheme == "s3":  # not file:// (local tries) or unset (a 503 model_not_configured)
        found.append(
            Need(
                uri,
                (READ,),
                object_arn(uri).rsplit("/", 1)[0] + "/*",
                f"read its MODEL_URI {uri}: in Lambda every request would be a 503 model_forbidden",
            )
        )
    bucket = stage_setting(project, stage, "UPLOAD_BUCKET")
    if bucket:
        found.append(
            Need(
                f"s3://{bucket}/{UPLOAD_PREFIX}{'0' * 32}",
                (WRITE, READ),
                f"arn:aws:s3:::{bucket}/{UPLOAD_PREFIX}*",
                f"take uploads into its UPLOAD_BUCKET {bucket}: S3 would refuse every POST /uploads form",
            )
        )
    return found


def check(project: Path, stage: str, write: bool) -> None:
    """SystemExit, saying what to do, when the stage's policy does not grant what its
    settings need; write: add a statement that grants it instead, and say so."""
    path = policy_file(project, stage)
    policy = json.loads(path.read_text())
    added = []
    for need in needs(project, stage):
        if all(grants(policy, need.uri, action) for action in need.actions):
            continue
        granted = f"{', '.join(need.actions)} on {need.folder}"
        if not write:
            raise SystemExit(
                f"{path.relative_to(project)} does not let the {stage} stage {need.what}. Grant {granted} "
                "there, or pass --write-policy to add it"
            )
        policy.setdefault("Statement", []).append(
            {"Effect": "Allow", "Action": list(need.actions), "Resource": [need.folder]}
        )
        added.append(granted)
    if added:  # one write for every statement added
        path.write_text(policy_json(policy) + "\n")
        for granted in added:
            print(f"added {granted} to {path.relative_to(project)}", flush=True)


def policy_json(value: object, indent: str = "") -> str:
    """JSON in the policy files' own layout (objects one key a line, lists of strings on
    one line), so that --write-policy adds its lines and changes no other."""
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(key)}: {policy_json(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}" if items else "{}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(inner + policy_json(item, inner) for item in value) + f"\n{indent}]"
    return json.dumps(value)
