"""Turns what a view raises into the JSON error body every client can rely on."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from chalice import Response

from chalicelib.errors import ApiError

log = logging.getLogger("donut-or-not")


def error_response(error: ApiError) -> Response:
    return Response(body=error.body(), status_code=error.status, headers=error.headers)


def json_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """ApiError → its status and JSON body; anything else → a JSON 500 without a traceback
    (the traceback goes to the log, never to the client)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ApiError as error:
            return error_response(error)
        except Exception:
            log.exception("unhandled error in %s", view.__name__)
            return error_response(ApiError("internal_error", "the server failed to handle this request"))

    return wrapper
