"""The stage's UPLOAD_BUCKET made ready at deploy: created where it does not exist yet, and
given a lifecycle rule that deletes uploads/ a day after they arrive (POST /predict?upload=
reads them within minutes; nothing should keep users' photos longer). Other rules the
bucket has are kept. Runs in .venv-lambda, whose botocore Chalice itself uses.

python -m devtools.upload_bucket BUCKET"""

from __future__ import annotations

import sys
from typing import Any

from chalicelib.settings import UPLOAD_PREFIX

RULE_ID = "donut-or-not-delete-uploads"
KEEP_DAYS = 1


def expiry_rule() -> dict[str, Any]:
    return {
        "ID": RULE_ID,
        "Filter": {"Prefix": UPLOAD_PREFIX},
        "Status": "Enabled",
        "Expiration": {"Days": KEEP_DAYS},
    }


def make_ready(client: Any, bucket: str) -> list[str]:
    """What it did, a line each."""
    from botocore.exceptions import ClientError

    done = []
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
        region = client.meta.region_name
        where = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        client.create_bucket(Bucket=bucket, **where)
        done.append(f"created the bucket {bucket} for uploads")
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    if expiry_rule() not in rules:  # absent, or ours changed since: replaced, the others kept
        kept = [rule for rule in rules if rule.get("ID") != RULE_ID]
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [*kept, expiry_rule()]}
        )
        done.append(f"s3://{bucket}/{UPLOAD_PREFIX} now deletes uploads after {KEEP_DAYS} day")
    return done


def main(argv: list[str]) -> int:
    import botocore.session
    from botocore.exceptions import BotoCoreError, ClientError

    if len(argv) != 1:
        print("usage: python -m devtools.upload_bucket BUCKET", file=sys.stderr)
        return 2
    try:
        for line in make_ready(botocore.session.get_session().create_client("s3"), argv[0]):
            print(line, flush=True)
    except (BotoCoreError, ClientError) as exc:
        print(f"error: the upload bucket {argv[0]} could not be made ready: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
