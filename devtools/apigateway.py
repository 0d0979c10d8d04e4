"""API Gateway REST proxy events, shaped as API Gateway sends them to the function."""

from __future__ import annotations

import base64
import uuid
from typing import Any

STAGE = "api"  # the API Gateway stage prefix in every path


def api_event(
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API proxy event as API Gateway sends it: binary bodies base64-encoded (the
    app's binary media types), others as text; the stage prefix in requestContext.path."""
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    binary = isinstance(body, bytes)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "parity-test"},
            "protocol": "HTTP/1.1",
        },
        "body": base64.b64encode(body).decode() if isinstance(body, bytes) else body,
        "isBase64Encoded": binary,
    }
