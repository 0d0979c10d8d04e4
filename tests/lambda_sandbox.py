"""Runs the real deployment.zip the way Lambda runs it, as far as this machine allows.

- the zip unpacked into a read-only task root, with nothing else importable but the
  standard library and the runtime's own boto3 (as in Lambda's /var/runtime);
- Python 3.12 (a copy of the install, since pyenv's sits in root's home, which other
  users cannot enter), run as `nobody`, with HOME not writable and TMPDIR the only
  folder it may write to (Lambda's /tmp);
- Lambda's environment variables plus the stage's own, read from the packaged template;
- the handler called with API Gateway REST proxy events and a Lambda context.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from devtools import ROOT

RUNTIME_BOTO3 = "boto3==1.44.8"


def _read_only(tree: Path) -> None:
    """Readable by all, writable by none but root; executables stay executable."""
    for folder, _, files in os.walk(tree):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o555 if os.stat(path).st_mode & 0o100 else 0o444)
        os.chmod(folder, 0o555)


def _python312_install() -> Path:
    from devtools.lambda_build import python312

    return Path(python312()).resolve().parents[1]


class LambdaSandbox:
    def __init__(self, package_dir: Path, extra_env: dict[str, str]) -> None:
        # Under /tmp itself: pytest's own temporary folders are closed to other users.
        self.root = Path(tempfile.mkdtemp(prefix="lambda-parity-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.task = self.root / "var-task"
        with zipfile.ZipFile(package_dir / "deployment.zip") as archive:
            archive.extractall(self.task)
        self.runtime = self.root / "var-runtime"
        lambda_python = ROOT / ".venv-lambda" / "bin" / "python"
        subprocess.run(
            [str(lambda_python), "-m", "pip", "install", "--quiet", "--target", str(self.runtime), RUNTIME_BOTO3],
            check=True,
            capture_output=True,
        )
        shutil.copy(Path(__file__).with_name("lambda_runner.py"), self.runtime / "lambda_runner.py")
        source = _python312_install()
        self.python = self.root / "python3.12"
        shutil.copytree(source / "bin", self.python / "bin", symlinks=True)
        shutil.copytree(
            source / "lib",
            self.python / "lib",
            symlinks=True,
            ignore=shutil.ignore_patterns(
                "test", "tests", "idlelib", "tkinter", "turtledemo", "site-packages", "__pycache__", "pkgconfig"
            ),
        )
        for tree in (self.task, self.runtime, self.python):
            _read_only(tree)
        self.home = self.root / "home"
        self.home.mkdir(mode=0o555)
        self.compiled_from_source: list[str] = []  # by the last invoke: modules without usable bytecode
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(mode=0o700)
        shutil.chown(self.tmp, "nobody", "nogroup")
        template = json.loads((package_dir / "sam.json").read_text())
        function = template["Resources"]["APIHandler"]["Properties"]
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LD_LIBRARY_PATH": str(self.python / "lib"),
            "PYTHONPATH": f"{self.task}:{self.runtime}",
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(self.task),
            "LAMBDA_RUNTIME_DIR": str(self.runtime),
            "_HANDLER": function["Handler"],
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function['Runtime']}",
            "AWS_LAMBDA_FUNCTION_NAME": "donut-or-not-dev",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            **function["Environment"]["Variables"],
            **extra_env,
        }

    def invoke(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One cold process (a fresh container), the events in order, warm after the first."""
        result = subprocess.run(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                str(self.python / "bin" / "python3.12"),
                "-S",
                str(self.runtime / "lambda_runner.py"),
            ],
            input=json.dumps(events),
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.task,
            timeout=300,
        )
        assert result.returncode == 0, f"the handler process failed:\n{result.stderr[-4000:]}"
        from tests.lambda_runner import COMPILED, RESPONSE

        lines = result.stdout.splitlines()
        self.compiled_from_source = json.loads(
            next(line for line in lines if line.startswith(COMPILED)).removeprefix(COMPILED)
        )
        return [json.loads(line.removeprefix(RESPONSE)) for line in lines if line.startswith(RESPONSE)]

    def close(self) -> None:
        for folder, _, _ in os.walk(self.root):
            os.chmod(folder, 0o755)
        shutil.rmtree(self.root)


def can_switch_user() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None and sys.platform == "linux"
