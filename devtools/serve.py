"""Serves the demo as Lambda would get it: SeaweedFS on 127.0.0.1:8333 holds the published
demo model at the dev stage's MODEL_URI, and `chalice local` fetches it on first use.

--model FILE serves your own model file instead: published (replacing an earlier copy of
the same version) to the local S3's bucket `local-models`, and served from there.
--model-uri serves a model already at s3:// (on the local S3) or file://."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import boto3
from training.cli import ShowDefaults

from devtools import ROOT
from devtools.demo_model import SERVED
from devtools.local_chalice import copy_project
from devtools.local_s3 import LocalS3, client_env, refuse_foreign_s3_port, running
from devtools.policy import stage_setting
from devtools.processes import port_in_use

OWN_BUCKET = "local-models"


def ensure_published(models: list[Path], bucket: str) -> list[str]:
    """Creates the bucket in the project's own local S3 and uploads each model file unless
    the same bytes are there already; a version there holding other bytes (the demo rebuilt
    at the same version) is replaced, or the old file would be served."""
    from chalicelib.model_cache import sha256_of
    from chalicelib.model_sources import SHA256_METADATA_KEY
    from training.errors import AlreadyPublished
    from training.publish import publish

    client = boto3.client("s3")
    uris = []
    for model in models:
        try:
            uris.append(publish(model, bucket, client=client, create_bucket=True))
            print(f"published {uris[-1]}", flush=True)
        except AlreadyPublished as exc:
            key = urlparse(exc.uri).path.lstrip("/")
            held = client.head_object(Bucket=bucket, Key=key)["Metadata"].get(SHA256_METADATA_KEY)
            with model.open("rb") as stream:
                same = held == sha256_of(stream)
            uris.append(exc.uri if same else publish(model, bucket, force=True, client=client))
            print(
                f"{exc.uri} is already published"
                if same
                else f"replaced {exc.uri}: the local S3 held other bytes under this version",
                flush=True,
            )
    return uris


def ensure_upload_bucket() -> None:
    """The dev stage's UPLOAD_BUCKET in the project's own local S3, made ready as deploy
    makes it: POST /uploads works here as it does deployed."""
    from devtools.upload_bucket import make_ready

    bucket = stage_setting(ROOT, "dev", "UPLOAD_BUCKET")
    if bucket:
        for line in make_ready(boto3.client("s3"), bucket):
            print(line, flush=True)


def publish_own(model: Path) -> str:
    from training.publish import publish

    uri = publish(model, OWN_BUCKET, force=True, create_bucket=True)
    print(f"published {model} to {uri}", flush=True)
    return uri


def refuse_unservable(model: Path) -> None:
    """Exits in one line when this Python cannot run the model file (a TorchScript file in
    .venv-serve, which has no torch), before anything starts or is published."""
    from chalicelib.errors import ModelLoadError
    from chalicelib.model_formats import import_library

    try:
        import_library(model)
    except ModelLoadError as exc:
        raise SystemExit(f"error: --model {model}: {exc}") from None
    except ImportError as exc:
        raise SystemExit(
            f"error: --model {model} needs {exc.name}, which ./scripts/serve's environment leaves out "
            "(as the Lambda does): export an ONNX file (python -m training export … model.onnx) and "
            "serve that"
        ) from None


def main() -> int:
    parser = argparse.ArgumentParser(prog="./scripts/serve", description=__doc__, formatter_class=ShowDefaults)
    parser.add_argument("--port", type=int, default=8000, help="where chalice local serves, on 127.0.0.1")
    parser.add_argument("--s3-port", type=int, default=8333, help="where the local S3 (SeaweedFS) answers")
    own = parser.add_mutually_exclusive_group()
    own.add_argument("--model", type=Path, help="a model file to publish to the local S3 and serve")
    own.add_argument("--model-uri", help="serve this s3:// (local S3) or file:// MODEL_URI")
    args = parser.parse_args()
    if args.model and not args.model.is_file():
        parser.error(f"--model {args.model}: no such file")
    if args.model:
        refuse_unservable(args.model)
    # Before anything starts or is written: a server on these ports is not ours to use.
    if port_in_use(args.port):
        raise SystemExit(
            f"error: 127.0.0.1:{args.port} is already in use (another ./scripts/serve?): stop that "
            "server or pass --port N"
        )
    # A plain kill (SIGTERM) stops both servers too, through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    if os.environ.get("MODEL_URI"):
        print(
            f"MODEL_URI={os.environ['MODEL_URI']} in the environment is ignored: chalice local takes the stage's "
            "from .chalice/config.json; serve another model with --model FILE or --model-uri URI",
            flush=True,
        )
    endpoint = running()
    if endpoint is None:
        refuse_foreign_s3_port(args.s3_port)
    s3 = None if endpoint else LocalS3(ROOT / ".local-s3", s3_port=args.s3_port)
    if s3 is None:
        print(f"using the local S3 that ./scripts/local-s3 started on {endpoint}", flush=True)
    else:
        print(f"starting SeaweedFS (S3 on {s3.endpoint}, data in .local-s3/)", flush=True)
        try:
            endpoint = s3.start().endpoint
        except (RuntimeError, TimeoutError) as exc:
            raise SystemExit(f"error: SeaweedFS did not start: {exc}") from None
    assert endpoint is not None  # the running one, or the one just started
    chalice = None
    try:
        os.environ.update(client_env(endpoint))
        ensure_upload_bucket()
        project, env = ROOT, os.environ.copy()
        if args.model or args.model_uri:
            uri = args.model_uri or publish_own(args.model.resolve())
            # The stage's MODEL_URI wins over the environment's in chalice local: a copy of
            # the project whose dev stage names the model; a cache of its own, emptied, so
            # that a republished version is never served from an older copy.
            work = ROOT / "build" / "serve"
            shutil.rmtree(work, ignore_errors=True)
            project = copy_project(work / "project", {"MODEL_URI": uri})
            env["MODEL_CACHE_DIR"] = str(work / "model-cache")
            print(f"serving MODEL_URI {uri}", flush=True)
        else:
            uri = stage_setting(ROOT, "dev", "MODEL_URI")
            if uri not in ensure_published([SERVED], urlparse(uri).netloc):
                raise SystemExit(f"the dev stage's MODEL_URI {uri} is none of the demo model files")
        print(f"serving on http://127.0.0.1:{args.port} (Ctrl+C stops it and SeaweedFS)", flush=True)
        chalice = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "chalice"),
                "local",
                "--no-autoreload",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.port),
                "--stage",
                "dev",
            ],
            cwd=project,
            env=env,
        )
        return chalice.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl+C or kill (timeout(1) forwards one, then signals its group) must not
        # cut this short and leave SeaweedFS running.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if chalice is not None and chalice.poll() is None:
            chalice.terminate()
            chalice.wait(10)
        if s3 is not None:
            s3.stop()


if __name__ == "__main__":
    sys.exit(main())
