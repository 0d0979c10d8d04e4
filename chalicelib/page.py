"""The HTML page, rendered from the Jinja2 template shipped inside chalicelib/."""

from __future__ import annotations

from pathlib import Path

import jinja2

from chalicelib.uploads import FILE_FIELD, IMAGE_TYPES

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_index(max_body_bytes: int) -> str:
    return _TEMPLATES.get_template("index.html").render(
        accept=",".join(t for t in IMAGE_TYPES if t.startswith("image/")),
        file_field=FILE_FIELD,
        max_body_mb=round(max_body_bytes / 1024 / 1024, 1),
    )
