"""The HTML pages, rendered from the Jinja2 templates shipped inside chalicelib/."""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.errors import Code
from chalicelib.image_formats import FORMATS, MEDIA_TYPES
from chalicelib.uploads import FILE_FIELD

if TYPE_CHECKING:
    import jinja2

# What the page calls each format; and suffixes a browser may not map to a media type
# (desktop Chrome on Linux or Windows gives an iPhone's .heic no type), so that the file
# picker still offers those files.
_FORMAT_NAMES = {"WEBP": "WebP", "HEIF": "HEIC"}
_UNTYPED_SUFFIXES = (".heic", ".heif", ".avif")
_OPERATOR = " Trying again will not help until the service's operator "
_RELOAD = "The page asked for something the service does not understand. Reload the page and try again."
_DAMAGED = "This service's model file is damaged, or of a kind it cannot run." + _OPERATOR + "replaces it."


def messages(format_names: str) -> dict[str, str]:
    """What the page says for each error code, in words: whether trying again will help,
    and when ({wait}: the Retry-After seconds); every code has one (a test checks)."""
    return {
        Code.BAD_EXPLAIN: _RELOAD,
        Code.BAD_TOP_K: _RELOAD,
        Code.BAD_UPLOAD_ID: _RELOAD,
        Code.BODY_AND_UPLOAD: _RELOAD,
        Code.UPLOAD_NOT_FOUND: "The photo did not reach the service's storage. Try again.",
        Code.UPLOADS_NOT_CONFIGURED: "That photo is too large to send. Try a smaller one.",
        Code.UPLOAD_STORE_ERROR: "The service cannot store large photos just now. Try again in {wait} seconds.",
        Code.MALFORMED_MULTIPART: "The photo did not arrive whole. Try again.",
        Code.MISSING_FILE: "No photo arrived. Choose one and try again.",
        Code.TOO_MANY_FILES: "Send one photo at a time.",
        Code.UNSUPPORTED_MEDIA_TYPE: f"That kind of file can't be read here. Try a {format_names} photo.",
        Code.UNSUPPORTED_IMAGE: (
            "That picture is stored in a way this service cannot read. Save it as a JPEG and try again."
        ),
        Code.NOT_AN_IMAGE: "That file doesn't look like a picture. Try another photo.",
        Code.CORRUPT_IMAGE: "That picture seems damaged or incomplete. Try another photo.",
        Code.EMPTY_BODY: "That file is empty. Try another photo.",
        Code.EMPTY_FILE: "That file is empty. Try another photo.",
        Code.BODY_TOO_LARGE: "That photo is too large to send. Try a smaller one.",
        Code.TOO_MANY_PIXELS: "That picture has too many pixels. Try a smaller one.",
        Code.MODEL_LOADING: "The model is still loading. Try again in {wait} seconds.",
        Code.MODEL_STORE_UNREACHABLE: (
            "The service cannot reach the store that holds its model just now. Try again in {wait} seconds."
        ),
        Code.MODEL_STORE_ERROR: (
            "The store that holds the model did not hand it over just now. Try again in {wait} seconds."
        ),
        Code.MODEL_CACHE_UNWRITABLE: (
            "The service has no room to unpack its model just now. Try again in {wait} seconds."
        ),
        Code.MODEL_NOT_CONFIGURED: "This service has not been given a model yet." + _OPERATOR + "names one.",
        Code.MODEL_URI_INVALID: "This service's model address is mistyped." + _OPERATOR + "corrects it.",
        Code.MODEL_NOT_FOUND: (
            "This service's model is not where it was told to look." + _OPERATOR + "publishes it there."
        ),
        Code.MODEL_FORBIDDEN: "This service is not allowed to read its model." + _OPERATOR + "grants it access.",
        Code.MODEL_UNVERIFIABLE: (
            "This service's model was not published with a checksum, so it is not loaded."
            + _OPERATOR
            + "publishes it again."
        ),
        Code.MODEL_CORRUPT: _DAMAGED,
        Code.MODEL_INVALID: _DAMAGED,
        Code.RUNTIME_UNAVAILABLE: (
            "This service was deployed without the software its model needs." + _OPERATOR + "deploys it with it."
        ),
        Code.INTERNAL_ERROR: (
            "Something went wrong in the service. Try again; if it keeps happening, tell its operator."
        ),
    }


@functools.cache
def _templates() -> jinja2.Environment:
    """Jinja2 is imported on the first page, not at start: a cold prediction never needs it."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


# A recognised answer is said as a guess ("Not sure: a or b?") when its top probability is
# under UNSURE_TOP or within UNSURE_MARGIN of the second's: the page's JavaScript and its
# form's HTML answer both read these.
UNSURE_TOP, UNSURE_MARGIN = 0.6, 0.2
EXAMPLES = Path(__file__).parent / "examples"
EXAMPLES_FOR = EXAMPLES / "model.txt"  # the name of the model they were rendered for


@functools.cache
def examples() -> dict[str, str]:
    """label -> the demo's example photo of it as a data: URL (chalicelib/examples/, about
    12 KB each, written by python -m devtools.demo_model rebuild): in the page itself, so
    that no binary route is needed behind API Gateway. The page offers those whose label
    the served model has, when it is the model they were made for (EXAMPLES_FOR)."""
    return {
        path.stem: "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()
        for path in sorted(EXAMPLES.glob("*.jpg"))
    }


@functools.cache
def examples_for() -> str:
    """The name of the model the example photos were rendered for: read once, as examples() is."""
    return EXAMPLES_FOR.read_text().strip()


def render_index(max_body_bytes: int, api_base: str = "") -> str:
    """api_base: empty for URLs relative to the page (served by the app itself), or the
    API's URL for a copy of the page hosted elsewhere (devtools/static_page.py)."""
    names = [_FORMAT_NAMES.get(name, name) for name in FORMATS]
    format_names = ", ".join(names[:-1]) + " or " + names[-1]
    return (
        _templates()
        .get_template("index.html")
        .render(
            accept=",".join([*MEDIA_TYPES, *_UNTYPED_SUFFIXES]),
            format_names=format_names,
            messages=messages(format_names),
            examples=examples(),
            examples_for=examples_for(),
            unsure_top=UNSURE_TOP,
            unsure_margin=UNSURE_MARGIN,
            file_field=FILE_FIELD,
            max_body_bytes=max_body_bytes,
            api_base=api_base,
        )
    )


def render_result(body: dict[str, Any], status: int) -> str:
    """The answer (or error) to the page's form posted without JavaScript."""
    return _templates().get_template("result.html").render(answer=body, status=status, said=sureness(body))


def sureness(body: dict[str, Any]) -> str:
    """refused, unsure or sure: how the page words an answer (an error: sure, unused)."""
    if body.get("recognised") is False:
        return "refused"
    ranked = [p["probability"] for p in body.get("predictions", [])]
    if len(ranked) > 1 and (ranked[0] < UNSURE_TOP or ranked[0] - ranked[1] < UNSURE_MARGIN):
        return "unsure"
    return "sure"
