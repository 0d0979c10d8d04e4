"""Builds what the python3.12 Lambda runs: `package` (chalice package) and `deploy` (chalice deploy).

Chalice picks the Lambda runtime from the Python that runs it, so both run from
.venv-lambda, a Python 3.12 environment: the zip then holds manylinux wheels for Amazon
Linux 2023. ONNX Runtime is not in requirements.txt: its wheel carries a 29 MB C-API
library and tooling that `import onnxruntime` never loads, which would push the zip past
Lambda's direct-upload limit. It is unpacked, trimmed, into vendor/, which Chalice ships as is.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from devtools import ROOT, size_text
from devtools.policy import check as check_policy
from devtools.policy import stage_setting
from devtools.venvs import ensure_venv, pin, pip

LAMBDA_VENV = ROOT / ".venv-lambda"
VENDOR = ROOT / "vendor"
VENDORED_REQUIREMENTS = ROOT / "requirements-vendored.txt"
# Parts of the onnxruntime wheel that inference never imports or loads.
ORT_UNUSED = (
    "onnxruntime/capi/libonnxruntime.so.",  # the C API library; the Python module is self-contained
    "onnxruntime/transformers/",
    "onnxruntime/quantization/",
    "onnxruntime/tools/",
    "onnxruntime/ThirdPartyNotices.txt",  # kept in the dist-info licence files
)


def python312() -> str:
    """Python 3.12 from PATH, or pyenv's install when its shim is not active."""
    candidates = [shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    raise SystemExit("Python 3.12 is needed to build for the python3.12 Lambda runtime; none was found")


def ensure_lambda_venv() -> Path:
    """.venv-lambda: Python 3.12 with chalice and the app's requirements (chalice imports app.py)."""
    return ensure_venv(LAMBDA_VENV, python312(), [pin("chalice"), "-r requirements.txt"])


def vendor_onnxruntime(python: Path) -> None:
    """Unpacks the pinned onnxruntime cp312 manylinux wheel into vendor/, minus ORT_UNUSED
    (downloaded by python's pip: the Python running this may have none)."""
    pins = [
        line.strip()
        for line in VENDORED_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    stamp = VENDOR / ".vendored"
    if stamp.exists() and stamp.read_text() == "\n".join(pins):
        return
    with tempfile.TemporaryDirectory() as downloads:
        pip(
            str(python),
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            "3.12",
            "--platform",
            "manylinux_2_28_x86_64",
            "-d",
            downloads,
            *pins,
        )
        if VENDOR.exists():
            shutil.rmtree(VENDOR)
        VENDOR.mkdir()
        for wheel in Path(downloads).glob("*.whl"):
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.infolist():
                    if not member.filename.startswith(ORT_UNUSED):
                        archive.extract(member, VENDOR)
                        mode = member.external_attr >> 16
                        if mode:
                            os.chmod(VENDOR / member.filename, mode)
    stamp.write_text("\n".join(pins))


def chalice(*args: str, project: Path = ROOT) -> None:
    """Runs chalice from .venv-lambda on project (this one, or a copy with another config)."""
    venv = ensure_lambda_venv()
    vendor_onnxruntime(venv / "bin" / "python")
    if project != ROOT:
        shutil.copytree(VENDOR, project / "vendor", dirs_exist_ok=True)
    # Chalice zips chalicelib/ as it finds it: bytecode from local runs would ship too.
    for cache in (project / "chalicelib").rglob("__pycache__"):
        shutil.rmtree(cache)
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "PYTHONPATH": str(ROOT),
    }  # for devtools.chalice_bytecode: Chalice, with .pyc files in the zip
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "devtools.chalice_bytecode", "--project-dir", str(project), *args],
        cwd=project,
        env=env,
        check=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("package", help="chalice package: SAM template (or Terraform) + deployment.zip")
    p.add_argument("--stage", default="dev")
    p.add_argument("--pkg-format", choices=("cloudformation", "terraform"), default="cloudformation")
    p.add_argument("--merge-template", type=Path, help="JSON/YAML merged into the SAM template")
    p.add_argument("--project-dir", type=Path, default=ROOT)
    p.add_argument("out", type=Path)
    p = sub.add_parser("deploy", help="chalice deploy (needs AWS credentials)")
    p.add_argument("--stage", default="dev")
    p.set_defaults(project_dir=ROOT)
    for p in sub.choices.values():
        p.add_argument(
            "--write-policy",
            action="store_true",
            help="add what the stage's settings need (its MODEL_URI's folder, its uploads) to its policy",
        )
    args = parser.parse_args()
    check_policy(args.project_dir.resolve(), args.stage, write=args.write_policy)
    if args.command == "package":
        extra = ["--merge-template", str(args.merge_template.resolve())] if args.merge_template else []
        chalice(
            "package",
            "--stage",
            args.stage,
            "--pkg-format",
            args.pkg_format,
            *extra,
            str(args.out.resolve()),
            project=args.project_dir.resolve(),
        )
        print(packaged(args.out, args.pkg_format))
    else:
        require_credentials()
        ready_upload_bucket(args.project_dir, args.stage)
        chalice("deploy", "--stage", args.stage)
    return 0


def packaged(out: Path, pkg_format: str) -> str:
    """What package wrote and what comes next (Chalice itself says only "Reusing existing
    deployment package")."""
    files = ", ".join(f"{path} ({size_text(path.stat().st_size)})" for path in sorted(out.iterdir()) if path.is_file())
    then = (
        f"terraform init && terraform apply in {out}"
        if pkg_format == "terraform"
        else f"sam deploy -t {out / 'sam.json'} --guided (or aws cloudformation package, then deploy)"
    )
    return f"wrote {files}; next, with AWS credentials: {then}"


def ready_upload_bucket(project: Path, stage: str) -> None:
    """Before the API goes live: the stage's UPLOAD_BUCKET exists and deletes old uploads."""
    bucket = stage_setting(project, stage, "UPLOAD_BUCKET")
    if bucket and make_upload_bucket_ready(bucket).returncode:
        raise SystemExit(1)  # it said why


def make_upload_bucket_ready(bucket: str, **run: Any) -> subprocess.CompletedProcess[str]:
    """devtools.upload_bucket in .venv-lambda (botocore as Chalice has it), with this
    environment's credentials and endpoint; run: subprocess.run's other arguments."""
    python = ensure_lambda_venv() / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([str(python), "-m", "devtools.upload_bucket", bucket], env=env, text=True, **run)


def require_credentials() -> None:
    """Exits in one line where botocore, as Chalice uses it (in .venv-lambda), finds no AWS
    credentials: Chalice would fail only after building the zip, in two tracebacks."""
    found = "import botocore.session, sys; sys.exit(botocore.session.get_session().get_credentials() is None)"
    if subprocess.run([str(ensure_lambda_venv() / "bin" / "python"), "-c", found]).returncode:
        raise SystemExit(
            "error: no AWS credentials found: run `aws configure` (or set AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then ./scripts/deploy again"
        )


if __name__ == "__main__":
    sys.exit(main())
