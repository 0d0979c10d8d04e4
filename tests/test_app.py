"""Every route through Chalice's own test client (the API Gateway event path, in process)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from chalice.test import Client
from chalicelib import classifier
from devtools import ROOT
from PIL import Image

from tests import imagefiles as f
from tests.colour_model import COLOUR_LABELS
from tests.support import BROWSER_ACCEPT, app_for


@pytest.fixture
def environment(model_uri: str, tmp_path: Path) -> dict[str, str]:
    return {"MODEL_URI": model_uri, "MODEL_CACHE_DIR": str(tmp_path / "cache")}


@pytest.fixture
def service(environment: dict[str, str]) -> ModuleType:
    return app_for(environment)


@pytest.fixture
def client(service: ModuleType) -> Client:
    return client_of(service)


def client_of(service: ModuleType) -> Client:
    return Client(service.app, project_dir=str(ROOT))


def post(client: Client, body: bytes, content_type: str | None, query: str = "") -> tuple[int, dict, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.http.post(f"/predict{query}", headers=headers, body=body)
    return response.status_code, lower(response.headers), json.loads(response.body)


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def assert_error(status: int, body: dict, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]


def test_health_never_loads_the_model(client: Client, service: ModuleType) -> None:
    response = client.http.get("/health")
    assert response.status_code == 200
    assert json.loads(response.body) == {"status": "ok", "model_loaded": False}
    assert service.store.loaded is None


def test_predict_answers_in_the_documented_shape(client: Client) -> None:
    status, headers, body = post(client, f.jpeg(f.RED), "image/jpeg")
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert body["label"] == "red" and body["confidence"] > 0.9
    assert [p["label"] for p in body["predictions"]][0] == "red"
    assert body["model"]["name"] == "test-colours" and len(body["model"]["sha256"]) == 64
    assert set(body["timing_ms"]) == {"decode", "preprocess", "inference", "total"}
    assert body["cold_start"] is True
    assert post(client, f.jpeg(f.RED), "image/jpeg")[2]["cold_start"] is False


def test_an_image_like_none_of_the_labels_is_answered_as_none(client: Client) -> None:
    status, _, body = post(client, f.jpeg(f.GREY), "image/jpeg", "?top_k=3")
    assert status == 200, body
    assert body["recognised"] is False and body["label"] is None
    assert body["message"] == "This does not look like any of: blue, green, red."
    probabilities = [p["probability"] for p in body["predictions"]]
    assert probabilities == sorted(probabilities, reverse=True) and len(probabilities) == 3
    assert body["confidence"] == probabilities[0] < 0.9  # still the top probability


def test_a_recognised_image_says_so_without_a_message(client: Client) -> None:
    body = post(client, f.jpeg(f.RED), "image/jpeg")[2]
    assert body["recognised"] is True and body["label"] == "red" and "message" not in body


def test_a_model_without_a_none_rule_recognises_every_image(tmp_path: Path) -> None:
    """Model files made before the rule existed answer as they always did."""
    from dataclasses import replace

    from training.export import export

    from tests.colour_model import COLOUR_META, MeanColour, colour_batch
    from tests.support import make_store

    path = tmp_path / "colours.onnx"
    export(MeanColour(), replace(COLOUR_META, none_rule=None), path, colour_batch())
    loaded, cold = make_store(path.as_uri(), tmp_path / "cache").get()
    answer = classifier.classify(f.jpeg(f.GREY), loaded, 3, 10**6, cold=cold, started=0.0)
    assert answer["recognised"] is True and answer["label"] == answer["predictions"][0]["label"]
    assert loaded.describe()["none_rule"] is None


def test_probabilities_are_sorted_and_sum_to_one(client: Client) -> None:
    body = post(client, f.png(f.GREEN), "image/png", "?top_k=3")[2]
    probabilities = [p["probability"] for p in body["predictions"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert math.isclose(sum(probabilities), 1.0, abs_tol=1e-9)
    assert sorted(p["label"] for p in body["predictions"]) == sorted(COLOUR_LABELS)
    assert body["label"] == "green"


@pytest.mark.parametrize(
    "content_type, data",
    [
        ("image/jpeg", f.jpeg(f.BLUE)),
        ("image/png", f.png(f.BLUE)),
        ("image/webp", f.encode(f.solid(f.BLUE), "WEBP", lossless=True)),
        ("image/gif", f.animated_gif(f.BLUE, f.RED)),
        ("image/bmp", f.encode(f.solid(f.BLUE), "BMP")),
        ("image/tiff", f.encode(f.solid(f.BLUE), "TIFF")),
        ("image/tiff", f.planar_tiff(f.BLUE)),  # planes Pillow cannot read: tifffile does
        ("image/avif", f.avif(f.solid(f.BLUE))),
        ("image/avif", f.avif(f.solid(f.BLUE), bits=10)),
        ("image/heic", f.heic(f.solid(f.BLUE))),
        ("image/heif", f.heic(f.solid(f.BLUE, mode="RGBA"), bits=10)),
        ("application/octet-stream", f.heic(f.solid(f.BLUE))),  # as a phone shares a file: the bytes say HEIC
        ("application/octet-stream", f.png(f.BLUE)),
        ("image/jpeg", f.png(f.BLUE)),  # mislabelled: the bytes decide
    ],
)
def test_every_accepted_type_is_classified(client: Client, content_type: str, data: bytes) -> None:
    status, _, body = post(client, data, content_type)
    assert status == 200, body
    assert body["label"] == "blue"


def test_multipart_form_upload(client: Client) -> None:
    body, content_type = f.multipart([("file", "photo.png", f.png(f.GREEN), "image/png")])
    status, _, answer = post(client, body, content_type)
    assert status == 200, answer
    assert answer["label"] == "green"


@pytest.mark.parametrize("query, count", [("", 3), ("?top_k=1", 1), ("?top_k=2", 2), ("?top_k=1000000000", 3)])
def test_top_k_limits_and_clamps(client: Client, query: str, count: int) -> None:
    status, _, body = post(client, f.jpeg(), "image/jpeg", query)
    assert status == 200 and len(body["predictions"]) == count


@pytest.mark.parametrize("query", ["?top_k=0", "?top_k=-1", "?top_k=abc", "?top_k=1.5"])
def test_bad_top_k_is_400(client: Client, query: str) -> None:
    status, _, body = post(client, f.jpeg(), "image/jpeg", query)
    assert_error(status, body, 400, "bad_top_k")


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        (b"", "image/jpeg", 400, "empty_body"),
        (b"plain text, not a picture", "image/png", 400, "not_an_image"),
        (f.truncated_jpeg(), "image/jpeg", 400, "corrupt_image"),
        (f.png_bomb(), "image/png", 413, "too_many_pixels"),
        (f.jpeg(), "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (f.jpeg(), "text/plain", 415, "unsupported_media_type"),
        (f.jpeg(), None, 415, "unsupported_media_type"),
        (b"--x\r\n", "multipart/form-data; boundary=y", 400, "malformed_multipart"),
    ],
)
def test_bad_uploads_get_json_errors(
    client: Client, data: bytes, content_type: str | None, status: int, code: str
) -> None:
    got, _, body = post(client, data, content_type)
    assert_error(got, body, status, code)


def test_body_over_the_limit_is_413(environment: dict[str, str]) -> None:
    client = client_of(app_for({**environment, "MAX_BODY_BYTES": "1000"}))
    status, _, body = post(client, f.encode(f.noisy_photo((200, 200)), "PNG"), "image/png")
    assert_error(status, body, 413, "body_too_large")


def test_model_route_describes_the_model(client: Client, model_uri: str) -> None:
    response = client.http.get("/model")
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["labels"] == list(COLOUR_LABELS)
    assert body["name"] == "test-colours" and body["version"] == "1"
    assert body["input_size"] == 32 and body["resize_size"] == 36
    assert body["normalisation"]["mean"] == [0.485, 0.456, 0.406]
    assert body["architecture"] == "mean-colour" and body["source_uri"] == model_uri
    assert body["loaded_at"] and len(body["sha256"]) == 64
    assert body["none_rule"]["score"] == "max_probability" and body["none_rule"]["threshold"] == 0.9
    assert body["none_rule"]["description"]
    assert json.loads(client.http.get("/health").body)["model_loaded"] is True


def test_model_unavailable_is_503_with_retry_after(environment: dict[str, str]) -> None:
    client = client_of(app_for({**environment, "MODEL_URI": "s3://donut-or-not-nowhere/models/x/1/model.pt"}))
    for response in (
        client.http.get("/model"),
        client.http.post("/predict", headers={"Content-Type": "image/jpeg"}, body=f.jpeg()),
    ):
        assert response.status_code == 503
        assert int(lower(response.headers)["retry-after"]) > 0
        assert json.loads(response.body)["error"]["code"] in ("model_not_found", "model_store_error")


def test_unexpected_failure_is_a_json_500_without_traceback(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(classifier, "classify", broken)  # app.py imports it at each call
    status, _, body = post(client, f.jpeg(), "image/jpeg")
    assert_error(status, body, 500, "internal_error")
    assert "secret" not in json.dumps(body) and "Traceback" not in json.dumps(body)


def test_the_page_has_words_for_every_error_code() -> None:
    from chalicelib.errors import Code
    from chalicelib.page import messages

    codes = {value for name, value in vars(Code).items() if name.isupper()}
    assert set(messages("JPEG or PNG")) == codes


def test_page_is_html_with_relative_urls(client: Client, service: ModuleType) -> None:
    response = client.http.get("/")
    assert response.status_code == 200
    assert lower(response.headers)["content-type"].startswith("text/html")
    page = response.body.decode()
    assert 'action="predict"' in page and 'name="file"' in page and 'enctype="multipart/form-data"' in page
    assert 'action="/' not in page and 'src="/' not in page and 'href="/' not in page
    assert service.store.loaded is None  # the page itself never loads the model


def test_a_twelve_megapixel_photo_is_classified(client: Client) -> None:
    photo = f.encode(f.solid(f.GREEN, size=(4000, 3000)), "JPEG", quality=80)
    status, _, body = post(client, photo, "image/jpeg")
    assert status == 200 and body["label"] == "green"


def test_importing_the_app_loads_nothing(tmp_path: Path) -> None:
    """Chalice imports app.py to package and deploy it: no model, no S3, no torch then."""
    import subprocess
    import sys

    probe = "import sys, app; assert app.store.loaded is None; assert 'torch' not in sys.modules; print('ok')"
    env = {
        "PATH": "/usr/bin:/bin",
        "MODEL_URI": "s3://nowhere/models/x/1/model.pt",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_the_plain_form_gets_an_html_answer(client: Client) -> None:
    body, content_type = f.multipart([("file", "photo.png", f.png(f.RED), "image/png")])
    response = client.http.post("/predict", headers={"Content-Type": content_type, "Accept": BROWSER_ACCEPT}, body=body)
    assert response.status_code == 200
    assert lower(response.headers)["content-type"].startswith("text/html")
    assert "It looks like: red" in response.body.decode()


def test_the_plain_form_says_none_of_these_in_html(client: Client) -> None:
    body, content_type = f.multipart([("file", "grey.png", f.png(f.GREY), "image/png")])
    response = client.http.post("/predict", headers={"Content-Type": content_type, "Accept": BROWSER_ACCEPT}, body=body)
    page = response.body.decode()
    assert response.status_code == 200 and "<h1>None of these</h1>" in page
    assert "This does not look like any of: blue, green, red. The nearest was " in page
    assert "<meter" not in page  # no bar to rank labels the photo is none of


def test_the_plain_form_says_an_unsure_answer_as_a_guess() -> None:
    from chalicelib.page import render_result

    unsure = {
        "recognised": True,
        "confidence": 0.52,
        "predictions": [
            {"display_name": "red", "probability": 0.52},
            {"display_name": "green", "probability": 0.47},
            {"display_name": "blue", "probability": 0.01},
        ],
        "model": {"name": "m", "version": "1"},
        "timing_ms": {"total": 3.0},
    }
    page = render_result(unsure, 200)
    assert "<h1>Not sure: red or green?</h1>" in page and "<title>Not sure · m</title>" in page


def test_the_plain_form_gets_html_errors_with_their_status(client: Client) -> None:
    body, content_type = f.multipart([("file", "notes.png", b"words", "image/png")])
    response = client.http.post("/predict", headers={"Content-Type": content_type, "Accept": BROWSER_ACCEPT}, body=body)
    assert response.status_code == 400
    page = response.body.decode()
    assert "Could not classify that file" in page and "not_an_image" in page


def log_lines(capsys: pytest.CaptureFixture) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_each_request_logs_one_structured_line_that_is_also_emf(client: Client, capsys: pytest.CaptureFixture) -> None:
    photo = f.jpeg(f.RED)
    post(client, photo, "image/jpeg")
    post(client, b"words", "text/plain")
    ok, refused = log_lines(capsys)
    assert ok["route"] == "/predict" and ok["status"] == 200 and ok["body_bytes"] == len(photo)
    assert ok["model_version"] == "test-colours/1" and ok["cold_start"] is True and ok["label"] == "red"
    assert ok["recognised"] is True
    assert set(ok["timing_ms"]) == {"decode", "preprocess", "inference", "total"}
    assert (
        refused["status"] == 415 and refused["error_code"] == "unsupported_media_type" and refused["level"] == "WARNING"
    )
    for line in (ok, refused):
        [directive] = line["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [["Route"]]
        assert all(metric["Name"] in line for metric in directive["Metrics"])  # EMF: each metric is a member
    assert (ok["ColdStart"], ok["Errors"], refused["ClientErrors"]) == (1, 0, 1)


def test_a_page_answer_logs_the_same_outcome_as_json(client: Client, capsys: pytest.CaptureFixture) -> None:
    """The form posted without JavaScript gets HTML; its log line still has the label."""
    for name, data in (("red.jpg", f.jpeg(f.RED)), ("notes.png", b"words")):
        body, content_type = f.multipart([("file", name, data, "image/jpeg")])
        client.http.post("/predict", headers={"Content-Type": content_type, "Accept": BROWSER_ACCEPT}, body=body)
    ok, refused = log_lines(capsys)
    assert ok["label"] == "red" and ok["recognised"] is True and ok["model_version"] == "test-colours/1"
    assert refused["status"] == 400 and refused["error_code"] == "not_an_image"


def test_logs_never_carry_the_image(client: Client, capsys: pytest.CaptureFixture) -> None:
    marker = b"SECRET-PIXELS-0123456789"
    post(client, f.jpeg() + marker, "image/jpeg")
    post(client, marker, "image/png")
    assert "SECRET-PIXELS" not in capsys.readouterr().out


def test_log_level_warning_keeps_only_failures(capsys: pytest.CaptureFixture, environment: dict[str, str]) -> None:
    client = client_of(app_for({**environment, "LOG_LEVEL": "WARNING"}))
    post(client, f.jpeg(), "image/jpeg")
    post(client, b"", "image/jpeg")
    assert [line["status"] for line in log_lines(capsys)] == [400]


@pytest.mark.parametrize("query", ["?explain=2", "?explain=yes", "?explain="])
def test_bad_explain_is_400(client: Client, query: str) -> None:
    status, _, body = post(client, f.jpeg(), "image/jpeg", query)
    assert_error(status, body, 400, "bad_explain")
    assert body["error"]["message"].startswith("explain must be 1, 0, true or false")


def test_a_model_without_activation_maps_answers_explain_without_them(client: Client) -> None:
    """The colour model is a hand-made module, exported as files made before maps were."""
    status, _, body = post(client, f.png(f.RED), "image/png", "?explain=1")
    assert status == 200 and body["label"] == "red" and "explanation" not in body


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory: pytest.TempPathFactory) -> Client:
    cache = tmp_path_factory.mktemp("demo-cache")
    return client_of(
        app_for({"MODEL_URI": (ROOT / "demo" / "model" / "model.onnx").as_uri(), "MODEL_CACHE_DIR": str(cache)})
    )


@pytest.mark.parametrize("corner", [(0, 0), (256, 0), (0, 256), (256, 256)])
def test_explain_shows_where_the_demo_model_looked(demo_client: Client, corner: tuple[int, int]) -> None:
    """The demo's example donut in one corner of a plain grey photo: the top label's map
    (whichever food the demo takes the small plate for, and whether or not its rule
    accepts a quarter-frame food on bare grey) has its weight in that corner's half of the
    grid, both ways."""
    from chalicelib.runtimes import load_runtime
    from devtools.demo_model import SERVED

    photo = Image.new("RGB", (512, 512), (200, 200, 200))
    photo.paste(Image.open(ROOT / "chalicelib" / "examples" / "donut.jpg"), corner)
    upload = io.BytesIO()
    photo.save(upload, "JPEG", quality=90)
    status, _, body = post(demo_client, upload.getvalue(), "image/jpeg", "?explain=1")
    assert status == 200
    explanation = body["explanation"]
    assert explanation["label"] == body["predictions"][0]["label"]
    # resized to resize_size and centre-cropped to input_size: the model sees the middle
    meta = load_runtime(SERVED).metadata
    seen = meta.input_size / meta.resize_size
    box = {"left": (1 - seen) / 2, "top": (1 - seen) / 2, "width": seen, "height": seen}
    assert explanation["box"] == pytest.approx(box, abs=1 / meta.resize_size)  # whole pixels
    grid = np.array(explanation["map"])
    assert grid.shape[0] == grid.shape[1] > 1 and grid.min() == 0 and grid.max() == 1
    rows, cols = np.indices(grid.shape)
    centre = ((rows * grid).sum() / grid.sum(), (cols * grid).sum() / grid.sum())
    half = (grid.shape[0] - 1) / 2
    assert [c < half for c in centre] == [corner[1] == 0, corner[0] == 0], centre
    assert "explanation" not in post(demo_client, upload.getvalue(), "image/jpeg")[2]
