"""The lazy, verified model fetch, against a real SeaweedFS process."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from chalicelib import s3_get
from chalicelib.errors import Unavailable
from chalicelib.model_store import ModelStore
from chalicelib.settings import Settings
from devtools.local_s3 import LocalS3

from tests.colour_model import COLOUR_LABELS
from tests.support import TEST_CREDENTIALS, make_store


def counting_store(uri: str, cache: Path) -> tuple[ModelStore, list[int]]:
    """A store whose S3 GETs (real ones, to SeaweedFS) are counted: the status of each
    answer, in order (200: the bytes; 304: the cached copy is current)."""
    answers: list[int] = []

    def get_object(*args: Any) -> Any:
        response = s3_get.get_object(*args)
        answers.append(response.status)
        return response

    return ModelStore(Settings.from_env({"MODEL_URI": uri, "MODEL_CACHE_DIR": str(cache)}), get_object), answers


def split(uri: str) -> tuple[str, str]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bucket, key


def cached_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_nothing_is_fetched_before_the_first_request(model_uri: str, tmp_path: Path) -> None:
    store, downloads = counting_store(model_uri, tmp_path / "cache")
    assert store.loaded is None and downloads == [] and cached_files(tmp_path / "cache") == []


def test_first_get_downloads_verifies_and_loads_once(model_uri: str, tmp_path: Path, colour_model: Path) -> None:
    store, downloads = counting_store(model_uri, tmp_path / "cache")
    model, cold = store.get()
    assert cold is True
    assert model.runtime.metadata.labels == COLOUR_LABELS
    for _ in range(5):
        assert store.get() == (model, False)
    assert len(downloads) == 1
    name = f"{model.sha256}{colour_model.suffix}"
    # Only the verified file, named by its hash, and the index naming it for model_uri.
    files = cached_files(tmp_path / "cache")
    assert len(files) == 2 and name in files
    [index] = [f for f in files if f.endswith(".source")]
    sha256, etag, uri = (tmp_path / "cache" / index).read_text().rstrip("\n").split("\t")
    assert (sha256, uri) == (model.sha256, model_uri) and etag.startswith('"')  # S3's ETag, for If-None-Match
    assert (tmp_path / "cache" / name).read_bytes() == colour_model.read_bytes()


def test_concurrent_first_requests_load_once(model_uri: str, tmp_path: Path) -> None:
    store, downloads = counting_store(model_uri, tmp_path / "cache")
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(store.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(model) for model, _ in results}) == 1
    assert sum(cold for _, cold in results) == 1
    assert len(downloads) == 1


def test_a_new_process_reuses_the_verified_file_after_one_conditional_get(model_uri: str, tmp_path: Path) -> None:
    first, answers = counting_store(model_uri, tmp_path / "cache")
    first.get()
    assert answers == [200]
    second, answers = counting_store(model_uri, tmp_path / "cache")
    model, cold = second.get()
    assert cold is True and answers == [304]  # still the same object: no bytes sent
    assert model.runtime.metadata.name == "test-colours"


def test_a_republished_version_is_fetched_again_and_a_warm_store_keeps_its_model(
    model_uri: str, tmp_path: Path, colour_model: Path
) -> None:
    from dataclasses import replace

    from training.export import export
    from training.publish import publish

    from tests.colour_model import COLOUR_META, MeanColour, colour_batch

    first, _ = counting_store(model_uri, tmp_path / "cache")
    old, _ = first.get()
    other = tmp_path / f"other{colour_model.suffix}"
    export(MeanColour(), replace(COLOUR_META, none_rule=None), other, colour_batch())
    bucket, key = split(model_uri)
    assert publish(other, bucket, force=True, prefix=key.split("/test-colours/")[0]) == model_uri
    second, answers = counting_store(model_uri, tmp_path / "cache")
    new, _ = second.get()
    assert answers == [200] and new.sha256 != old.sha256 and new.runtime.metadata.none_rule is None
    assert first.get()[0] is old  # as in Lambda: a warm container keeps the model it loaded


def test_while_s3_does_not_answer_the_last_verified_copy_serves(
    model_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools.processes import free_port

    model, _ = counting_store(model_uri, tmp_path / "cache")[0].get()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    again, cold = make_store(model_uri, tmp_path / "cache").get()
    assert cold and again.sha256 == model.sha256


def test_a_verified_file_that_went_missing_is_fetched_again(model_uri: str, tmp_path: Path) -> None:
    first, _ = counting_store(model_uri, tmp_path / "cache")
    model, _ = first.get()
    next((tmp_path / "cache").glob(f"{model.sha256}.*")).unlink()
    second, answers = counting_store(model_uri, tmp_path / "cache")
    assert second.get()[0].sha256 == model.sha256 and answers == [200]


def test_corrupt_object_is_refused_and_leaves_nothing(
    s3: Any, model_uri: str, tmp_path: Path, colour_model: Path
) -> None:
    bucket, key = split(model_uri)
    published = s3.head_object(Bucket=bucket, Key=key)["Metadata"]
    good = colour_model.read_bytes()
    s3.put_object(Bucket=bucket, Key=key, Body=good[:-10] + b"0123456789", Metadata=published)
    store = make_store(model_uri, tmp_path / "cache")
    with pytest.raises(Unavailable) as err:
        store.get()
    assert err.value.code == "model_corrupt" and err.value.headers["Retry-After"]
    assert cached_files(tmp_path / "cache") == []
    assert store.loaded is None
    # The next request retries and succeeds once the object is right again.
    s3.put_object(Bucket=bucket, Key=key, Body=good, Metadata=published)
    assert store.get()[1] is True


def test_object_without_sha256_is_refused(
    s3: Any, bucket: str, prefix: str, colour_model: Path, tmp_path: Path
) -> None:
    key = f"{prefix}/x/1/model{colour_model.suffix}"
    s3.put_object(Bucket=bucket, Key=key, Body=colour_model.read_bytes())
    with pytest.raises(Unavailable) as err:
        make_store(f"s3://{bucket}/{key}", tmp_path).get()
    assert err.value.code == "model_unverifiable"
    assert not tmp_path.joinpath("donut-or-not-models").exists()


def test_missing_object_names_the_uri(bucket: str, prefix: str, tmp_path: Path) -> None:
    uri = f"s3://{bucket}/{prefix}/none/1/model.pt"
    with pytest.raises(Unavailable) as err:
        make_store(uri, tmp_path).get()
    assert err.value.code == "model_not_found" and uri in err.value.message


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_a_verified_file_that_is_not_a_model_is_503(
    s3: Any, bucket: str, prefix: str, tmp_path: Path, suffix: str
) -> None:
    import hashlib

    junk = b"not a model archive"
    key = f"{prefix}/m/model{suffix}"
    s3.put_object(Bucket=bucket, Key=key, Body=junk, Metadata={"sha256": hashlib.sha256(junk).hexdigest()})
    with pytest.raises(Unavailable) as err:
        make_store(f"s3://{bucket}/{key}", tmp_path).get()
    assert err.value.code == "model_invalid"


def test_a_file_no_runtime_reads_is_refused_before_any_byte_is_fetched(
    s3: Any, bucket: str, prefix: str, tmp_path: Path
) -> None:
    key = f"{prefix}/m/model.tflite"
    s3.put_object(Bucket=bucket, Key=key, Body=b"weights", Metadata={"sha256": "0" * 64})
    store, downloads = counting_store(f"s3://{bucket}/{key}", tmp_path / "cache")
    with pytest.raises(Unavailable) as err:
        store.get()
    assert err.value.code == "model_invalid" and "model files end in .onnx, .pt" in err.value.message
    assert downloads == [] and cached_files(tmp_path / "cache") == []


@pytest.mark.parametrize(
    "uri, code",
    [
        ("", "model_not_configured"),
        ("http://example.invalid/model.pt", "model_uri_invalid"),
        ("s3://bucket-only", "model_uri_invalid"),
        ("file:///nonexistent/model.pt", "model_not_found"),
    ],
)
def test_bad_configuration_is_503(uri: str, code: str, tmp_path: Path) -> None:
    with pytest.raises(Unavailable) as err:
        make_store(uri, tmp_path).get()
    assert err.value.code == code


def test_file_uri_loads_in_place(colour_model: Path, tmp_path: Path) -> None:
    model, cold = make_store(colour_model.as_uri(), tmp_path / "cache").get()
    assert cold and model.runtime.metadata.labels == COLOUR_LABELS
    assert cached_files(tmp_path / "cache") == []


def test_unwritable_cache_is_503(model_uri: str, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(Unavailable) as err:
        make_store(model_uri, blocker / "cache").get()
    assert err.value.code == "model_cache_unwritable"


def test_unreachable_s3_is_503_and_recovers_when_it_is_back(
    colour_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its own server, so stopping it cannot disturb the other tests; with the session's
    # identity, which boto3's default session keeps once it has read it.
    server = LocalS3(tmp_path / "s3", credentials=TEST_CREDENTIALS).start()
    try:
        for key, value in server.client_env().items():  # its endpoint and credentials
            monkeypatch.setenv(key, value)
        import boto3
        from training.publish import publish

        boto3.client("s3").create_bucket(Bucket="flaky")
        uri = publish(colour_model, "flaky")
        server.stop()
        store = make_store(uri, tmp_path / "cache", S3_CONNECT_TIMEOUT_S="0.5")
        with pytest.raises(Unavailable) as err:
            store.get()
        assert err.value.code == "model_store_unreachable" and err.value.headers["Retry-After"]
        assert cached_files(tmp_path / "cache") == []
        server.start()
        back(boto3.client("s3"), uri)
        model, cold = store.get()
        assert cold and model.runtime.metadata.name == "test-colours"
    finally:
        server.stop()


def back(client: Any, uri: str, seconds: float = 30) -> None:
    """Waits until a restarted SeaweedFS serves the object again: its S3 port answers
    before its volumes do (a GET meanwhile is a 500 InternalError)."""
    from botocore.exceptions import ClientError

    bucket, key = uri.removeprefix("s3://").split("/", 1)
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.get_object(Bucket=bucket, Key=key)["Body"].read()
            return
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
