"""Whether a stage's IAM policy lets the function read the stage's MODEL_URI. Checked before
packaging or deploying: in Lambda, a policy that does not would answer every request with
a 503 model_forbidden."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from urllib.parse import urlparse

READ = "s3:GetObject"


def stage_model_uri(project: Path, stage: str) -> str:
    config = json.loads((project / ".chalice" / "config.json").read_text())
    for scope in (config["stages"][stage], config):
        uri = scope.get("environment_variables", {}).get("MODEL_URI")
        if uri is not None:
            return uri
    return ""


def policy_file(project: Path, stage: str) -> Path:
    config = json.loads((project / ".chalice" / "config.json").read_text())
    return project / ".chalice" / config["stages"][stage].get("iam_policy_file", f"policy-{stage}.json")


def object_arn(uri: str) -> str:
    parsed = urlparse(uri)
    return f"arn:aws:s3:::{parsed.netloc}{parsed.path}"


def grants(policy: dict, uri: str) -> bool:
    arn = object_arn(uri)
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if (
            statement.get("Effect") == "Allow"
            and any(fnmatch.fnmatchcase(READ, a) for a in actions)
            and any(fnmatch.fnmatchcase(arn, r) for r in resources)
        ):
            return True
    return False


def check(project: Path, stage: str, write: bool) -> None:
    """SystemExit, saying what to do, when the stage's policy does not grant its s3:// MODEL_URI;
    write: add a statement that grants the model's folder instead, and say so."""
    uri = stage_model_uri(project, stage)
    if urlparse(uri).scheme != "s3":
        return  # file:// (local tries) or unset (every request a 503 model_not_configured)
    path = policy_file(project, stage)
    policy = json.loads(path.read_text())
    if grants(policy, uri):
        return
    folder = object_arn(uri).rsplit("/", 1)[0] + "/*"
    if not write:
        raise SystemExit(
            f"{path.relative_to(project)} does not let the {stage} stage read its MODEL_URI {uri}: "
            f"in Lambda every request would be a 503 model_forbidden. Grant {READ} on {folder} there, "
            "or pass --write-policy to add it"
        )
    policy.setdefault("Statement", []).append({"Effect": "Allow", "Action": [READ], "Resource": [folder]})
    path.write_text(policy_json(policy) + "\n")
    print(f"added {READ} on {folder} to {path.relative_to(project)}", flush=True)


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
