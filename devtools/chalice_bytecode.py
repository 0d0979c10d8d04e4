"""`chalice`, with bytecode in the deployment zip. devtools/lambda_build.py runs it in
place of the `chalice` command, with .venv-lambda's Python 3.12: the Lambda's own.

Lambda's code folder is read-only, so Python cannot cache bytecode there, and from a zip
without .pyc files every cold start compiles numpy, ONNX Runtime and the app from source
again: importing them took 0.73 to 0.89 s instead of 0.22 to 0.29 s (the unpacked zip,
Python 3.12, this machine). Chalice has no option for it, so its packager is wrapped:
every .py in the zip gets an unchecked-hash .pyc, valid whatever timestamps unzipping
gives the files. Chalice is pinned (requirements-dev.txt); a test checks the result.
"""

from __future__ import annotations

import functools
import importlib.util
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

from chalice.cli import main
from chalice.deploy.packager import BaseLambdaDeploymentPackager, LambdaDeploymentPackager


def add_bytecode(zip_path: str) -> None:
    """Adds the missing .pyc of each .py in the zip (the running Python's version)."""
    with zipfile.ZipFile(zip_path) as package, tempfile.TemporaryDirectory() as tmp:
        names = set(package.namelist())
        compiled: dict[str, str] = {}
        for name in sorted(names):
            pyc = importlib.util.cache_from_source(name)
            if not name.endswith(".py") or pyc in names:
                continue
            source = Path(tmp, name)
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(package.read(name))
            try:
                compiled[pyc] = str(source) + "c"
                py_compile.compile(
                    str(source),
                    cfile=compiled[pyc],
                    dfile=name,
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError:  # e.g. a package's Python 2 example: as before, never imported
                del compiled[pyc]
        with zipfile.ZipFile(zip_path, "a", zipfile.ZIP_DEFLATED) as out:
            for pyc, path in compiled.items():
                out.write(path, pyc)


def _then_add_bytecode(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        add_bytecode(result if isinstance(result, str) else args[0])  # the zip: returned, or the first argument
        return result

    return wrapper


# The two places a deployment zip is finished: built afresh, or reused with the app updated.
LambdaDeploymentPackager.create_deployment_package = _then_add_bytecode(  # type: ignore[method-assign]
    LambdaDeploymentPackager.create_deployment_package
)
BaseLambdaDeploymentPackager.inject_latest_app = _then_add_bytecode(  # type: ignore[method-assign]
    BaseLambdaDeploymentPackager.inject_latest_app
)

if __name__ == "__main__":
    sys.exit(main())
