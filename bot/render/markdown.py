"""FAQ markdown turned into the HTML subset Telegram accepts, and into a short summary."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from html import escape

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from bot.content.summary import SUMMARY_MAX, shorten
from bot.render.links import safe_href


class _Parser(MarkdownIt):
    """CommonMark where every link parses; safe_href decides which stay links."""

    def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's method name
        return True


_PARSER = _Parser("commonmark", {"html": False}).enable(["strikethrough", "table"])

_RULE = "———"
CACHED_TEXTS = 1024  # entry bodies whose rendering is kept (a few MB at most)
_INLINE_CONTAINERS = frozenset({"inline", "em", "strong", "s", "link", "image"})


@dataclass(frozen=True, slots=True)
class _Context:
    """Where a node sits: Telegram forbids nested quotes and entities inside links or code."""

    depth: int = 0
    in_quote: bool = False
    in_link: bool = False


# Answers render the same entry bodies again and again: parsed once per text and limit.
@functools.lru_cache(maxsize=CACHED_TEXTS)
def to_telegram_html(markdown: str) -> str:
    """Return the markdown as Telegram HTML; raw HTML in it is escaped, never passed on."""
    root = SyntaxTreeNode(_PARSER.parse(markdown))
    return _blocks(root.children, _Context(), "\n\n")


@functools.lru_cache(maxsize=CACHED_TEXTS)
def summary(markdown: str, limit: int = SUMMARY_MAX) -> str:
    """Return the first paragraph as escaped plain text, cut at a word to `limit` chars."""
    root = SyntaxTreeNode(_PARSER.parse(markdown))
    blocks = [node for node in root.children if node.type not in {"heading", "hr"}]
    paragraphs = [node for node in blocks if node.type == "paragraph"]
    text = ""
    for node in [*paragraphs, *blocks]:
        text = " ".join(_plain(node).split())
        if text:
            break
    return escape(shorten(text, limit), quote=False)


def _blocks(nodes: list[SyntaxTreeNode], context: _Context, separator: str) -> str:
    rendered = (_block(node, context) for node in nodes)
    return separator.join(text for text in rendered if text)


def _block(node: SyntaxTreeNode, context: _Context) -> str:  # noqa: PLR0911 - one case per node type
    match node.type:
        case "paragraph":
            return _inline(node.children, context)
        case "heading":
            return f"<b>{_inline(node.children, context)}</b>"
        case "bullet_list" | "ordered_list":
            return _list(node, context)
        case "blockquote":
            inner = _blocks(node.children, replace(context, in_quote=True), "\n")
            return inner if context.in_quote else f"<blockquote>{inner}</blockquote>"
        case "fence" | "code_block":
            code = escape(node.content.rstrip("\n"), quote=False)
            return code if context.in_quote else f"<pre>{code}</pre>"
        case "hr":
            return _RULE
        case "table":
            return _table(node, context)
        case "html_block":
            return escape(node.content.rstrip("\n"), quote=False)
        case _:
            return _blocks(node.children, context, "\n")


def _list(node: SyntaxTreeNode, context: _Context) -> str:
    ordered = node.type == "ordered_list"
    number = int(str(node.attrs.get("start", 1)))
    indent = "   " * context.depth
    inner = replace(context, depth=context.depth + 1)
    lines = []
    for offset, item in enumerate(node.children):
        marker = f"{number + offset}. " if ordered else "• "
        body = _blocks(item.children, inner, "\n")
        lines.append(f"{indent}{marker}{body}")
    return "\n".join(lines)


def _table(node: SyntaxTreeNode, context: _Context) -> str:
    rows = []
    for section in node.children:
        for row in section.children:
            cells = " | ".join(_inline(cell.children, context) for cell in row.children)
            rows.append(f"<b>{cells}</b>" if section.type == "thead" else cells)
    return "\n".join(rows)


def _inline(nodes: list[SyntaxTreeNode], context: _Context) -> str:
    return "".join(_span(node, context) for node in nodes)


def _span(node: SyntaxTreeNode, context: _Context) -> str:  # noqa: PLR0911 - one case per node type
    match node.type:
        case "text" | "html_inline":
            return escape(node.content, quote=False)
        case "softbreak":
            # CommonMark: a line break inside a paragraph is a space (sources are wrapped).
            return " "
        case "hardbreak":
            return "\n"
        case "em":
            return f"<i>{_inline(node.children, context)}</i>"
        case "strong":
            return f"<b>{_inline(node.children, context)}</b>"
        case "s":
            return f"<s>{_inline(node.children, context)}</s>"
        case "code_inline":
            code = escape(node.content, quote=False)
            return code if context.in_link else f"<code>{code}</code>"
        case "link":
            return _link(node, context)
        case "image":
            return escape(_plain(node), quote=False)
        case _:
            return _inline(node.children, context)


def _link(node: SyntaxTreeNode, context: _Context) -> str:
    href = safe_href(str(node.attrs.get("href", "")))
    label = _inline(node.children, replace(context, in_link=True))
    if href is None or context.in_link:
        return label
    return f'<a href="{escape(href, quote=True)}">{label or escape(href, quote=False)}</a>'


def _plain(node: SyntaxTreeNode) -> str:
    if node.type in {"softbreak", "hardbreak"}:
        return " "
    if node.type in {"text", "code_inline", "html_inline"}:
        return node.content
    if node.type in {"fence", "code_block", "html_block"}:
        return node.content
    separator = "" if node.type in _INLINE_CONTAINERS else " "
    return separator.join(_plain(child) for child in node.children)
