"""One signed S3 GetObject without botocore. Importing botocore and building its client
costs about 0.3 s of every cold start, more than fetching, hashing and loading the model
together, while a GET needs only Signature Version 4 (hmac, hashlib) and http.client.
tests/test_s3_get.py holds the signature to botocore's own signer, and runs it against a
SeaweedFS that checks signatures. The batch handler, which needs more of S3, uses botocore.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping
from urllib.parse import quote, urlsplit

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_ATTEMPTS = 2  # as botocore's standard retry mode: one retry, for connections and 5xx


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None

    @classmethod
    def find(cls, env: Mapping[str, str]) -> "Credentials | None":
        """The environment's (Lambda always sets them); else botocore's chain (profiles,
        SSO, instance roles), which is slow to import but is never needed in Lambda."""
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            return cls(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN") or None)
        import botocore.session

        found = botocore.session.get_session().get_credentials()
        if found is None:
            return None
        frozen = found.get_frozen_credentials()
        return cls(frozen.access_key, frozen.secret_key, frozen.token)


class S3Error(Exception):
    """S3 answered with an error status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}" if message else f"{status} {code}")
        self.status, self.code = status, code


class S3Unreachable(Exception):
    """No answer: no connection, a timeout, a broken response, or no credentials to sign with."""


def region(env: Mapping[str, str]) -> str:
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"


def object_url(bucket: str, key: str, env: Mapping[str, str]) -> str:
    """Path-style for a configured endpoint (AWS_ENDPOINT_URL_S3, as botocore reads it),
    virtual-hosted for AWS itself."""
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    path = quote(key, safe="/~")
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{path}"
    return f"https://{bucket}.s3.{region(env)}.amazonaws.com/{path}"


def signed_headers(
    url: str, credentials: Credentials, region_name: str, now: datetime, extra: Mapping[str, str] = {}
) -> dict[str, str]:
    """The headers of a signed GET of url (Signature Version 4, service s3, empty body)."""
    parts = urlsplit(url)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "host": parts.netloc,
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": stamp,
        **{name.lower(): value for name, value in extra.items()},
    }
    if credentials.token:
        headers["x-amz-security-token"] = credentials.token
    names = sorted(headers)
    canonical = "\n".join(
        [
            "GET",
            parts.path or "/",
            parts.query,
            *(f"{name}:{' '.join(headers[name].split())}" for name in names),
            "",
            ";".join(names),
            EMPTY_SHA256,
        ]
    )
    scope = f"{stamp[:8]}/{region_name}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (stamp[:8], region_name, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


def get_object(
    bucket: str,
    key: str,
    env: Mapping[str, str],
    connect_timeout_s: float,
    read_timeout_s: float,
    if_none_match: str = "",
) -> http.client.HTTPResponse:
    """The open response to a 200, or to a 304 when the object's ETag is still
    if_none_match (no body: one round trip to learn a cached copy is current); the caller
    reads the body and closes it. S3Error for an error status, S3Unreachable when there is
    no answer."""
    credentials = Credentials.find(env)
    if credentials is None:
        raise S3Unreachable("no AWS credentials: none in the environment, and botocore's chain found none")
    url = object_url(bucket, key, env)
    failure: Exception | None = None
    for _ in range(_ATTEMPTS):
        try:
            extra = {"if-none-match": if_none_match} if if_none_match else {}
            response = _get(
                url,
                signed_headers(url, credentials, region(env), datetime.now(timezone.utc), extra),
                connect_timeout_s,
                read_timeout_s,
            )
        except (OSError, http.client.HTTPException) as exc:
            failure = S3Unreachable(f"{type(exc).__name__}: {exc}")
            continue
        if response.status == 200 or (response.status == 304 and if_none_match):
            return response
        failure = _error(response)
        if response.status < 500:
            break
    assert failure is not None
    raise failure


def _get(
    url: str, headers: dict[str, str], connect_timeout_s: float, read_timeout_s: float
) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=connect_timeout_s)
    connection.connect()
    connection.sock.settimeout(read_timeout_s)
    connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
    return connection.getresponse()


def _error(response: http.client.HTTPResponse) -> S3Error:
    with response:
        body = response.read(64 * 1024).decode("utf-8", "replace")
    code = re.search(r"<Code>([^<]*)</Code>", body)
    message = re.search(r"<Message>([^<]*)</Message>", body)
    return S3Error(response.status, code.group(1) if code else response.reason, message.group(1) if message else "")
