"""The content rules: each problem names its file, line and key, and says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.loader import load_content
from bot.content.problem import Problem, Severity

URL = "url: https://wiki.example.com/Passwort"


def write(root: Path, name: str, *front: str, body: str = "Im Kundencenter ändern.") -> str:
    """Write an entry file with the given front matter lines (line 2 onwards) and body."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(["---", *front, "---", body, ""]), encoding="utf-8")
    return str(path)


def valid(*extra: str, title: str = "Passwort ändern", lang: str = "de") -> tuple[str, ...]:
    """Return front matter lines of a valid entry (lines 2-6), followed by `extra` (line 7+)."""
    return (f"title: {title}", f"lang: {lang}", URL, "questions:", f"  - Frage zu {title}?", *extra)


def single(root: Path) -> Problem:
    """Load the content and return its only problem."""
    problems = load_content(root).problems
    assert len(problems) == 1, problems
    return problems[0]


def assert_problem(
    problem: Problem, path: str, line: int, *words: str, severity: Severity = Severity.ERROR
) -> None:
    """Assert the problem's place and severity, and that its message contains the words."""
    assert (problem.path, problem.line, problem.severity) == (path, line, severity), problem
    for word in words:
        assert word in problem.message, problem


def test_valid_entry_has_no_problems(tmp_path: Path) -> None:
    """A complete entry loads without any problem."""
    write(tmp_path, "passwort.md", *valid())
    result = load_content(tmp_path)
    assert result.problems == ()
    assert [entry.id for entry in result.content] == ["passwort"]


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    """A misspelt key is reported on its line with the allowed keys and the closest one."""
    path = write(tmp_path, "a.md", *valid("tittle: Passwort"))
    problem = single(tmp_path)
    assert_problem(problem, path, 7, "unknown key 'tittle'", "allowed: id, title", "'title'")
    assert problem.message.endswith("did you mean 'title'?")
    assert load_content(tmp_path).content.entries == ()


def test_unknown_key_without_close_match_says_remove(tmp_path: Path) -> None:
    """A key that resembles no allowed key is reported with the advice to remove it."""
    path = write(tmp_path, "a.md", *valid("author: Jane"))
    assert_problem(single(tmp_path), path, 7, "unknown key 'author'", "remove it")


def test_key_given_twice_is_an_error(tmp_path: Path) -> None:
    """A key repeated in the front matter is reported at its second line."""
    path = write(tmp_path, "a.md", *valid("title: Anders"))
    assert_problem(single(tmp_path), path, 7, "'title'", "twice", "line 2")


def test_key_that_is_not_text_is_an_error(tmp_path: Path) -> None:
    """A complex key such as a list is reported on its line."""
    path = write(tmp_path, "a.md", *valid("? [a, b]", ": c"))
    assert_problem(single(tmp_path), path, 7, "key", "a list")


def test_id_defaults_to_file_stem(tmp_path: Path) -> None:
    """Without `id`, the entry's id is the file name without `.md`."""
    write(tmp_path, "sub/kundencenter-login.md", *valid())
    assert load_content(tmp_path).content.entries[0].id == "kundencenter-login"


def test_invalid_id_is_an_error(tmp_path: Path) -> None:
    """An id with capitals or spaces is reported on the id line with a suggested id."""
    path = write(tmp_path, "a.md", "id: Passwort Ändern", *valid())
    assert_problem(single(tmp_path), path, 2, "'id'", "'Passwort Ändern'", "passwort")


def test_empty_id_is_an_error(tmp_path: Path) -> None:
    """An empty `id:` line is reported rather than silently falling back to the file name."""
    path = write(tmp_path, "a.md", "id:", *valid())
    assert_problem(single(tmp_path), path, 2, "'id' is empty")


def test_file_name_that_is_no_valid_id_is_an_error(tmp_path: Path) -> None:
    """A file name that cannot be an id is reported at the opening line, naming `id`."""
    path = write(tmp_path, "Passwort Ändern.md", *valid())
    assert_problem(single(tmp_path), path, 1, "'Passwort Ändern'", "'id:'", "rename")


def test_missing_title_is_an_error(tmp_path: Path) -> None:
    """An entry without `title` is reported at the opening `---` line."""
    path = write(tmp_path, "a.md", "lang: de", URL, "questions: [Frage]")
    assert_problem(single(tmp_path), path, 1, "missing 'title'")


def test_empty_title_is_an_error(tmp_path: Path) -> None:
    """An empty `title:` is reported on its line."""
    path = write(tmp_path, "a.md", "title: '  '", "lang: de", URL, "questions: [Frage]")
    assert_problem(single(tmp_path), path, 2, "'title' is empty")


def test_title_of_wrong_type_is_an_error(tmp_path: Path) -> None:
    """A title given as a list is reported on the value's line."""
    path = write(tmp_path, "a.md", "title:", "  - a", "lang: de", URL, "questions: [Frage]")
    assert_problem(single(tmp_path), path, 3, "'title' must be text", "a list")


def test_missing_url_is_an_error(tmp_path: Path) -> None:
    """An entry without `url` is reported at the opening line."""
    path = write(tmp_path, "a.md", "title: T", "lang: de", "questions: [Frage]")
    assert_problem(single(tmp_path), path, 1, "missing 'url'", "https://")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "wiki.example.com/x", "https://", "https://ex ample.com"]
)
def test_url_that_is_no_http_link_is_an_error(tmp_path: Path, url: str) -> None:
    """A url that is not an absolute http(s) link is reported on its line."""
    path = write(tmp_path, "a.md", "title: T", "lang: de", f"url: {url}", "questions: [Frage]")
    assert_problem(single(tmp_path), path, 4, "'url'", "http(s)")


def test_missing_lang_is_an_error(tmp_path: Path) -> None:
    """An entry without `lang` is reported at the opening line with the choices."""
    path = write(tmp_path, "a.md", "title: T", URL, "questions: [Frage]")
    assert_problem(single(tmp_path), path, 1, "missing 'lang'", "'lang: de'", "'lang: en'")


@pytest.mark.parametrize(("lang", "hint"), [("fr", "de, en"), ("DE", "did you mean 'de'?")])
def test_unknown_lang_is_an_error(tmp_path: Path, lang: str, hint: str) -> None:
    """A language other than de or en is reported on its line."""
    path = write(tmp_path, "a.md", *valid(lang=lang))
    assert_problem(single(tmp_path), path, 3, "'lang'", f"'{lang}'", hint)


def test_unknown_tier_is_an_error(tmp_path: Path) -> None:
    """A tier other than standard or extended is reported with the closest choice."""
    path = write(tmp_path, "a.md", *valid("tier: extendet"))
    assert_problem(single(tmp_path), path, 7, "'tier'", "'extendet'", "did you mean 'extended'?")


def test_questions_not_a_list_is_an_error(tmp_path: Path) -> None:
    """Questions written as one text instead of a list are reported on the value's line."""
    path = write(tmp_path, "a.md", "title: T", "lang: de", URL, "questions: Wie geht das?")
    assert_problem(single(tmp_path), path, 5, "'questions' must be a list")


def test_empty_question_is_an_error(tmp_path: Path) -> None:
    """An empty item in the questions is reported on the item's line."""
    path = write(tmp_path, "a.md", *valid("  -", "  - Noch eine?"))
    assert_problem(single(tmp_path), path, 7, "'questions'", "empty")


def test_question_that_is_a_mapping_is_an_error(tmp_path: Path) -> None:
    """A question accidentally written as `key: value` is reported on its line."""
    path = write(tmp_path, "a.md", *valid("  - Frage: mit Doppelpunkt"))
    assert_problem(single(tmp_path), path, 7, "'questions'", "a mapping")


def test_tags_not_a_list_is_an_error(tmp_path: Path) -> None:
    """Tags written as one text are reported on the value's line."""
    path = write(tmp_path, "a.md", *valid("tags: passwort, login"))
    assert_problem(single(tmp_path), path, 7, "'tags' must be a list", "[passwort, login]")


def test_tag_that_is_a_list_is_an_error(tmp_path: Path) -> None:
    """A nested list inside the tags is reported on the item's line."""
    path = write(tmp_path, "a.md", *valid("tags:", "  - [a, b]"))
    assert_problem(single(tmp_path), path, 8, "'tags'", "a list")


def test_summary_not_text_is_an_error(tmp_path: Path) -> None:
    """A summary given as a list is reported on the value's line."""
    path = write(tmp_path, "a.md", *valid("summary: [a, b]"))
    assert_problem(single(tmp_path), path, 7, "'summary' must be text")


def test_category_not_text_is_an_error(tmp_path: Path) -> None:
    """A category given as a mapping is reported on the value's line."""
    path = write(tmp_path, "a.md", *valid("category:", "  name: Kundencenter"))
    assert_problem(single(tmp_path), path, 8, "'category' must be text", "a mapping")


def test_empty_body_is_an_error(tmp_path: Path) -> None:
    """A file with front matter but no body is reported at the closing `---` line."""
    path = write(tmp_path, "a.md", *valid(), body="\n\n")
    assert_problem(single(tmp_path), path, 7, "body is empty")


def test_duplicate_id_is_reported_in_both_files(tmp_path: Path) -> None:
    """Two files with the same id each get an error pointing at the other."""
    first = write(tmp_path, "de/passwort.md", *valid(title="Passwort"))
    second = write(tmp_path, "en/passwort.md", *valid(title="Password", lang="en"))
    result = load_content(tmp_path)
    assert len(result.problems) == 2
    assert_problem(result.problems[0], first, 1, "duplicate id 'passwort'", f"{second}:1", "'id'")
    assert_problem(result.problems[1], second, 1, "duplicate id 'passwort'", f"{first}:1")
    assert result.content.entries == ()


def test_explicit_duplicate_id_is_reported_on_the_id_lines(tmp_path: Path) -> None:
    """Duplicate ids set with `id:` are reported on the `id:` lines."""
    first = write(tmp_path, "a.md", *valid("id: same", title="A"))
    second = write(tmp_path, "b.md", *valid("id: same", title="B"))
    result = load_content(tmp_path)
    assert [(p.path, p.line) for p in result.problems] == [(first, 7), (second, 7)]


def test_same_question_in_two_entries_is_reported_in_both(tmp_path: Path) -> None:
    """A question two entries share (ignoring case and spaces) is reported in both files."""
    first = write(tmp_path, "a.md", *valid("  - Passwort vergessen?", title="A"))
    second = write(tmp_path, "b.md", *valid("  -   passwort  VERGESSEN?", title="B"))
    result = load_content(tmp_path)
    assert len(result.problems) == 2
    assert_problem(result.problems[0], first, 7, "duplicate question", "'questions'", f"{second}:7")
    assert_problem(result.problems[1], second, 7, "duplicate question", f"{first}:7")


def test_same_question_twice_in_one_entry_is_an_error(tmp_path: Path) -> None:
    """A question repeated within one entry is reported at both of its lines."""
    path = write(tmp_path, "a.md", *valid("  - Frage zu passwort ändern?"))
    result = load_content(tmp_path)
    assert [(p.path, p.line) for p in result.problems] == [(path, 6), (path, 7)]
    assert all("duplicate question" in p.message for p in result.problems)


def test_translation_to_missing_id_is_an_error(tmp_path: Path) -> None:
    """A translation naming no entry is reported on its line with the closest id."""
    write(tmp_path, "password.md", *valid(title="Password", lang="en"))
    path = write(tmp_path, "passwort.md", *valid("translation: pasword"))
    problem = single(tmp_path)
    assert_problem(problem, path, 7, "'translation'", "'pasword'", "did you mean 'password'?")


def test_translation_to_same_language_is_an_error(tmp_path: Path) -> None:
    """A translation naming an entry in the same language is reported on its line."""
    write(tmp_path, "a.md", *valid("translation: b", title="A"))
    write(tmp_path, "b.md", *valid("translation: a", title="B"))
    result = load_content(tmp_path)
    assert [(p.line, p.severity) for p in result.problems] == [(7, Severity.ERROR)] * 2
    assert_problem(result.problems[0], str(tmp_path / "a.md"), 7, "'translation'", "same language")


def test_translation_to_itself_is_an_error(tmp_path: Path) -> None:
    """A translation naming the entry itself is reported on its line."""
    path = write(tmp_path, "a.md", *valid("translation: a"))
    assert_problem(single(tmp_path), path, 7, "'translation'", "itself")


def test_translation_not_pointing_back_is_a_warning(tmp_path: Path) -> None:
    """A translation whose target does not name the entry back is a warning, not an error."""
    path = write(tmp_path, "passwort.md", *valid("translation: password"))
    write(tmp_path, "password.md", *valid(title="Password", lang="en"))
    problem = single(tmp_path)
    assert_problem(
        problem,
        path,
        7,
        "'translation'",
        "translation: passwort",
        severity=Severity.WARNING,
    )
    assert str(problem) == f"{path}:7: warning: {problem.message}"
    assert len(load_content(tmp_path).content) == 2


def test_translations_that_match_up_have_no_problems(tmp_path: Path) -> None:
    """Two entries naming each other as translations load cleanly."""
    write(tmp_path, "passwort.md", *valid("translation: password"))
    write(tmp_path, "password.md", *valid("translation: passwort", title="Password", lang="en"))
    result = load_content(tmp_path)
    assert result.problems == ()
    assert result.content.by_id["passwort"].translation == "password"


def test_missing_questions_is_a_warning(tmp_path: Path) -> None:
    """An entry without questions loads, with a warning at the opening line."""
    path = write(tmp_path, "a.md", "title: T", "lang: de", URL)
    assert_problem(single(tmp_path), path, 1, "'questions'", severity=Severity.WARNING)
    assert len(load_content(tmp_path).content) == 1


def test_empty_questions_is_a_warning_on_its_line(tmp_path: Path) -> None:
    """An empty questions list is a warning on the `questions:` line."""
    path = write(tmp_path, "a.md", "title: T", "lang: de", URL, "questions: []")
    assert_problem(single(tmp_path), path, 5, "'questions'", severity=Severity.WARNING)


def test_long_summary_is_a_warning(tmp_path: Path) -> None:
    """A summary over 300 characters is a warning on the summary line and is kept whole."""
    summary = "Wort " * 70
    path = write(tmp_path, "a.md", *valid(f"summary: {summary}"))
    assert_problem(single(tmp_path), path, 7, "'summary'", "300", severity=Severity.WARNING)
    assert load_content(tmp_path).content.entries[0].summary == summary.strip()


def test_entry_with_an_error_is_left_out_but_others_load(tmp_path: Path) -> None:
    """An error drops only the entry it is in; valid entries still load."""
    write(tmp_path, "good.md", *valid(title="Gut"))
    write(tmp_path, "bad.md", *valid("lang: en", title="Schlecht"))
    result = load_content(tmp_path)
    assert [entry.id for entry in result.content] == ["good"]
    assert [problem.path for problem in result.errors] == [str(tmp_path / "bad.md")]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    """Several problems in one file are all reported, sorted by line."""
    path = write(tmp_path, "a.md", "tittle: T", "lang: xx", "url: nope")
    lines = [(p.path, p.line) for p in load_content(tmp_path).problems]
    assert lines == [(path, 1), (path, 1), (path, 2), (path, 3), (path, 4)]
