"""Errors a client can cause or should know about (chalicelib/responses.py turns each into a
response), and the one a model file that cannot be loaded raises."""

from __future__ import annotations

from typing import Any


class Code:
    """Every error code a client can see, named once (the README's error table and
    openapi.json are tied to these by tests/test_docs.py)."""

    # 400
    BAD_EXPLAIN = "bad_explain"
    BAD_TOP_K = "bad_top_k"
    BAD_UPLOAD_ID = "bad_upload_id"
    BODY_AND_UPLOAD = "body_and_upload"
    CORRUPT_IMAGE = "corrupt_image"
    EMPTY_BODY = "empty_body"
    EMPTY_FILE = "empty_file"
    MALFORMED_MULTIPART = "malformed_multipart"
    MISSING_FILE = "missing_file"
    NOT_AN_IMAGE = "not_an_image"
    TOO_MANY_FILES = "too_many_files"
    UNSUPPORTED_IMAGE = "unsupported_image"
    # 404
    UPLOAD_NOT_FOUND = "upload_not_found"
    UPLOADS_NOT_CONFIGURED = "uploads_not_configured"
    # 413
    BODY_TOO_LARGE = "body_too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    # 415
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # 503
    MODEL_CACHE_UNWRITABLE = "model_cache_unwritable"
    MODEL_CORRUPT = "model_corrupt"
    MODEL_FORBIDDEN = "model_forbidden"
    MODEL_INVALID = "model_invalid"
    MODEL_LOADING = "model_loading"
    MODEL_NOT_CONFIGURED = "model_not_configured"
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_STORE_ERROR = "model_store_error"
    MODEL_STORE_UNREACHABLE = "model_store_unreachable"
    MODEL_UNVERIFIABLE = "model_unverifiable"
    MODEL_URI_INVALID = "model_uri_invalid"
    RUNTIME_UNAVAILABLE = "runtime_unavailable"
    UPLOAD_STORE_ERROR = "upload_store_error"
    # 500
    INTERNAL_ERROR = "internal_error"


class ApiError(Exception):
    """An error with the HTTP status, machine-readable code and message a client sees."""

    status = 500

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(ApiError):
    status = 400


class NotFound(ApiError):
    status = 404


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class Unavailable(ApiError):
    """Something the answer needs (the model, an upload's store) cannot be had right now."""

    status = 503

    def __init__(self, code: str, message: str, retry_after_s: int = 5) -> None:
        super().__init__(code, message, {"Retry-After": str(retry_after_s)})


class ModelLoadError(ValueError):
    """The file is not a model this service can load: the one error type loading raises
    (the store turns it into a 503 model_invalid)."""
