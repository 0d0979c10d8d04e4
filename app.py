"""donut-or-not: routes only; the work is in chalicelib/."""

from __future__ import annotations

import time
from typing import Callable, Mapping, cast

from chalice import Chalice, CORSConfig, Response
from chalice.app import Request, S3Event
from chalicelib import presigned_uploads
from chalicelib.errors import BadRequest, Code
from chalicelib.model_store import ModelStore
from chalicelib.observability import emit, request_record
from chalicelib.page import render_index, render_result
from chalicelib.query import parse_explain, parse_top_k
from chalicelib.responses import HTML, Answer, answered
from chalicelib.settings import Settings
from chalicelib.snapstart import register as register_snapstart_hooks
from chalicelib.uploads import ACCEPTED_TYPES, image_bytes

app = Chalice(app_name="donut-or-not")
# API Gateway base64-encodes these, so uploads reach the function byte for byte.
app.api.binary_types = sorted(set(app.api.binary_types) | set(ACCEPTED_TYPES))

settings = Settings.from_env()
store = ModelStore(settings)  # loads nothing until a request needs the model
register_snapstart_hooks(store)  # in Lambda: the model is loaded before a SnapStart snapshot
if settings.cors_allow_origin:  # off unless a stage names the origin of a page hosted elsewhere
    app.api.cors = CORSConfig(allow_origin=settings.cors_allow_origin, max_age=600)


@app.middleware("http")
def log_request(request: Request, get_response: Callable[[Request], Response]) -> Response:
    started = time.perf_counter()
    response = get_response(request)
    context = request.context or {}
    emit(
        request_record(
            context.get("resourcePath", request.path),
            request.method,
            context.get("requestId", ""),
            response.status_code,
            len(request.raw_body or b""),
            (time.perf_counter() - started) * 1000,
            response.answer if isinstance(response, Answer) else None,
        ),
        settings.log_level,
    )
    return response


@app.route("/", methods=["GET"])
@answered(app)
def index() -> Response:
    return Response(render_index(settings.max_body_bytes), headers={"Content-Type": HTML})


@app.route("/health", methods=["GET"])
@answered(app)
def health() -> dict[str, object]:
    return {"status": "ok", "model_loaded": store.loaded is not None}


@app.route("/model", methods=["GET"])
@answered(app)
def model() -> dict[str, object]:
    return store.get()[0].describe()


# Every content type reaches the view, so unsupported ones get our JSON 415, not Chalice's.
# API_KEY_REQUIRED (per stage) makes API Gateway demand a key: a guard for a public endpoint.
@app.route("/predict", methods=["POST"], content_types=["*/*"], api_key_required=settings.api_key_required)
@answered(app, html_page=render_result)
def predict() -> dict[str, object]:
    started = time.perf_counter()
    request = app.current_request
    assert request is not None  # Chalice sets it before any view runs
    body = cast(bytes, request.raw_body or b"")  # bytes in chalice local and behind API Gateway alike
    query: Mapping[str, str] = request.query_params or {}
    top_k, explain = parse_top_k(query.get("top_k")), parse_explain(query.get("explain"))
    if "upload" in query:  # a photo sent to S3 with POST /uploads' form
        if body:
            raise BadRequest(Code.BODY_AND_UPLOAD, "send the image as the body or as ?upload=ID, not both")
        data = presigned_uploads.uploaded_image(settings, query["upload"])
    else:
        data = image_bytes(request.headers.get("content-type"), body, settings.max_body_bytes)
    loaded, cold = store.get()
    # Imported here, not above: numpy and Pillow are heavy, and a cold start loads them
    # while the model downloads (store.get), not before the first byte is asked for.
    from chalicelib.classifier import classify

    return classify(data, loaded, top_k, settings.max_pixels, cold=cold, started=started, explain=explain)


# A presigned S3 POST for a photo over the payload limit; POST /predict?upload=ID answers it.
@app.route("/uploads", methods=["POST"], content_types=["*/*"], api_key_required=settings.api_key_required)
@answered(app)
def new_upload() -> dict[str, object]:
    request = app.current_request
    assert request is not None  # Chalice sets it before any view runs
    query: Mapping[str, str] = request.query_params or {}
    return presigned_uploads.new_upload(settings, query.get("type"))


# Only with a batch bucket configured: SAM packaging cannot express S3 events on an
# existing bucket, so stages without one stay packageable as SAM (README, "Deploying").
if settings.batch_bucket:
    from chalicelib.batch import INCOMING_PREFIX, classify_object

    @app.on_s3_event(bucket=settings.batch_bucket, prefix=INCOMING_PREFIX, events=["s3:ObjectCreated:*"])
    def classify_upload(event: S3Event) -> None:
        classify_object(event.bucket, event.key, store, settings)
