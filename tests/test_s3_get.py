"""chalicelib/s3_get.py: its signature is botocore's, and a SeaweedFS that checks
signatures (the session's) accepts it and refuses a wrong one."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from chalicelib import s3_get
from chalicelib.s3_get import Credentials, S3Error, S3Unreachable
from devtools.processes import free_port

NOW = datetime(2026, 11, 27, 21, 5, 9, tzinfo=timezone.utc)


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//////////token+/="])
@pytest.mark.parametrize("key", ["models/donut-bagel-vada/2.0.0/model.onnx", "a b/c+d/ünï~çode.pt"])
def test_the_signature_is_botocores(monkeypatch: pytest.MonkeyPatch, token: str | None, key: str) -> None:
    url = s3_get.object_url("my-bucket", key, {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:8333"})
    ours = s3_get.signed_headers(url, Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token), "eu-west-1", NOW)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method="GET", url=url, headers={})
    S3SigV4Auth(BotoCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token), "s3", "eu-west-1").add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]


def test_aws_itself_is_addressed_by_virtual_host_in_the_region() -> None:
    assert (
        s3_get.object_url("b", "m/1/model.onnx", {"AWS_REGION": "eu-west-1"})
        == "https://b.s3.eu-west-1.amazonaws.com/m/1/model.onnx"
    )
    assert s3_get.object_url("b", "k", {"AWS_ENDPOINT_URL": "http://h:1/"}) == "http://h:1/b/k"


def test_a_checking_server_serves_a_signed_get_and_refuses_a_wrong_secret(s3: Any, bucket: str, prefix: str) -> None:
    key = f"{prefix}/a file+name.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"model bytes")
    with s3_get.get_object(bucket, key, os.environ, 2, 5) as response:
        assert response.read() == b"model bytes"
    with pytest.raises(S3Error) as wrong:
        s3_get.get_object(bucket, key, {**os.environ, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}, 2, 5)
    assert (wrong.value.status, wrong.value.code) == (403, "SignatureDoesNotMatch")
    with pytest.raises(S3Error) as missing:
        s3_get.get_object(bucket, f"{prefix}/nothing", os.environ, 2, 5)
    assert (missing.value.status, missing.value.code) == (404, "NoSuchKey")


def test_no_server_is_unreachable() -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(S3Unreachable, match="ConnectionRefused"):
        s3_get.get_object("b", "k", env, 2, 5)


def test_credentials_come_from_the_environment_else_from_botocores_chain(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "T"}
    assert Credentials.find(env) == Credentials("AK", "SK", "T")
    profile = tmp_path / "credentials"
    profile.write_text("[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = SECRET\n")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profile))
        patch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
        assert Credentials.find({}) == Credentials("FROMFILE", "SECRET", None)
