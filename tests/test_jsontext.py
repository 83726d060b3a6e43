"""JSON text of the store's columns: orjson, read and written like the standard library."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.tickets import jsontext

TEXTS = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXTS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
    max_leaves=20,
)


def standard(value: object) -> str:
    """The text the store wrote with the standard library before."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@given(VALUES)
def test_text_reads_alike_both_ways(value: Any) -> None:
    """What jsontext writes, the standard library reads as the same value, and what the
    standard library wrote (rows of older versions) jsontext reads as the same value."""
    assert json.loads(jsontext.dumps(value)) == value
    assert jsontext.loads(standard(value)) == value
    assert jsontext.loads(jsontext.dumps(value)) == value


@given(st.dictionaries(TEXTS, st.integers(min_value=0, max_value=9) | TEXTS, max_size=6))
def test_text_is_compact_sorted_and_unescaped(value: dict[str, Any]) -> None:
    """Without floats, the text is exactly the standard library's: compact, keys sorted,
    non-ASCII characters as they are."""
    assert jsontext.dumps(value) == standard(value)


def test_unicode_is_written_as_utf8() -> None:
    assert jsontext.dumps({"frage": "Passwort ändern 🙂"}) == '{"frage":"Passwort ändern 🙂"}'


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [object(), {1: "a"}, {"a": {2, 3}}, {"at": datetime(2026, 11, 27, tzinfo=UTC)}, [Point(1)]],
)
def test_values_json_cannot_hold_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        jsontext.dumps(value)


def test_text_that_is_not_json_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"."):
        jsontext.loads('{"a": ')
