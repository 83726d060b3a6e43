"""Long Telegram HTML messages cut into parts that each fit one message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

TELEGRAM_LIMIT = 4096
"""The most characters (UTF-16 code units, after entity parsing) one message may hold."""

_TOKEN = re.compile(
    r"""<(?P<close>/?)(?P<name>[a-zA-Z][\w-]*)(?:\s(?:[^>"']|"[^"]*"|'[^']*')*)?(?P<void>/?)>"""
    r"|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);"
    r"|.",
    re.DOTALL,
)
_BREAKABLE = frozenset(" \t\n\r")


@dataclass(frozen=True, slots=True)
class _Tag:
    raw: str
    name: str
    closing: bool
    void: bool


@dataclass(frozen=True, slots=True)
class _Char:
    raw: str
    text: str
    width: int

    @property
    def breakable(self) -> bool:
        return self.text in _BREAKABLE


_Token = _Tag | _Char


@dataclass(frozen=True, slots=True)
class _Break:
    """A run of whitespace where a message may be cut; the run itself is dropped."""

    start: int
    end: int
    newlines: int


def visible_length(html: str) -> int:
    """Return the length Telegram counts: text without tags, in UTF-16 code units."""
    return sum(token.width for token in _tokens(html) if isinstance(token, _Char))


def visible_text(html: str) -> str:
    """Return the text Telegram shows for the HTML: tags removed, entities decoded."""
    return "".join(token.text for token in _tokens(html) if isinstance(token, _Char))


def split_message(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Cut HTML into parts of at most `limit` visible UTF-16 units, each well-formed.

    Cuts fall at a paragraph break, else a line break, else a space, preferring breaks
    that fill at least half a part; a word longer than a part is cut between characters.
    The whitespace at a cut is dropped; tags open at a cut are closed at the end of one
    part and reopened at the start of the next. Tags and entities are never cut.
    """
    if limit < 2:
        raise ValueError("limit must allow at least one character of two UTF-16 units")
    # The visible text is never longer than the markup: most messages fit untouched.
    if len(html.encode("utf-16-le")) // 2 <= limit:
        return [html]
    tokens = _tokens(html)
    if sum(token.width for token in tokens if isinstance(token, _Char)) <= limit:
        return [html]
    parts: list[str] = []
    stack: list[_Tag] = []
    start = _skip_to_content(tokens, 0, stack)
    while start < len(tokens):
        end = _window_end(tokens, start, limit)
        if end == len(tokens):
            _append(parts, stack, tokens[start:], [])
            break
        cut, resume = _choose_cut(tokens, start, end, limit)
        after_cut = list(stack)
        _apply(after_cut, tokens[start:cut])
        _append(parts, stack, tokens[start:cut], after_cut)
        stack = after_cut
        _apply(stack, tokens[cut:resume])
        start = _skip_to_content(tokens, resume, stack)
    return parts


def _tokens(html: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(html):
        raw = match.group()
        name = match.group("name")
        if name is not None:
            closing = bool(match.group("close"))
            tokens.append(_Tag(raw, name.lower(), closing, bool(match.group("void"))))
        else:
            text = unescape(raw) if raw.startswith("&") else raw
            tokens.append(_Char(raw, text, len(text.encode("utf-16-le")) // 2))
    return tokens


def _window_end(tokens: list[_Token], start: int, limit: int) -> int:
    """Return the index after the longest run of tokens from `start` that fits the limit.

    The run holds at least one character, so every part makes progress.
    """
    width = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if isinstance(token, _Char):
            if width + token.width > limit and width > 0:
                return index
            width += token.width
    return len(tokens)


def _choose_cut(tokens: list[_Token], start: int, end: int, limit: int) -> tuple[int, int]:
    """Return where this part ends and where the next one begins."""
    breaks = _breaks(tokens, start, end)
    widths = _widths(tokens, start, end)
    full = [brk for brk in breaks if widths[brk.start - start] * 2 >= limit]
    cut, resume = end, end
    for pool in (full, breaks):
        kinds = ([brk for brk in pool if min(brk.newlines, 2) == n] for n in (2, 1, 0))
        best = next((kind[-1] for kind in kinds if kind), None)
        if best is not None:
            cut, resume = best.start, best.end
            break
    # Opening tags just before the cut belong to the next part.
    while cut > start + 1 and _is_opening(tokens[cut - 1]):
        cut -= 1
    return cut, resume


def _breaks(tokens: list[_Token], start: int, end: int) -> list[_Break]:
    """Return the whitespace runs that begin after some content and no later than `end`."""
    breaks = []
    seen_content = False
    index = start
    while index <= end and index < len(tokens):
        token = tokens[index]
        if isinstance(token, _Char) and token.breakable and seen_content:
            run_end, newlines = _run(tokens, index)
            breaks.append(_Break(index, run_end, newlines))
            index = run_end
            continue
        if isinstance(token, _Char):
            seen_content = True
        index += 1
    return breaks


def _run(tokens: list[_Token], start: int) -> tuple[int, int]:
    """Return where the whitespace run at `start` ends (tags in it included) and its newlines."""
    newlines = 0
    index = start
    last_space = start
    while index < len(tokens):
        token = tokens[index]
        if isinstance(token, _Char):
            if not token.breakable:
                break
            newlines += token.text == "\n"
            last_space = index
        index += 1
    return last_space + 1, newlines


def _widths(tokens: list[_Token], start: int, end: int) -> list[int]:
    """Return, for each offset from `start`, the visible width of the tokens before it."""
    widths = [0]
    for token in tokens[start:end]:
        widths.append(widths[-1] + (token.width if isinstance(token, _Char) else 0))
    return widths


def _skip_to_content(tokens: list[_Token], start: int, stack: list[_Tag]) -> int:
    """Skip closing tags and whitespace at the start of a part, applying the tags to `stack`."""
    index = start
    while index < len(tokens):
        token = tokens[index]
        if isinstance(token, _Char) and not token.breakable:
            break
        if isinstance(token, _Tag) and not token.closing:
            break
        _apply(stack, [token])
        index += 1
    return index


def _apply(stack: list[_Tag], tokens: list[_Token]) -> None:
    for token in tokens:
        if not isinstance(token, _Tag) or token.void:
            continue
        if not token.closing:
            stack.append(token)
            continue
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth].name == token.name:
                del stack[depth]
                break


def _append(
    parts: list[str], opened: list[_Tag], body: list[_Token], still_open: list[_Tag]
) -> None:
    if not any(isinstance(token, _Char) and not token.breakable for token in body):
        return
    prefix = "".join(tag.raw for tag in opened)
    suffix = "".join(f"</{tag.name}>" for tag in reversed(still_open))
    parts.append(prefix + "".join(token.raw for token in body) + suffix)


def _is_opening(token: _Token) -> bool:
    return isinstance(token, _Tag) and not token.closing and not token.void
