"""Errors a client can cause or should know about; chalicelib/responses.py turns each into a response."""

from __future__ import annotations


class ApiError(Exception):
    """An error with the HTTP status, machine-readable code and message a client sees."""

    status = 500

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(ApiError):
    status = 400


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class ModelUnavailable(ApiError):
    status = 503

    def __init__(self, code: str, message: str, retry_after_s: int = 5) -> None:
        super().__init__(code, message, {"Retry-After": str(retry_after_s)})
