"""chalicelib/responses.py: who gets HTML, and what a view's result or error becomes."""

from __future__ import annotations

import json

import pytest
from chalicelib.errors import BadRequest
from chalicelib.responses import respond, wants_html

from tests.support import BROWSER_ACCEPT


@pytest.mark.parametrize(
    "accept, html",
    [
        (BROWSER_ACCEPT, True),
        ("application/json", False),
        ("*/*", False),
        (None, False),
        ("", False),
        ("application/json, text/html", False),
        ("text/html", True),
        # q-values decide before the order does
        ("text/html;q=0.1, application/json", False),
        ("application/json;q=0.5, text/html", True),
        ("text/html;q=0", False),
        ("text/html; q=0.9, application/json; q=0.9", True),
        ("text/html;q=oops", False),
    ],
)
def test_only_clients_preferring_html_get_html(accept: str | None, html: bool) -> None:
    assert wants_html(accept) is html


def test_an_api_error_becomes_its_status_and_json_body() -> None:
    def refuse() -> dict:
        raise BadRequest("bad_top_k", "top_k must be a positive integer")

    response = respond(refuse)
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/json"
    assert response.body == {"error": {"code": "bad_top_k", "message": "top_k must be a positive integer"}}


def test_anything_else_is_a_500_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    response = respond(lambda: 1 / 0)
    assert response.status_code == 500 and response.body["error"]["code"] == "internal_error"
    assert "ZeroDivisionError" not in json.dumps(response.body) and "ZeroDivisionError" in caplog.text


def test_a_browser_form_gets_the_same_answer_as_a_page() -> None:
    response = respond(lambda: {"ok": True}, lambda body, status: f"<p>{body} {status}</p>")
    assert response.status_code == 200 and str(response.headers["Content-Type"]).startswith("text/html")
    assert response.body == "<p>{'ok': True} 200</p>"


def test_answered_is_the_door_for_json_and_html_alike() -> None:
    from chalice import Chalice
    from chalice.test import Client
    from chalicelib.responses import answered

    app = Chalice(app_name="door")

    @app.route("/fine")
    @answered(app, html_page=lambda body, status: f"<p>{status} {sorted(body)}</p>")
    def fine() -> dict:
        return {"ok": True}

    @app.route("/refused")
    @answered(app, html_page=lambda body, status: f"<p>{status} {body['error']['code']}</p>")
    def refused() -> dict:
        raise BadRequest("bad_top_k", "no")

    with Client(app) as client:
        assert json.loads(client.http.get("/fine").body) == {"ok": True}
        assert client.http.get("/fine", headers={"Accept": BROWSER_ACCEPT}).body == b"<p>200 ['ok']</p>"
        response = client.http.get("/refused")
        assert response.status_code == 400 and json.loads(response.body)["error"]["code"] == "bad_top_k"
        response = client.http.get("/refused", headers={"Accept": BROWSER_ACCEPT})
        assert response.status_code == 400 and response.body == b"<p>400 bad_top_k</p>"
