from __future__ import annotations

import pytest
from chalicelib.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from chalicelib.uploads import IMAGE_TYPES, image_bytes

from tests import imagefiles as f

LIMIT = 6 * 1024 * 1024


@pytest.mark.parametrize("content_type", IMAGE_TYPES)
def test_image_bodies_are_the_image(content_type: str) -> None:
    assert image_bytes(content_type, b"bytes", LIMIT) == b"bytes"


def test_media_type_parameters_and_case_are_ignored() -> None:
    assert image_bytes("Image/JPEG; charset=binary", b"x", LIMIT) == b"x"


def test_form_urlencoded_gets_a_415_that_says_which_header_to_send() -> None:
    with pytest.raises(UnsupportedMediaType) as err:
        image_bytes("application/x-www-form-urlencoded", f.jpeg(), LIMIT)
    assert "-H 'Content-Type: image/jpeg'" in err.value.message


@pytest.mark.parametrize("content_type", ["text/plain", "video/mp4", "application/json", None, ""])
def test_other_types_get_a_415_listing_the_supported_ones(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as err:
        image_bytes(content_type, b"x", LIMIT)
    assert "image/png" in err.value.message and "multipart/form-data" in err.value.message


def test_body_over_the_limit_is_413() -> None:
    with pytest.raises(PayloadTooLarge) as err:
        image_bytes("image/jpeg", b"x" * 101, 100)
    assert err.value.code == "body_too_large"
    with pytest.raises(PayloadTooLarge) as err:
        image_bytes("image/jpeg", b"x" * (6 * 2**20 + 1), 6 * 2**20)
    assert err.value.message == "the body is over the limit of 6 MiB"  # as people read it, not 6291456 bytes


def test_multipart_file_field_is_extracted() -> None:
    photo = f.jpeg()
    body, content_type = f.multipart(
        [
            ("note", None, b"hello", "text/plain"),
            ("file", "photo.jpg", photo, "image/jpeg"),
        ]
    )
    assert image_bytes(content_type, body, LIMIT) == photo


def test_multipart_keeps_binary_bytes_exactly() -> None:
    data = bytes(range(256)) * 10 + b"\r\n--not-the-boundary\r\n"
    body, content_type = f.multipart([("file", "x.bin", data, "application/octet-stream")])
    assert image_bytes(content_type, body, LIMIT) == data


@pytest.mark.parametrize(
    "parts, code",
    [
        ([("note", None, b"hello", "text/plain")], "missing_file"),
        ([("image", "photo.jpg", b"x", "image/jpeg")], "missing_file"),
        ([("file", "", b"", "application/octet-stream")], "empty_file"),  # a form sent with no file chosen
        ([("file", "a.jpg", b"x", "image/jpeg"), ("file", "b.jpg", b"y", "image/jpeg")], "too_many_files"),
    ],
)
def test_multipart_without_exactly_one_nonempty_file_is_400(parts, code: str) -> None:
    body, content_type = f.multipart(parts)
    with pytest.raises(BadRequest) as err:
        image_bytes(content_type, body, LIMIT)
    assert err.value.code == code


def test_multipart_with_another_boundary_is_400() -> None:
    body, _ = f.multipart([("file", "a.jpg", b"x", "image/jpeg")], boundary="one")
    with pytest.raises(BadRequest) as err:
        image_bytes("multipart/form-data; boundary=two", body, LIMIT)
    assert err.value.code == "malformed_multipart"


def test_multipart_cut_short_is_400() -> None:
    body, content_type = f.multipart([("file", "a.jpg", f.jpeg(), "image/jpeg")])
    with pytest.raises(BadRequest) as err:
        image_bytes(content_type, body[: len(body) // 2], LIMIT)
    assert err.value.code == "malformed_multipart"


def test_multipart_without_boundary_is_400() -> None:
    with pytest.raises(BadRequest) as err:
        image_bytes("multipart/form-data", b"--x\r\n", LIMIT)
    assert err.value.code == "malformed_multipart"


def test_a_boundary_longer_than_the_parser_allows_is_400() -> None:
    """Found by tests/test_fuzz.py: python-multipart refuses it with an error of its own."""
    body, content_type = f.multipart([("file", "a.jpg", b"x", "image/jpeg")], boundary="b" * 300)
    with pytest.raises(BadRequest) as err:
        image_bytes(content_type, body, LIMIT)
    assert err.value.code == "malformed_multipart"
