"""What `./scripts/deploy` does to the stage's UPLOAD_BUCKET, against a real S3 (SeaweedFS
keeps lifecycle rules as S3 does; whether it deletes on time is S3's part, not tested)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from devtools.lambda_build import make_upload_bucket_ready
from devtools.upload_bucket import RULE_ID, expiry_rule

pytestmark = pytest.mark.py312  # .venv-lambda, as deploy runs it


def deploy_step(bucket: str) -> subprocess.CompletedProcess[str]:
    return make_upload_bucket_ready(bucket, capture_output=True, timeout=120)


def test_the_bucket_is_made_and_deletes_uploads_after_a_day(s3: Any) -> None:
    first = deploy_step("test-deploy-uploads")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "created the bucket test-deploy-uploads for uploads",
        "s3://test-deploy-uploads/uploads/ now deletes uploads after 1 day",
    ]
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket="test-deploy-uploads")["Rules"]
    assert rule == expiry_rule() and rule["Filter"] == {"Prefix": "uploads/"}
    again = deploy_step("test-deploy-uploads")
    assert again.returncode == 0 and again.stdout == ""  # nothing to do a second time


def test_the_buckets_own_rules_are_kept(s3: Any) -> None:
    s3.create_bucket(Bucket="test-own-rules")
    theirs = {"ID": "archive-logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 90}}
    stale = {**expiry_rule(), "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket="test-own-rules", LifecycleConfiguration={"Rules": [theirs, stale]})
    result = deploy_step("test-own-rules")
    assert result.returncode == 0 and result.stdout.splitlines() == [
        "s3://test-own-rules/uploads/ now deletes uploads after 1 day"
    ]
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="test-own-rules")["Rules"]}
    assert rules == {"archive-logs": theirs, RULE_ID: expiry_rule()}


def test_an_unreachable_store_is_one_line(monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens on the discard port
    result = deploy_step("test-nowhere")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: the upload bucket test-nowhere could not be made ready:")
    assert len(result.stderr.strip().splitlines()) == 1
