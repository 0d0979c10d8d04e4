"""Turns what a view returns or raises into the response every client can rely on: JSON,
or for a browser's plain form post, the same answer as an HTML page."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from chalice import Chalice, Response

from chalicelib.errors import ApiError, Code

log = logging.getLogger("donut-or-not")

JSON = "application/json"
HTML = "text/html; charset=utf-8"
HtmlPage = Callable[[dict[str, Any], int], str]  # (JSON body, status) → page


def wants_html(accept: str | None) -> bool:
    """A browser submitting the page's form without JavaScript prefers text/html; fetch(),
    curl and scripts do not. Preference is the Accept header's q-value (RFC 9110), and
    between equal ones, the type listed first."""
    weights: dict[str, tuple[float, int]] = {}
    for position, part in enumerate((accept or "").split(",")):
        kind, *params = (piece.strip().lower() for piece in part.split(";"))
        q = next((value for name, _, value in (p.partition("=") for p in params) if name.strip() == "q"), "1")
        try:
            weights.setdefault(kind, (float(q), -position))
        except ValueError:
            continue  # a malformed q: as if the type were not listed
    html, json = weights.get("text/html", (0.0, 0)), weights.get(JSON, (0.0, 0))
    return html[0] > 0 and html > json


class Answer(Response):
    """A response that keeps the answer it carries as a dict, whether it is sent as JSON or
    as a page: the request's log line is built from it, never parsed back from the body."""

    def __init__(
        self, answer: dict[str, Any], body: Any, status_code: int, headers: dict[str, str | list[str]]
    ) -> None:
        super().__init__(body, status_code=status_code, headers=headers)
        self.answer = answer


def respond(work: Callable[[], Any], html_page: HtmlPage | None = None) -> Response:
    """Runs work: a dict → 200; ApiError → its status and error body; anything else → a
    500 without a traceback (the traceback goes to the log, never to the client). A
    Response work returns (a page) goes out as it is."""
    headers: dict[str, str] = {}
    try:
        result, status = work(), 200
        if isinstance(result, Response):
            return result
    except ApiError as error:
        result, status, headers = error.body(), error.status, error.headers
    except Exception:
        log.exception("unhandled error")
        failure = ApiError(Code.INTERNAL_ERROR, "the server failed to handle this request")
        result, status = failure.body(), failure.status
    if html_page is not None:
        return Answer(result, html_page(result, status), status, {**headers, "Content-Type": HTML})
    return Answer(result, result, status, {**headers, "Content-Type": JSON})


def answered(
    app: Chalice, html_page: HtmlPage | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """The one door from a view to its response, for every route: what the view returns or
    raises goes through respond(). html_page: how this route answers a client that prefers
    HTML (the page's form posted without JavaScript); everyone else gets JSON."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            request = app.current_request
            assert request is not None  # Chalice sets it before any view runs
            browser = html_page is not None and wants_html(request.headers.get("accept"))
            return respond(lambda: view(*args, **kwargs), html_page if browser else None)

        return wrapper

    return decorate
