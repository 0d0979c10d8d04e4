"""Photos over the payload limit, through the README's sequence: POST /uploads, the file
straight to a real S3 (SeaweedFS checks the presigned POST's policy and signature as S3
does), then POST /predict?upload=ID, all over real HTTP through chalice local."""

from __future__ import annotations

import dataclasses
import io
import re
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from chalice.test import Client
from chalicelib.presigned_uploads import new_upload
from chalicelib.settings import UPLOAD_PREFIX, Settings
from devtools import ROOT
from devtools.local_chalice import chalice_local, copy_project
from PIL import Image
from training.export import export
from training.publish import publish

from tests import imagefiles as f
from tests.colour_model import COLOUR_META, MeanColour, colour_batch
from tests.support import app_for, readme_python

UPLOADS = "test-uploads"


@pytest.fixture(scope="module")
def uploads_bucket(s3: Any) -> str:
    s3.create_bucket(Bucket=UPLOADS)
    return UPLOADS


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, bucket: str, uploads_bucket: str) -> Iterator[str]:
    """One runtime is enough: the upload's way ends where a body's does, in classify."""
    model = tmp_path_factory.mktemp("model") / "colours.onnx"
    export(MeanColour(), COLOUR_META, model, colour_batch())
    uri = publish(model, bucket, prefix=f"uploads-{uuid.uuid4().hex[:12]}")
    project = copy_project(tmp_path_factory.mktemp("project"), {"MODEL_URI": uri, "UPLOAD_BUCKET": uploads_bucket})
    with chalice_local(project, tmp_path_factory.mktemp("chalice-local")) as base:
        yield base


@pytest.fixture(scope="module")
def classify_file(api: str) -> Any:
    """The README's Python client as written, for another photo and its type; the label it prints."""

    def run(path: str, kind: str) -> str:
        code = readme_python("### Photos over the limit")
        written = {"http://127.0.0.1:8000": api, "chalicelib/examples/vada.jpg": path, "image/jpeg": kind}
        for shown, meant in written.items():
            assert code.count(f'"{shown}"') == 1
            code = code.replace(f'"{shown}"', repr(meant))
        printed: list[str] = []
        exec(code, {"print": printed.append})
        [label] = printed
        return label

    return run


def big_jpeg() -> bytes:
    return f.encode(f.noisy_photo((6000, 4000), f.BLUE), "JPEG", quality=97)


def big_heic() -> bytes:
    return f.heic(f.noisy_photo((3400, 2600), f.GREEN, spread=60), quality=-1)  # lossless: big quickly


def shrunk(data: bytes) -> bytes:
    """The photo as the page would send it: at most 1280 px, a JPEG under the limit."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    image = Image.open(io.BytesIO(data))
    image.thumbnail((1280, 1280))
    return f.encode(image.convert("RGB"), "JPEG", quality=90)


@pytest.mark.parametrize(
    "make, content_type, size, label",
    [(big_jpeg, "image/jpeg", 20e6, "blue"), (big_heic, "image/heic", 12e6, "green")],
    ids=["20MB-jpeg", "12MB-heic"],
)
def test_a_phone_sized_photo_gets_the_answer_its_shrunk_copy_gets(
    api: str, classify_file: Any, tmp_path: Path, make: Any, content_type: str, size: float, label: str
) -> None:
    data = make()
    assert len(data) > size
    photo = tmp_path / "photo"
    photo.write_bytes(data)
    too_big = requests.post(f"{api}/predict", data=data, headers={"Content-Type": content_type}, timeout=60)
    assert too_big.status_code == 413  # why the detour: over the body limit
    small = requests.post(f"{api}/predict", data=shrunk(data), headers={"Content-Type": "image/jpeg"}, timeout=60)
    assert classify_file(str(photo), content_type) == small.json()["label"] == label


def ask(api: str, content_type: str = "image/jpeg") -> dict[str, Any]:
    response = requests.post(f"{api}/uploads", params={"type": content_type}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def send(upload: dict[str, Any], data: bytes, **changed: str) -> requests.Response:
    return requests.post(upload["url"], data={**upload["fields"], **changed}, files={"file": data}, timeout=60)


def predict(api: str, upload_id: str) -> requests.Response:
    return requests.post(f"{api}/predict", params={"upload": upload_id}, timeout=60)


def test_the_form_is_for_one_new_object_under_uploads(api: str) -> None:
    first, second = ask(api), ask(api)
    assert re.fullmatch(r"[0-9a-f]{32}", first["id"]) and first["id"] != second["id"]
    assert first["fields"]["key"] == f"{UPLOAD_PREFIX}{first['id']}"
    assert first["max_bytes"] == 50 * 2**20 and first["expires_in_s"] == 600


def outside_the_form(api: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Each an upload S3 must refuse: the form's key, type or signature changed."""
    forged = ask(api)
    return [
        (ask(api), {"key": "models/overwritten.onnx"}),
        (ask(api), {"key": f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"}),
        (ask(api), {"Content-Type": "text/html"}),
        (forged, {"x-amz-signature": "0" * len(forged["fields"]["x-amz-signature"])}),
    ]


def test_s3_refuses_whatever_the_form_does_not_allow(api: str, s3: Any, uploads_bucket: str) -> None:
    before = s3.list_objects_v2(Bucket=uploads_bucket).get("KeyCount", 0)
    for upload, changed in outside_the_form(api):
        refused = send(upload, f.jpeg(f.RED), **changed)
        assert refused.status_code == 403, (changed, refused.text)
        assert predict(api, upload["id"]).json()["error"]["code"] == "upload_not_found"
    # The limits, as a stage with smaller ones would set them (same function, same S3).
    settings = dataclasses.replace(Settings.from_env({"UPLOAD_BUCKET": uploads_bucket}), max_upload_bytes=1000)
    assert send(new_upload(settings, "image/png"), b"x" * 1001).status_code == 400  # EntityTooLarge
    expiring = new_upload(dataclasses.replace(settings, upload_expires_s=1), "image/png")
    time.sleep(2.5)
    assert send(expiring, f.png(f.RED)).status_code == 403
    assert s3.list_objects_v2(Bucket=uploads_bucket).get("KeyCount", 0) == before  # nothing written


def test_what_was_sent_is_checked_as_a_body_is(api: str) -> None:
    upload = ask(api, "application/octet-stream")
    assert send(upload, b"just some text").status_code in (200, 204)
    refused = predict(api, upload["id"])
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_an_image"
    upload = ask(api, "image/png")
    assert send(upload, f.png(f.RED)).status_code in (200, 204)
    answer = requests.post(f"{api}/predict", params={"upload": upload["id"], "top_k": "1"}, timeout=60).json()
    assert answer["label"] == "red" and len(answer["predictions"]) == 1


@pytest.mark.parametrize(
    "request_args, status, code",
    [
        ({"params": {"upload": "../models/x.onnx"}}, 400, "bad_upload_id"),
        ({"params": {"upload": "ABC"}}, 400, "bad_upload_id"),
        ({"params": {"upload": "0" * 32}}, 404, "upload_not_found"),  # well-formed, never issued
        (
            {"params": {"upload": "0" * 32}, "data": f.jpeg(), "headers": {"Content-Type": "image/jpeg"}},
            400,
            "body_and_upload",
        ),
    ],
    ids=["path", "not-hex", "unknown", "body-too"],
)
def test_a_bad_upload_id_is_a_clear_error(api: str, request_args: dict[str, Any], status: int, code: str) -> None:
    response = requests.post(f"{api}/predict", timeout=30, **request_args)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_an_unreadable_type_is_refused_before_any_form_is_made(api: str) -> None:
    response = requests.post(f"{api}/uploads", params={"type": "text/html"}, timeout=30)
    assert response.status_code == 415 and "image/jpeg" in response.json()["error"]["message"]


def test_without_an_upload_bucket_the_routes_say_so(tmp_path: Path) -> None:
    # In process: a stage setting, not HTTP behaviour; the other tests cover the wire.
    client = Client(app_for({"UPLOAD_BUCKET": "", "MODEL_CACHE_DIR": str(tmp_path)}).app, project_dir=str(ROOT))
    for response in (
        client.http.post("/uploads"),
        client.http.post(f"/predict?upload={'0' * 32}"),
    ):
        assert response.status_code == 404
        assert response.json_body["error"]["code"] == "uploads_not_configured"
