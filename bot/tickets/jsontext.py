"""JSON text in the store's columns, written and read with orjson.

A turn writes the conversation state (about 2 KB with its transcript), the logged
candidates and the outbox payloads, and reads the state back: the standard library took
~40 µs to write a state with sorted keys and ~20 µs to read it, orjson a few µs each
(measured; a tenth of the core's CPU per turn went to JSON). The text is compact UTF-8
with sorted keys, as `json.dumps(value, ensure_ascii=False, separators=(",", ":"),
sort_keys=True)` writes it. Values that are not plain JSON raise TypeError, as with the
standard library: objects, keys that are not strings, and also datetimes and dataclasses
(orjson would write them; the store writes its times as text of its own format).
"""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: object) -> str:
    """Return the JSON text of a value: compact, UTF-8, keys sorted."""
    return orjson.dumps(value, option=_OPTIONS).decode()


def loads(text: str | bytes) -> Any:
    """Return the value of a JSON text; raise ValueError when it is not JSON."""
    return orjson.loads(text)
