"""FAQ markdown in Telegram's HTML subset, and the short summary shown in chat."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.loader import load_content_or_raise
from bot.render import html_problems, summary, to_telegram_html

REAL_CONTENT = Path(__file__).parent.parent / "faq_content"


def test_paragraphs_are_separated_by_blank_lines() -> None:
    """Paragraphs become text blocks; a wrapped line inside a paragraph is a space."""
    assert to_telegram_html("One\nline.\n\nTwo.") == "One line.\n\nTwo."


def test_a_hard_break_stays_a_line_break() -> None:
    """Two trailing spaces (or a backslash) keep the line break."""
    assert to_telegram_html("Street 1  \nBerlin") == "Street 1\nBerlin"


def test_headings_emphasis_and_strikethrough() -> None:
    """Headings are bold; *em* is italic, **strong** bold, ~~s~~ struck."""
    html = to_telegram_html("## Steps\n\n*one* **two** ~~three~~")
    assert html == "<b>Steps</b>\n\n<i>one</i> <b>two</b> <s>three</s>"


def test_code_is_escaped_inside_code_tags() -> None:
    """Inline code and blocks keep their text, escaped, in <code> and <pre>."""
    html = to_telegram_html("Run `a < b && c`:\n\n```sh\necho '<x>' & true\n```")
    assert html == (
        "Run <code>a &lt; b &amp;&amp; c</code>:\n\n<pre>echo '&lt;x&gt;' &amp; true</pre>"
    )


def test_raw_html_is_escaped_never_passed_through() -> None:
    """HTML written into the markdown shows as text."""
    html = to_telegram_html('<script>alert(1)</script>\n\nHi <b onclick="x">there</b>')
    assert "<script" not in html
    assert "<b " not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html_problems(html) == []


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<b>x</b>",
        "vbscript:x",
        "file:///etc/passwd",
        "/relative/path",
        "ftp://example.com",
    ],
)
def test_unsafe_or_relative_links_become_text(href: str) -> None:
    """Only http, https, mailto and tg links stay links; others keep only their text."""
    html = to_telegram_html(f"[click here]({href})")
    assert html == "click here"


@pytest.mark.parametrize(
    "href",
    [
        "https://example.com/a?b=1&c=2",
        "http://example.com",
        "mailto:a@example.com",
        "tg://resolve?domain=x",
    ],
)
def test_safe_links_stay_links(href: str) -> None:
    """Allowed links become <a href> with the target escaped."""
    html = to_telegram_html(f"[go]({href})")
    assert html.startswith('<a href="')
    assert html.endswith('">go</a>')
    assert "&c=" not in html
    assert html_problems(html) == []


def test_autolinks_show_their_address() -> None:
    """<https://...> becomes a link whose text is the address."""
    assert to_telegram_html("<https://status.example.com>") == (
        '<a href="https://status.example.com">https://status.example.com</a>'
    )


def test_no_entity_nests_inside_a_link() -> None:
    """Telegram forbids code inside links: code in a link text is plain."""
    assert to_telegram_html("[`cmd`](https://x.example)") == '<a href="https://x.example">cmd</a>'


def test_lists_become_marked_lines() -> None:
    """Bullets get '• ', ordered items their number (keeping the start), nesting indents."""
    html = to_telegram_html("- a\n- b\n  - c\n\n3. x\n4. y")
    assert html == "• a\n• b\n   • c\n\n3. x\n4. y"


def test_blockquotes_do_not_nest() -> None:
    """A quote becomes <blockquote>; a quote inside it is flattened (Telegram forbids nesting)."""
    html = to_telegram_html("> outer\n>\n> > inner")
    assert html == "<blockquote>outer\ninner</blockquote>"
    assert html_problems(html) == []


def test_images_become_their_alt_text() -> None:
    """An image is replaced by its description."""
    assert to_telegram_html("See ![the *portal* menu](menu.png).") == "See the portal menu."


def test_tables_become_lines() -> None:
    """A table is shown one row a line, the header bold."""
    assert to_telegram_html("|a|b|\n|-|-|\n|1|2|") == "<b>a | b</b>\n1 | 2"


def test_every_shipped_entry_converts_to_valid_html() -> None:
    """All FAQ bodies convert to Telegram HTML without a single problem."""
    content = load_content_or_raise(REAL_CONTENT)
    assert len(content) > 0
    for entry in content:
        html = to_telegram_html(entry.body)
        assert html_problems(html) == [], entry.id
        assert html.strip()


def test_summary_is_the_first_paragraph_as_plain_text() -> None:
    """The summary skips headings and drops markup, escaping what is left."""
    body = "# Title\n\nUse **Settings** → `Password` & <save>.\n\nMore text."
    assert summary(body) == "Use Settings → Password &amp; &lt;save&gt;."


def test_summary_is_cut_at_a_word() -> None:
    """A long paragraph is cut at a word boundary with an ellipsis, within the limit."""
    body = "alpha beta gamma delta epsilon " * 20
    cut = summary(body, limit=40)
    assert len(cut) <= 40
    assert cut.endswith("…")
    assert cut == "alpha beta gamma delta epsilon alpha…"


def test_summary_falls_back_to_the_first_block() -> None:
    """Without a paragraph, the first list gives the summary."""
    assert summary("## Steps\n\n1. Open the portal\n2. Click save") == "Open the portal Click save"
    assert summary("") == ""
