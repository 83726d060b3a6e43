"""The short answer shown in chat when an entry gives no summary of its own."""

from __future__ import annotations

import re

SUMMARY_MAX = 300
"""The longest summary, in characters, that fits comfortably in a chat answer."""

_HEADING = re.compile(r"#{1,6}(\s|$)")


def default_summary(body: str, limit: int = SUMMARY_MAX) -> str:
    """Return the body's first paragraph on one line, shortened at a word to `limit` chars."""
    for block in re.split(r"\n\s*\n", body):
        lines = [line for line in block.splitlines() if not _HEADING.match(line.strip())]
        paragraph = " ".join(" ".join(lines).split())
        if paragraph:
            return shorten(paragraph, limit)
    return ""


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """Return the text cut at a word boundary so that it, with '…', fits in `limit` chars."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace() and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–—") + "…"
