"""Turns what a view returns or raises into the JSON every client can rely on."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from chalice import Response

from chalicelib.errors import ApiError

log = logging.getLogger("donut-or-not")


JSON = "application/json"


def error_response(error: ApiError) -> Response:
    return Response(body=error.body(), status_code=error.status, headers={"Content-Type": JSON, **error.headers})


def json_route(view: Callable[..., Any]) -> Callable[..., Response]:
    """A returned dict → 200 JSON; ApiError → its status and JSON body; anything else → a
    JSON 500 without a traceback (the traceback goes to the log, never to the client)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            result = view(*args, **kwargs)
            return result if isinstance(result, Response) else Response(body=result, headers={"Content-Type": JSON})
        except ApiError as error:
            return error_response(error)
        except Exception:
            log.exception("unhandled error in %s", view.__name__)
            return error_response(ApiError("internal_error", "the server failed to handle this request"))

    return wrapper
