"""Loading the content folder: walking, parsing, defaults, the glossary and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.loader import ContentError, load_content, load_content_or_raise
from bot.content.model import Entry, Lang, Tier
from bot.content.problem import Problem, Severity
from bot.content.summary import default_summary

REAL_CONTENT = Path(__file__).parent.parent / "faq_content"

ENTRY = """\
---
title: Passwort ändern
lang: de
url: https://wiki.example.com/Passwort
questions:
  - Wie ändere ich mein Passwort?
---
Im Kundencenter unter Einstellungen das Passwort ändern.
"""


def write(root: Path, name: str, text: str | None = None) -> str:
    """Write a file below root (default: ENTRY with a question unique to the file name)."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if text is None:
        text = ENTRY.replace("Passwort?", f"Passwort ({name})?")
    path.write_text(text, encoding="utf-8")
    return str(path)


def loaded(root: Path) -> Entry:
    """Load the content, assert it has no problems, and return its only entry."""
    result = load_content(root)
    assert result.problems == ()
    assert len(result.content) == 1
    return result.content.entries[0]


def test_problem_str_is_path_line_message() -> None:
    """An error prints as `path:line: message`, like a compiler."""
    assert str(Problem("a.md", 3, "bad")) == "a.md:3: bad"


def test_warning_str_is_marked() -> None:
    """A warning prints as `path:line: warning: message`."""
    assert str(Problem("a.md", 3, "meh", Severity.WARNING)) == "a.md:3: warning: meh"


def test_problem_without_line_prints_path_only() -> None:
    """A problem about a whole file or folder (line 0) prints without a line number."""
    assert str(Problem("faq", 0, "missing")) == "faq: missing"


def test_all_fields_are_loaded(tmp_path: Path) -> None:
    """Every front matter key reaches the entry, cleaned up."""
    write(
        tmp_path,
        "a.md",
        """\
---
id: kc-passwort
title: "  Passwort   ändern "
lang: de
tier: extended
category: Kundencenter
url: https://wiki.example.com/Passwort
questions:
  - Wie ändere ich mein Passwort?
  - "  Passwort   vergessen "
tags: [Passwort, LOGIN, passwort]
summary: Kurz gesagt.
---

Die Schritte.

""",
    )
    entry = loaded(tmp_path)
    assert entry == Entry(
        id="kc-passwort",
        title="Passwort ändern",
        lang=Lang.DE,
        url="https://wiki.example.com/Passwort",
        body="Die Schritte.",
        tier=Tier.EXTENDED,
        category="Kundencenter",
        questions=("Wie ändere ich mein Passwort?", "Passwort vergessen"),
        tags=("passwort", "login"),
        summary="Kurz gesagt.",
        translation=None,
        path=str(tmp_path / "a.md"),
    )


def test_tier_defaults_to_standard(tmp_path: Path) -> None:
    """An entry without `tier` is standard support."""
    write(tmp_path, "a.md")
    assert loaded(tmp_path).tier is Tier.STANDARD


def test_plain_numbers_and_words_are_read_as_text(tmp_path: Path) -> None:
    """Values YAML would read as numbers or booleans are kept as the editor wrote them."""
    write(tmp_path, "a.md", ENTRY.replace("title: Passwort ändern", "title: 404") + "\n")
    write(tmp_path, "b.md", ENTRY.replace("Passwort?", "Passwort?\n  - yes").replace("ä", "ae"))
    result = load_content(tmp_path)
    assert result.problems == ()
    assert result.content.by_id["a"].title == "404"
    assert result.content.by_id["b"].questions[-1] == "yes"


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    """Files saved on Windows (CRLF, byte order mark) load with the same lines."""
    (tmp_path / "a.md").write_bytes(b"\xef\xbb\xbf" + ENTRY.replace("\n", "\r\n").encode())
    assert loaded(tmp_path).title == "Passwort ändern"


def test_summary_defaults_to_first_paragraph(tmp_path: Path) -> None:
    """Without `summary`, the summary is the body's first paragraph on one line, markdown kept."""
    body = "# Passwort\n\nIm **Kundencenter**\nauf [Einstellungen](https://x) klicken.\n\nMehr."
    front_matter = ENTRY.rsplit("---\n", 1)[0] + "---\n"
    write(tmp_path, "a.md", front_matter + body)
    entry = loaded(tmp_path)
    assert entry.summary == "Im **Kundencenter** auf [Einstellungen](https://x) klicken."
    assert entry.body == body


def test_long_first_paragraph_is_cut_at_a_word() -> None:
    """A first paragraph over 300 characters is cut at a word boundary and ends with '…'."""
    summary = default_summary("Kundencenter " * 30)
    assert len(summary) <= 300
    assert summary.endswith("Kundencenter…")


def test_short_first_paragraph_is_kept_whole() -> None:
    """A first paragraph of exactly 300 characters is not shortened."""
    paragraph = "x" * 300
    assert default_summary(paragraph + "\n\nZweiter Absatz.") == paragraph


def test_summary_of_one_long_word_is_cut_hard() -> None:
    """A paragraph without spaces is cut at 299 characters plus '…'."""
    assert default_summary("y" * 400) == "y" * 299 + "…"


def test_given_summary_is_kept(tmp_path: Path) -> None:
    """An explicit summary wins over the body's first paragraph."""
    write(tmp_path, "a.md", ENTRY.replace("lang: de", "lang: de\nsummary: Eigene Kurzfassung."))
    assert loaded(tmp_path).summary == "Eigene Kurzfassung."


def test_entries_at_any_depth_load_in_sorted_order(tmp_path: Path) -> None:
    """Entry files are found in all subfolders and loaded in sorted path order."""
    names = ["z.md", "b/c/d.md", "a.md", "b/b.md", "b/c.md"]
    for name in names:
        write(tmp_path, name)
    result = load_content(tmp_path)
    assert result.problems == ()
    assert [entry.path for entry in result.content] == [
        str(tmp_path / name) for name in ["a.md", "b/b.md", "b/c/d.md", "b/c.md", "z.md"]
    ]


def test_underscore_and_dot_names_are_skipped(tmp_path: Path) -> None:
    """Files and folders whose names start with `_` or `.` are not content; nor is non-markdown."""
    write(tmp_path, "entry.md")
    for name in ["_draft.md", ".hidden.md", "_templates/t.md", ".git/x.md", "sub/_x.md", "n.txt"]:
        write(tmp_path, name, "not an entry")
    assert loaded(tmp_path).id == "entry"


def test_entry_path_is_as_found_from_the_given_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entry and problem paths start with the root as the caller gave it."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "faq/de/a.md")
    write(tmp_path, "faq/de/b.md", "oops")
    result = load_content(Path("faq"))
    assert result.content.entries[0].path == "faq/de/a.md"
    assert [problem.path for problem in result.problems] == ["faq/de/b.md"]


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    """A content folder that does not exist is reported as a problem, not an exception."""
    root = tmp_path / "nowhere"
    result = load_content(root)
    assert [(p.path, p.line, p.severity) for p in result.problems] == [
        (str(root), 0, Severity.ERROR)
    ]
    assert "does not exist" in result.problems[0].message
    assert len(result.content) == 0


def test_root_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    """A content path naming a file is reported as a problem."""
    path = write(tmp_path, "faq.md")
    assert [(p.path, p.line) for p in load_content(Path(path)).errors] == [(path, 0)]


def test_root_without_entries_is_an_error(tmp_path: Path) -> None:
    """A content folder without any entry file is an error at the folder."""
    write(tmp_path, "_draft.md")
    result = load_content(tmp_path)
    assert [(p.path, p.line) for p in result.errors] == [(str(tmp_path), 0)]
    assert "no FAQ entries" in result.errors[0].message


def test_load_or_raise_returns_valid_content(tmp_path: Path) -> None:
    """Content with only warnings loads without raising."""
    write(tmp_path, "a.md", ENTRY.replace("questions:\n  - Wie ändere ich mein Passwort?\n", ""))
    assert [entry.id for entry in load_content_or_raise(tmp_path)] == ["a"]


def test_load_or_raise_raises_with_readable_errors(tmp_path: Path) -> None:
    """Content with errors raises ContentError listing each error as `path:line: message`."""
    write(tmp_path, "a.md")
    path = write(tmp_path, "b.md", ENTRY.replace("lang: de", "lang: fr").replace("?", "!"))
    with pytest.raises(ContentError) as raised:
        load_content_or_raise(tmp_path)
    assert "1 error" in str(raised.value)
    assert f"{path}:3: 'lang' is 'fr'" in str(raised.value)
    assert raised.value.problems == load_content(tmp_path).problems


def test_translation_to_an_entry_with_errors_is_dropped(tmp_path: Path) -> None:
    """A loaded entry never names a translation that did not load."""
    write(tmp_path, "passwort.md", ENTRY.replace("lang: de", "lang: de\ntranslation: password"))
    other = ENTRY.replace("lang: de", "lang: en\ntranslation: passwort\nx: 1").replace("?", "!")
    write(tmp_path, "password.md", other)
    result = load_content(tmp_path)
    assert [p.path for p in result.errors] == [str(tmp_path / "password.md")]
    assert result.content.by_id["passwort"].translation is None


BROKEN_FILES: dict[str, tuple[bytes, int, str]] = {
    "not_utf8": (b"---\ntitle: Gr\xfc\xdfe\n---\nBody\n", 2, "UTF-8"),
    "empty": (b"", 1, "empty"),
    "only_spaces": (b"\n  \n\n", 1, "empty"),
    "no_front_matter": (b"\n# Title\n\nBody\n", 2, "no front matter"),
    "unterminated": (b"---\ntitle: T\nlang: de\n\nBody\n", 1, "never closed"),
    "only_delimiter": (b"---", 1, "never closed"),
    "syntax_error": (b"---\ntitle: T\nlang: de\nurl: https://x: y\n---\nBody\n", 4, "YAML"),
    "unclosed_quote": (b'---\ntitle: T\nlang: "de\n---\nBody\n', 3, "close the quote"),
    "flow_question_mark": (b"---\ntitle: T\nquestions: [Wie?]\n---\nB\n", 3, "'?'"),
    "tab_indent": (b"---\ntitle: T\nquestions:\n\t- a\n---\nBody\n", 4, "tabs"),
    "undefined_alias": (b"---\ntitle: *nope\n---\nBody\n", 2, "alias"),
    "control_character": (b"---\ntitle: T\nlang: d\x01e\n---\nBody\n", 3, "control character"),
    "front_matter_list": (b"---\n- title: T\n---\nBody\n", 2, "a list"),
    "front_matter_text": (b"---\njust some words\n---\nBody\n", 2, "text"),
    "empty_front_matter": (b"---\n---\nBody\n", 1, "missing 'title'"),
    "recursive_alias": (b"---\ntitle: &a [*a]\nlang: de\n---\nBody\n", 2, "'title'"),
    "deep_nesting": (b"---\ntitle: " + b"[" * 5000 + b"]" * 5000 + b"\n---\nB\n", 2, "nested"),
    "binary": (bytes(range(256)), 2, "UTF-8"),
    "null_key": (b"---\n~: x\ntitle: T\n---\nBody\n", 2, "key"),
    "mapping_title": (b"---\ntitle: {a: b}\n---\nBody\n", 2, "'title' must be text"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_file_is_reported_at_its_line(tmp_path: Path, name: str) -> None:
    """Each kind of broken file becomes an error at the right line, not an exception."""
    data, line, word = BROKEN_FILES[name]
    (tmp_path / f"{name}.md").write_bytes(data)
    result = load_content(tmp_path)
    assert {problem.path for problem in result.errors} == {str(tmp_path / f"{name}.md")}
    at_line = [problem.message for problem in result.errors if problem.line == line]
    assert any(word in message for message in at_line), result.problems
    assert len(result.content) == 0


def test_broken_file_zoo_loads_the_good_entry(tmp_path: Path) -> None:
    """A folder of broken files raises nothing, reports every file, and loads the good entry."""
    for name, (data, _, _) in BROKEN_FILES.items():
        (tmp_path / f"{name}.md").write_bytes(data)
    (tmp_path / "folder.md").mkdir()
    write(tmp_path, "good.md")
    result = load_content(tmp_path)
    assert [entry.id for entry in result.content] == ["good"]
    assert {p.path for p in result.errors} == {str(tmp_path / f"{n}.md") for n in BROKEN_FILES}
    assert not any("internal error" in problem.message for problem in result.problems)


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    """A file the loader may not read is reported, not raised."""
    path = tmp_path / "locked.md"
    path.symlink_to(tmp_path / "missing-target.md")
    result = load_content(tmp_path)
    assert [(p.path, p.line) for p in result.errors] == [(str(path), 0)]
    assert "cannot read" in result.errors[0].message


SYNONYMS = """\
synonyms:
  - [Kundencenter, " customer   center ", KC]
  - - Passwort
    - kennwort
"""


def test_glossary_is_loaded_lowercased_and_stripped(tmp_path: Path) -> None:
    """The glossary's groups load with every term lowercased and stripped."""
    write(tmp_path, "a.md")
    write(tmp_path, "_synonyms.yaml", SYNONYMS)
    result = load_content(tmp_path)
    assert result.problems == ()
    assert result.content.glossary.groups == (
        ("kundencenter", "customer center", "kc"),
        ("passwort", "kennwort"),
    )


def test_missing_glossary_is_empty(tmp_path: Path) -> None:
    """Content without `_synonyms.yaml` has an empty glossary and no problem."""
    write(tmp_path, "a.md")
    assert load_content(tmp_path).content.glossary.groups == ()


@pytest.mark.parametrize(
    ("text", "line", "word"),
    [
        (SYNONYMS + "  - [KC, cc]\n", 5, "'kc'"),
        ("synonyms:\n  - [a]\n", 2, "at least two"),
        ("synonyms:\n  - [a, '  ']\n", 2, "empty"),
        ("synonyms:\n  - [a, ~]\n", 2, "empty"),
        ("synonyms:\n  - a\n", 2, "not a list"),
        ("synonyms:\n  - [a, [b, c]]\n", 2, "a list"),
        ("synonyms: kc, kundencenter\n", 1, "'synonyms' must be a list"),
        ("synonym:\n  - [a, b]\n", 1, "did you mean 'synonyms'?"),
        ("groups: []\n", 1, "unknown key"),
        ("- [a, b]\n", 1, "'synonyms:'"),
        ("synonyms:\n  - [a, b\n  - [c, d]\n", 3, "YAML"),
        ("x: y\n\x00", 2, "control character"),
    ],
)
def test_glossary_problem_is_reported_at_its_line(
    tmp_path: Path, text: str, line: int, word: str
) -> None:
    """Each glossary problem is an error at its line in `_synonyms.yaml`."""
    write(tmp_path, "a.md")
    path = write(tmp_path, "_synonyms.yaml", text)
    errors = load_content(tmp_path).errors
    assert (errors[0].path, errors[0].line) == (path, line), errors
    assert word in errors[0].message, errors[0]


def test_glossary_term_in_two_groups_keeps_the_first_group(tmp_path: Path) -> None:
    """A term in two groups is an error; the second group is left out, the first kept."""
    write(tmp_path, "a.md")
    write(tmp_path, "_synonyms.yaml", "synonyms:\n  - [pw, passwort]\n  - [Passwort, kennwort]\n")
    result = load_content(tmp_path)
    assert [(p.line, p.severity) for p in result.problems] == [(3, Severity.ERROR)]
    assert "line 2" in result.problems[0].message
    assert result.content.glossary.groups == (("pw", "passwort"),)
    assert len(result.content) == 1


def test_glossary_term_twice_in_a_group_is_a_warning(tmp_path: Path) -> None:
    """A term repeated in its own group is a warning and is kept once."""
    write(tmp_path, "a.md")
    write(tmp_path, "_synonyms.yaml", "synonyms:\n  - [kc, KC, kundencenter]\n")
    result = load_content(tmp_path)
    assert [(p.line, p.severity) for p in result.problems] == [(2, Severity.WARNING)]
    assert result.content.glossary.groups == (("kc", "kundencenter"),)


def test_glossary_not_utf8_is_an_error(tmp_path: Path) -> None:
    """A glossary in another encoding is reported at the line of the bad byte."""
    write(tmp_path, "a.md")
    (tmp_path / "_synonyms.yaml").write_bytes(b"synonyms:\n  - [gr\xfc\xdfe, hallo]\n")
    errors = load_content(tmp_path).errors
    assert [(p.path, p.line) for p in errors] == [(str(tmp_path / "_synonyms.yaml"), 2)]


def test_real_content_has_no_errors() -> None:
    """Every file in the shipped `faq_content/` folder loads without errors."""
    result = load_content(REAL_CONTENT)
    assert result.errors == (), "\n".join(str(problem) for problem in result.errors)
