"""The query strings of the UI's lists: filters and the page, as a link and back."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode


def query_string(values: Mapping[str, object]) -> str:
    """``?a=1&b=x`` of the values that are set (``"?"`` when none is)."""
    pairs = [(k, str(v)) for k, v in values.items() if v not in ("", None)]
    return "?" + urlencode(pairs) if pairs else "?"


def id_param(value: str | None) -> int | None:
    """A record id from the query string (digits only, shorter than any overflow)."""
    if value and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def id_list(value: str | None) -> list[int]:
    """The record ids of a comma-separated query parameter; anything else in it is ignored."""
    return [i for i in (id_param(part) for part in (value or "").split(",")) if i is not None]
