"""The /predict query string. Light on purpose: it is checked before the model (and numpy)
is loaded, so a bad parameter costs a cold container nothing."""

from __future__ import annotations

from chalicelib.errors import BadRequest, Code

DEFAULT_TOP_K = 3
EXPLAIN_VALUES = {"1": True, "true": True, "0": False, "false": False}


def parse_top_k(raw: str | None) -> int:
    """top_k from the query string: a positive integer (classify clamps it to the labels)."""
    if raw is None:
        return DEFAULT_TOP_K
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise BadRequest(Code.BAD_TOP_K, f"top_k must be a positive integer, got {raw[:40]!r}")
    return value


def parse_explain(raw: str | None) -> bool:
    """explain from the query string: whether to add where the model looked."""
    if raw is None:
        return False
    if raw.lower() not in EXPLAIN_VALUES:
        raise BadRequest(Code.BAD_EXPLAIN, f"explain must be 1, 0, true or false, got {raw[:40]!r}")
    return EXPLAIN_VALUES[raw.lower()]
