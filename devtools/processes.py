"""Servers started on loopback by the serve command, the tests and the benchmark."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def holds_listener(pid: int, port: int) -> bool | None:
    """Whether process pid holds the socket listening on 127.0.0.1:port (so what answers
    there is that process, not another that had the port first); None where /proc cannot
    say (not Linux)."""
    try:
        inodes = {
            fields[9]
            for table in ("/proc/net/tcp", "/proc/net/tcp6")
            for fields in (line.split() for line in Path(table).read_text().splitlines()[1:])
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A"
        }  # 0A: LISTEN
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    held = set()
    for descriptor in descriptors:
        with contextlib.suppress(OSError):  # closed meanwhile
            held.add(os.readlink(descriptor))
    return any(f"socket:[{inode}]" in held for inode in inodes)


def start_serve(project: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """./scripts/serve as the README runs it, in a session of its own (a signal sent to it
    reaches it alone, as a user's kill would), its output written to log."""
    with log.open("wb") as out:
        return subprocess.Popen(
            ["./scripts/serve", *args], cwd=project, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_until_serving(url: str, process: subprocess.Popen, timeout_s: float, log: str) -> None:
    """Returns once url answers HTTP at all (an error status is an answer too); raises if
    the process exits first or the time runs out. log: where to look when it does not."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            command = process.args[0] if isinstance(process.args, list) else process.args
            raise RuntimeError(f"{command!s} exited with {process.returncode}; see {log}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answered on {url} within {timeout_s}s; see {log}") from None
            time.sleep(0.1)


def memory_mb(pid: int | str, field: str) -> float:
    """A memory figure of a process in MB, from /proc/<pid>/status: VmRSS (now) or VmHWM
    (its own peak; getrusage's ru_maxrss survives exec, so a child forked from a larger
    parent would report the parent's)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(next(line for line in status.splitlines() if line.startswith(field)).split()[1]) / 1024, 1)
