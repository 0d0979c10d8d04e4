"""Runs inside the Lambda-like sandbox (tests/lambda_sandbox.py): imports the handler from
the unpacked deployment package, as Lambda's bootstrap does, and feeds it events.

Reads a JSON list of events on stdin; writes each response on stdout as one line
starting with RESPONSE, then the task-root modules Python had to compile from source
(none, when the zip carries their bytecode) on a line starting with COMPILED.
Only the standard library, the task root and the runtime folder are importable here.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import uuid

RESPONSE = "LAMBDA-RESPONSE"  # marks response lines among whatever else the handler prints
COMPILED = "LAMBDA-COMPILED"


class LambdaContext:
    """The attributes Lambda's Python runtime gives a handler's context."""

    def __init__(self, timeout_s: int = 25) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "2026/11/25/[$LATEST]parity"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def main() -> None:
    compiled: list[str] = []

    def on_audit(event: str, args: tuple) -> None:
        # The import system compiles a module's source only when it has no usable .pyc.
        path = args[1] if event == "compile" and isinstance(args[1], str) else ""
        if path.startswith(os.environ["LAMBDA_TASK_ROOT"]) and path.endswith(".py"):  # not Jinja2's templates
            compiled.append(path)

    sys.addaudithook(on_audit)
    module, _, attribute = os.environ["_HANDLER"].partition(".")
    handler = getattr(importlib.import_module(module), attribute)
    for event in json.load(sys.stdin):
        response = handler(event, LambdaContext())
        print(RESPONSE, json.dumps(response), flush=True)
    print(COMPILED, json.dumps(compiled), flush=True)


if __name__ == "__main__":
    main()
