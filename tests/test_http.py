"""Real HTTP against `chalice local --no-autoreload`, model from the real SeaweedFS."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import imagefiles as f
from tests.colour_model import COLOUR_LABELS


def request(url: str, data: bytes | None = None, content_type: str | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def test_health_first_then_a_cold_then_a_warm_prediction(server: str) -> None:
    status, _, body = request(f"{server}/health")
    assert status == 200 and json.loads(body) == {"status": "ok", "model_loaded": False}
    status, headers, body = request(f"{server}/predict", f.jpeg(f.RED), "image/jpeg")
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["label"] == "red" and answer["cold_start"] is True
    assert json.loads(request(f"{server}/predict", f.jpeg(f.RED), "image/jpeg")[2])["cold_start"] is False


def test_an_image_like_none_of_the_labels_over_http(server: str) -> None:
    status, _, body = request(f"{server}/predict", f.png(f.GREY), "image/png")
    answer = json.loads(body)
    assert status == 200 and answer["recognised"] is False and answer["label"] is None and answer["message"]


@pytest.mark.parametrize(
    "content_type, data, label",
    [
        ("image/png", f.png(f.GREEN), "green"),
        ("image/webp", f.encode(f.solid(f.BLUE), "WEBP", lossless=True), "blue"),
        ("application/octet-stream", f.encode(f.solid(f.RED), "TIFF"), "red"),
        ("image/avif", f.avif(f.solid(f.GREEN), bits=10), "green"),
        ("image/heic", f.heic(f.solid(f.BLUE), bits=10), "blue"),
    ],
)
def test_binary_bodies_arrive_intact(server: str, content_type: str, data: bytes, label: str) -> None:
    status, _, body = request(f"{server}/predict?top_k=3", data, content_type)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["label"] == label
    assert sorted(p["label"] for p in answer["predictions"]) == sorted(COLOUR_LABELS)


def test_multipart_form_post(server: str) -> None:
    data, content_type = f.multipart([("file", "photo.jpg", f.jpeg(f.BLUE), "image/jpeg")])
    status, _, body = request(f"{server}/predict", data, content_type)
    assert status == 200 and json.loads(body)["label"] == "blue"


def test_form_encoded_upload_gets_the_header_hint(server: str) -> None:
    status, _, body = request(f"{server}/predict", f.jpeg(), "application/x-www-form-urlencoded")
    assert status == 415
    assert "Content-Type: image/jpeg" in json.loads(body)["error"]["message"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed: the README's curl example is untested")
def test_the_readme_curl_command(server: str, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(f.jpeg(f.GREEN))
    out = subprocess.run(
        ["curl", "-sS", "--data-binary", f"@{photo}", "-H", "Content-Type: image/jpeg", f"{server}/predict"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(out)["label"] == "green"


def test_body_over_six_megabytes_is_413(server: str) -> None:
    status, _, body = request(f"{server}/predict", b"\xff" * (6 * 1024 * 1024 + 1), "image/jpeg")
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"


def test_bad_input_is_json_not_500(server: str) -> None:
    for data, content_type, expected in [
        (f.truncated_jpeg(), "image/jpeg", 400),
        (b"not an image", "image/png", 400),
        (f.jpeg(), "text/plain", 415),
    ]:
        status, headers, body = request(f"{server}/predict", data, content_type)
        assert status == expected and headers["content-type"] == "application/json"
        assert json.loads(body)["error"]["code"]
    status, _, body = request(f"{server}/predict?top_k=nope", f.jpeg(), "image/jpeg")
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_top_k"


def test_page_and_model_routes(server: str) -> None:
    status, headers, body = request(f"{server}/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'action="predict"' in body
    status, _, body = request(f"{server}/model")
    assert status == 200 and json.loads(body)["labels"] == list(COLOUR_LABELS)


def test_very_long_query_strings_and_headers_are_not_server_errors(server: str) -> None:
    status, _, body = request(f"{server}/predict?top_k=1&pad={'x' * 8000}", f.jpeg(f.RED), "image/jpeg")
    assert status == 200 and json.loads(body)["label"] == "red"
    status, _, body = request(f"{server}/predict?top_k={'9' * 5000}", f.jpeg(f.RED), "image/jpeg")
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_top_k"  # past Python's int-parsing limit
    req = urllib.request.Request(
        f"{server}/predict",
        data=f.jpeg(),
        method="POST",
        headers={"Content-Type": "image/jpeg", "X-Padding": "y" * 16000},
    )
    with urllib.request.urlopen(req, timeout=60) as response:
        assert response.status == 200
