"""The HTML pages, rendered from the Jinja2 templates shipped inside chalicelib/."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from chalicelib.uploads import FILE_FIELD, FORMATS, MEDIA_TYPES

# What the page calls each format; and suffixes a browser may not map to a media type
# (desktop Chrome on Linux or Windows gives an iPhone's .heic no type), so that the file
# picker still offers those files.
_FORMAT_NAMES = {"WEBP": "WebP", "HEIF": "HEIC"}
_UNTYPED_SUFFIXES = (".heic", ".heif", ".avif")


@functools.cache
def _templates() -> Any:
    """Jinja2 is imported on the first page, not at start: a cold prediction never needs it."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def render_index(max_body_bytes: int, api_base: str = "") -> str:
    """api_base: empty for URLs relative to the page (served by the app itself), or the
    API's URL for a copy of the page hosted elsewhere (devtools/static_page.py)."""
    names = [_FORMAT_NAMES.get(name, name) for name in FORMATS]
    return _templates().get_template("index.html").render(
        accept=",".join([*MEDIA_TYPES, *_UNTYPED_SUFFIXES]),
        format_names=", ".join(names[:-1]) + " or " + names[-1],
        file_field=FILE_FIELD,
        max_body_bytes=max_body_bytes,
        api_base=api_base,
    )


def render_result(body: dict[str, Any], status: int) -> str:
    """The answer (or error) to the page's form posted without JavaScript."""
    return _templates().get_template("result.html").render(answer=body, status=status)
