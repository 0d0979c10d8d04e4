"""Request body + Content-Type → the uploaded image's bytes, kept in memory only."""

from __future__ import annotations

import logging

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from chalicelib.errors import BadRequest, Code, PayloadTooLarge, UnsupportedMediaType
from chalicelib.image_formats import MEDIA_TYPES

# Bodies that are the image itself; octet-stream is sniffed from the bytes like the rest.
IMAGE_TYPES = (*MEDIA_TYPES, "application/octet-stream")
MULTIPART = "multipart/form-data"
ACCEPTED_TYPES = IMAGE_TYPES + (MULTIPART,)
FILE_FIELD = "file"

# python-multipart logs a warning per malformed byte it meets: client-made noise in the
# logs, when our own 400 already says what is wrong.
logging.getLogger("python_multipart").setLevel(logging.ERROR)

# `curl --data-binary @x.jpg URL` without -H sends this. Through API Gateway such a body
# is not a binary media type and arrives re-encoded as text, so it is refused, with the fix.
_FORM = "application/x-www-form-urlencoded"


def check_size(data: bytes, max_bytes: int, what: str) -> None:
    """what: the body, the object… (data may be cut at max_bytes + 1: enough to tell)."""
    if len(data) > max_bytes:
        limit = f"{max_bytes / 2**20:.3g} MiB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
        raise PayloadTooLarge(Code.BODY_TOO_LARGE, f"{what} is over the limit of {limit}")


def unsupported(what: str, media: str, supported: tuple[str, ...]) -> UnsupportedMediaType:
    """The 415 for a type this service does not read; what: how the client named it."""
    return UnsupportedMediaType(
        Code.UNSUPPORTED_MEDIA_TYPE,
        f"{what} {media[:60] or '(none)'!r} is not supported. Supported: {', '.join(supported)}",
    )


def image_bytes(content_type: str | None, body: bytes, max_bytes: int) -> bytes:
    """Returns the image bytes carried by a request, or raises the error a client should see."""
    check_size(body, max_bytes, "the body")
    media_type, params = parse_options_header(content_type or "")
    media = media_type.decode("latin-1").lower()
    if media in IMAGE_TYPES:
        return body
    if media == MULTIPART:
        return _file_part(body, params.get(b"boundary"))
    if media == _FORM:
        raise UnsupportedMediaType(
            Code.UNSUPPORTED_MEDIA_TYPE,
            f"the body was sent as {_FORM} (curl --data-binary does that by default); send the "
            f"image with its own type, e.g. curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg'. "
            f"Supported: {', '.join(ACCEPTED_TYPES)}",
        )
    raise unsupported("Content-Type", media, ACCEPTED_TYPES)


class _Part:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.data = bytearray()


def _parts(body: bytes, boundary: bytes) -> list[_Part]:
    parts: list[_Part] = []
    field, value = bytearray(), bytearray()

    def on_header_end() -> None:
        parts[-1].headers[field.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
        field.clear()
        value.clear()

    try:
        # Also in the try: the parser refuses a boundary longer than it allows (256 bytes).
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": lambda: parts.append(_Part()),
                "on_header_field": lambda data, start, end: field.extend(data[start:end]),
                "on_header_value": lambda data, start, end: value.extend(data[start:end]),
                "on_header_end": on_header_end,
                "on_part_data": lambda data, start, end: parts[-1].data.extend(data[start:end]),
            },
        )
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:  # the base of python-multipart's errors
        raise BadRequest(Code.MALFORMED_MULTIPART, f"the multipart body is malformed: {exc}") from exc
    if parser.state != MultipartState.END:
        raise BadRequest(Code.MALFORMED_MULTIPART, "the multipart body is incomplete or its boundary does not match")
    return parts


def _file_part(body: bytes, boundary: bytes | None) -> bytes:
    if not boundary:
        raise BadRequest(Code.MALFORMED_MULTIPART, "multipart/form-data needs a boundary parameter")
    files = []
    for part in _parts(body, boundary):
        disposition, params = parse_options_header(part.headers.get("content-disposition", ""))
        if disposition == b"form-data" and params.get(b"name") == FILE_FIELD.encode() and b"filename" in params:
            files.append(part)
    if not files:
        raise BadRequest(Code.MISSING_FILE, f"the form has no file field named {FILE_FIELD!r}")
    if len(files) > 1:
        raise BadRequest(Code.TOO_MANY_FILES, f"send one file per request, got {len(files)}")
    if not files[0].data:  # what a browser form sends when no file was chosen
        raise BadRequest(Code.EMPTY_FILE, f"the form's {FILE_FIELD!r} field is empty: choose an image")
    return bytes(files[0].data)
