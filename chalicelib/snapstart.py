"""Lambda SnapStart (the prod route in deploy/snapstart/): Lambda snapshots a container
once its init is done and restores copies of it instead of cold-starting new ones.

Before the snapshot the model is loaded, so a restored container answers without
fetching. After a restore nothing made before the snapshot that holds credentials is
reused: the model's GET reads the environment's credentials at each fetch, and the
botocore client (batch handler, uploads) is made again on its next use."""

from __future__ import annotations

import sys

from chalicelib.model_store import ModelStore


def register(store: ModelStore) -> bool:
    """Registers the hooks with snapshot_restore_py, which Lambda's Python runtimes
    provide; False where it is absent (chalice local, a plain server)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(store.load)
    register_after_restore(forget_s3_clients)
    return True


def forget_s3_clients() -> None:
    clients = sys.modules.get("chalicelib.s3_client")  # imported only where a bucket is set
    if clients is not None:
        clients.s3_client.cache_clear()
