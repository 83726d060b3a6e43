"""Splitting long messages: every part fits, stays well-formed, and nothing is lost."""

from __future__ import annotations

from html import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import html_problems, split_message, visible_length, visible_text

TAGS = ("b", "i", "u", "s", "tg-spoiler")


def assert_parts_cover(original: str, parts: list[str]) -> None:
    """Each part's text is the next slice of the original; only whitespace is left out."""
    text = visible_text(original)
    position = 0
    for part in parts:
        piece = visible_text(part)
        found = text.find(piece, position)
        assert found >= 0, piece
        assert text[position:found].strip() == ""
        position = found + len(piece)
    assert text[position:].strip() == ""


def test_visible_length_counts_like_telegram() -> None:
    """Tags count nothing, an entity one character, an emoji two UTF-16 units."""
    assert visible_length('<b>a</b> &amp; <a href="https://x.example">😀</a>') == 6


def test_a_short_message_is_left_alone() -> None:
    """A message within the limit comes back unchanged, as one part."""
    html = "<b>Hi</b>\n\nthere"
    assert split_message(html, limit=100) == [html]


def test_cuts_at_a_paragraph_before_a_line_or_a_word() -> None:
    """A paragraph break is the preferred cut, and its blank line is dropped."""
    html = "aaaa bbbb\ncccc\n\ndddd eeee"
    assert split_message(html, limit=18) == ["aaaa bbbb\ncccc", "dddd eeee"]


def test_cuts_at_a_line_when_no_paragraph_fits() -> None:
    """Without a paragraph break in reach, a line break is the cut."""
    assert split_message("aaaa bbbb\ncccc dddd", limit=12) == ["aaaa bbbb", "cccc dddd"]


def test_cuts_at_a_word_when_no_line_fits() -> None:
    """Without line breaks, the cut falls between words."""
    assert split_message("aaaa bbbb cccc dddd", limit=12) == ["aaaa bbbb", "cccc dddd"]


def test_a_tiny_paragraph_is_not_cut_off_alone() -> None:
    """A paragraph break that would leave a sliver of a part loses to a later line break."""
    html = "Hi\n\n" + "\n".join(["word " * 3] * 4)
    parts = split_message(html, limit=40)
    assert parts[0].startswith("Hi\n\nword")


def test_a_long_word_is_cut_between_characters() -> None:
    """A word longer than a part is cut hard, but never inside an entity."""
    parts = split_message("a&amp;b&amp;c&amp;d", limit=3)
    assert parts == ["a&amp;b", "&amp;c&amp;", "d"]


def test_an_emoji_is_never_cut() -> None:
    """Surrogate pairs stay together: a part of 3 units holds one emoji and one letter."""
    assert split_message("😀😀😀", limit=3) == ["😀", "😀", "😀"]
    assert split_message("a😀b😀", limit=3) == ["a😀", "b😀"]


def test_open_tags_are_closed_and_reopened() -> None:
    """A cut inside <b> and <a> closes both and reopens them, link target and all."""
    html = '<b>bold <a href="https://x.example/?a=1&amp;b=2">link text here</a> end</b>'
    parts = split_message(html, limit=13)
    assert parts == [
        '<b>bold <a href="https://x.example/?a=1&amp;b=2">link</a></b>',
        '<b><a href="https://x.example/?a=1&amp;b=2">text here</a> end</b>',
    ]


def test_no_empty_tags_at_a_cut() -> None:
    """A tag starting right after the cut moves to the next part whole."""
    parts = split_message("aaaa <b>bbbb</b>", limit=6)
    assert parts == ["aaaa", "<b>bbbb</b>"]


def test_a_part_never_starts_with_the_whitespace_of_a_cut() -> None:
    """Whitespace at the cut belongs to no part."""
    parts = split_message("one two\n\n\n   three four", limit=9)
    assert parts == ["one two", "three", "four"]


def test_limit_must_hold_any_character() -> None:
    """A limit below two UTF-16 units cannot hold an emoji: refused."""
    with pytest.raises(ValueError, match="limit"):
        split_message("x", limit=1)


def test_the_telegram_limit_is_the_default() -> None:
    """Without a limit, parts are cut at 4096 units."""
    parts = split_message(("word " * 2000).strip())
    assert [visible_length(part) for part in parts] == [4094, 4094, 1809]


text_piece = st.text(
    alphabet=st.sampled_from(list("abcdefgh  \n\n\n&<>\"'äß😀")), min_size=0, max_size=25
).map(lambda text: escape(text, quote=False))


def tagged(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Wrap generated HTML in one of Telegram's tags; code and links hold only text."""
    plain = st.tuples(st.sampled_from(TAGS), inner).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>")
    code = text_piece.map(lambda text: f"<code>{text}</code>")
    link = text_piece.map(lambda text: f'<a href="https://x.example/?q=1&amp;r=2">{text}</a>')
    return st.one_of(plain, code, link)


html_documents = st.recursive(
    text_piece,
    lambda inner: st.one_of(tagged(inner), st.lists(inner, min_size=1, max_size=4).map("".join)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(html=html_documents, limit=st.integers(min_value=2, max_value=60))
def test_split_properties(html: str, limit: int) -> None:
    """For any HTML: parts fit the limit, are well-formed, and together hold all its text."""
    parts = split_message(html, limit=limit)
    if visible_length(html) <= limit:
        assert parts == [html]
        return
    for part in parts:
        assert 0 < visible_length(part) <= limit
        assert visible_text(part).strip()
        assert html_problems(part) == []
    assert_parts_cover(html, parts)
