"""Which link targets a message may carry: Telegram opens only these safely."""

from __future__ import annotations

from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto", "tg"})
"""URL schemes a link in a message may use; anything else is shown as text or refused."""


def safe_href(url: str) -> str | None:
    """Return the URL stripped of surrounding space if its scheme is allowed, else None."""
    candidate = url.strip()
    if any(ord(char) < 0x20 or char.isspace() for char in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return None
    if parts.scheme.lower() in {"http", "https"} and not parts.netloc:
        return None
    return candidate
