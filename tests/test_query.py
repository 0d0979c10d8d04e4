"""chalicelib/query.py: the /predict query string, checked before any model is loaded."""

from __future__ import annotations

import pytest
from chalicelib.errors import BadRequest
from chalicelib.query import DEFAULT_TOP_K, parse_top_k


@pytest.mark.parametrize(
    "raw, top_k", [(None, DEFAULT_TOP_K), ("1", 1), ("3", 3), (" 7 ", 7), ("1000000000", 1000000000)]
)
def test_positive_integers_are_taken_as_they_are(raw: str | None, top_k: int) -> None:
    assert parse_top_k(raw) == top_k


@pytest.mark.parametrize("raw", ["0", "-1", "", "two", "1.5", "9" * 5000])
def test_anything_else_is_a_400_that_quotes_a_bounded_part_of_it(raw: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_top_k(raw)
    assert err.value.code == "bad_top_k" and len(err.value.message) < 120
