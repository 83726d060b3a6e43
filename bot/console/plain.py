"""Telegram HTML as terminal text: links spelled out, quotes indented, bold as bold."""

from __future__ import annotations

from html.parser import HTMLParser

BOLD = "\033[1m"
RESET = "\033[0m"
QUOTE_INDENT = "  "


class _Plain(HTMLParser):
    def __init__(self, ansi: bool) -> None:
        super().__init__(convert_charrefs=True)
        self._ansi = ansi
        self._parts: list[str] = []
        self._hrefs: list[str | None] = []
        self._bold = 0
        self._quotes: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._hrefs.append(dict(attrs).get("href"))
        elif tag in ("b", "strong") and self._ansi:
            self._bold += 1
            self._parts.append(BOLD)
        elif tag == "blockquote":
            self._parts.append("\n")
            self._quotes.append(len(self._parts))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._hrefs:
            href = self._hrefs.pop()
            if href and not href.startswith("tg://"):
                self._parts.append(f" <{href}>")
        elif tag in ("b", "strong") and self._ansi and self._bold:
            self._bold -= 1
            self._parts.append(RESET if not self._bold else "")
        elif tag == "blockquote" and self._quotes:
            start = self._quotes.pop()
            quote = "".join(self._parts[start:]).strip("\n").splitlines()
            self._parts[start:] = ["\n".join(QUOTE_INDENT + line for line in quote), "\n"]

    def handle_data(self, data: str) -> None:
        self._parts.append(data)

    def text(self) -> str:
        return "".join(self._parts)


def plain_text(html: str, *, ansi: bool = False) -> str:
    """Return a Telegram HTML message as text for a terminal; links show their address."""
    parser = _Plain(ansi)
    parser.feed(html)
    parser.close()
    return parser.text()
