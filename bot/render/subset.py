"""The HTML subset Telegram accepts, and a check that a text stays inside it."""

from __future__ import annotations

from html.parser import HTMLParser

from bot.render.links import safe_href

ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler"}
    | {"a", "code", "pre", "blockquote"}
)
"""Tags this bot may send in HTML parse mode (Telegram also knows tg-emoji; we don't use it)."""

_ATTRIBUTES = {"a": {"href"}, "code": {"class"}, "blockquote": {"expandable"}}
_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})


def html_problems(text: str) -> list[str]:
    """Return what Telegram would reject or misread in the HTML; empty when it is clean."""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    checker.problems.extend(f"<{tag}> is never closed" for tag in reversed(checker.open))
    return checker.problems


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"<{tag}> is not in Telegram's HTML subset")
        for name, value in attrs:
            if name not in _ATTRIBUTES.get(tag, set()):
                self.problems.append(f"<{tag}> may not have the attribute {name!r}")
            elif tag == "a" and (value is None or safe_href(value) is None):
                self.problems.append(f"<a> links to a refused target {value!r}")
        if tag == "a" and "href" not in dict(attrs):
            self.problems.append("<a> without href")
        if tag in self.open and tag in {"a", "code", "pre", "blockquote"}:
            self.problems.append(f"<{tag}> nested in itself")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"<{tag}/> is not in Telegram's HTML subset")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> does not close the innermost open tag")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        for char in "<>&":
            if char in data:
                self.problems.append(f"unescaped {char!r} in text")

    def handle_entityref(self, name: str) -> None:
        if name not in _ENTITIES:
            self.problems.append(f"named entity &{name}; is not supported")

    def handle_charref(self, name: str) -> None:
        """Numeric entities are all supported."""

    def handle_comment(self, data: str) -> None:
        self.problems.append("HTML comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("HTML declaration")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("HTML declaration")
