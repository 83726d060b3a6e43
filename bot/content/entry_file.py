"""One markdown entry file read into a draft: the entry if valid, plus what cross-checks need."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from yaml.nodes import MappingNode

from bot.content.model import Entry, Lang, Tier
from bot.content.problem import Problem
from bot.content.summary import SUMMARY_MAX, default_summary
from bot.content.text_file import read_text
from bot.content.yaml_reader import Field, Text, YamlReader, describe, suggestion

ALLOWED_KEYS = (
    "id",
    "title",
    "lang",
    "tier",
    "category",
    "url",
    "questions",
    "tags",
    "summary",
    "translation",
)
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
ID_RULE = "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
DELIMITER = "---"

C = TypeVar("C", Lang, Tier)


@dataclass(frozen=True, slots=True)
class Draft:
    """What one file says about its entry, with lines, even when the entry is not valid."""

    path: str
    id: str | None
    id_line: int
    lang: Lang | None = None
    questions: tuple[Text, ...] = ()
    translation: Text | None = None
    entry: Entry | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """A markdown file split at its front matter delimiters."""

    front_matter: str
    opening_line: int
    closing_line: int
    body: str


def read_entry_file(path: Path) -> tuple[Draft | None, tuple[Problem, ...]]:
    """Read one entry file; return its draft (None if unreadable) and its problems."""
    text = read_text(path)
    if isinstance(text, Problem):
        return None, (text,)
    reader = YamlReader(str(path))
    document = split_document(text, reader)
    if document is None:
        return None, tuple(reader.problems)
    reader.first_line = document.opening_line + 1
    root = reader.compose(document.front_matter, "front matter")
    if reader.problems:
        return None, tuple(reader.problems)
    if root is not None and not isinstance(root, MappingNode):
        reader.error(
            reader.line(root),
            f"the front matter is {describe(root)}; write 'key: value' lines"
            " (title, lang, url, ...) between the '---' lines",
        )
        return None, tuple(reader.problems)
    fields = reader.fields(root, ALLOWED_KEYS, "front matter") if root is not None else {}
    draft = _draft(path, fields, document, reader)
    return draft, tuple(reader.problems)


def split_document(text: str, reader: YamlReader) -> Document | None:
    """Split the text into front matter and body; record a problem if the delimiters are off."""
    lines = text.split("\n")
    opening = next((index for index, line in enumerate(lines) if line.strip()), None)
    if opening is None:
        reader.error(1, "the file is empty; start it with front matter between two '---' lines")
        return None
    if lines[opening].rstrip() != DELIMITER:
        reader.error(
            opening + 1,
            "no front matter: the file must start with a '---' line, then 'key: value' lines"
            " (title, lang, url, ...), then another '---' line",
        )
        return None
    closing = next(
        (index for index in range(opening + 1, len(lines)) if lines[index].rstrip() == DELIMITER),
        None,
    )
    if closing is None:
        reader.error(
            opening + 1,
            "the front matter is never closed; add a '---' line after its last key",
        )
        return None
    return Document(
        front_matter="\n".join(lines[opening + 1 : closing]),
        opening_line=opening + 1,
        closing_line=closing + 1,
        body="\n".join(lines[closing + 1 :]).strip(),
    )


def _draft(path: Path, fields: dict[str, Field], document: Document, reader: YamlReader) -> Draft:
    """Validate the front matter fields and the body, and build the draft."""
    start = document.opening_line
    entry_id, id_line = _id(path, fields.get("id"), start, reader)
    title = _required_text(fields, "title", "write the entry's title", start, reader)
    url = _url(fields.get("url"), start, reader)
    lang = _choice(fields.get("lang"), Lang, None, start, reader)
    tier = _choice(fields.get("tier"), Tier, Tier.STANDARD, start, reader)
    category = _optional_text(fields.get("category"), "write one category name", reader)
    summary = _optional_text(fields.get("summary"), "write one short paragraph", reader)
    questions = _questions(fields.get("questions"), start, reader)
    tags = _tags(fields.get("tags"), reader)
    translation = _translation(fields.get("translation"), reader)
    if summary is not None and len(summary.value) > SUMMARY_MAX:
        reader.warning(
            summary.line,
            f"'summary' has {len(summary.value)} characters, more than {SUMMARY_MAX};"
            " shorten it so it fits in a chat answer",
        )
    if not document.body:
        reader.error(
            document.closing_line,
            "the body is empty; write the answer in markdown below the closing '---'",
        )
    entry = None
    if (
        not reader.has_errors
        and entry_id is not None
        and title is not None
        and url is not None
        and lang is not None
        and tier is not None
        and questions is not None
        and tags is not None
    ):
        entry = Entry(
            id=entry_id,
            title=title,
            lang=lang,
            url=url,
            body=document.body,
            tier=tier,
            category=" ".join(category.value.split()) if category else "",
            questions=tuple(question.value for question in questions),
            tags=tags,
            summary=(summary.value if summary else "") or default_summary(document.body),
            translation=translation.value if translation else None,
            path=str(path),
        )
    return Draft(
        path=str(path),
        id=entry_id,
        id_line=id_line,
        lang=lang,
        questions=tuple(questions or ()),
        translation=translation,
        entry=entry,
    )


def _id(path: Path, field: Field | None, start: int, reader: YamlReader) -> tuple[str | None, int]:
    """Return the entry id (default: the file name without .md) and its line."""
    if field is None:
        if ID_PATTERN.fullmatch(path.stem):
            return path.stem, start
        reader.error(
            start,
            f"the file name gives the id '{path.stem}', which is not a valid id ({ID_RULE});"
            " rename the file or set 'id:' in the front matter",
        )
        return None, start
    text = reader.text(field, f"write the id, e.g. 'id: {path.stem.lower()}'")
    if text is None:
        return None, field.line
    if not text.value:
        reader.error(
            text.line, "'id' is empty; write an id, or remove the line to use the file name"
        )
        return None, text.line
    if not ID_PATTERN.fullmatch(text.value):
        reader.error(
            text.line,
            f"'id' '{text.value}' is not a valid id ({ID_RULE}); e.g. '{_slug(text.value)}'",
        )
        return None, text.line
    return text.value, text.line


def _slug(text: str) -> str:
    """Return an id-shaped version of the text, to suggest in messages."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug or "my-entry"


def _required_text(
    fields: dict[str, Field], name: str, hint: str, start: int, reader: YamlReader
) -> str | None:
    """Return a required, non-empty, one-line text field."""
    field = fields.get(name)
    if field is None:
        reader.error(start, f"missing '{name}'; add a '{name}:' line to the front matter ({hint})")
        return None
    text = reader.text(field, hint)
    if text is None:
        return None
    value = " ".join(text.value.split())
    if not value:
        reader.error(text.line, f"'{name}' is empty; {hint}")
        return None
    return value


def _optional_text(field: Field | None, hint: str, reader: YamlReader) -> Text | None:
    """Return an optional text field, or None when absent or invalid."""
    if field is None:
        return None
    return reader.text(field, hint)


def _url(field: Field | None, start: int, reader: YamlReader) -> str | None:
    """Return the entry's http(s) link."""
    hint = "write the full link, e.g. 'url: https://wiki.example.com/Page'"
    if field is None:
        reader.error(start, f"missing 'url'; add the link the bot sends ({hint})")
        return None
    text = reader.text(field, hint)
    if text is None:
        return None
    if not text.value:
        reader.error(text.line, f"'url' is empty; {hint}")
        return None
    parts = urlsplit(text.value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(character.isspace() for character in text.value)
    ):
        reader.error(
            text.line,
            f"'url' '{text.value}' is not an http(s) link; {hint}",
        )
        return None
    return text.value


def _choice(
    field: Field | None, kind: type[C], default: C | None, start: int, reader: YamlReader
) -> C | None:
    """Return one of an enum's values; a missing field gives the default or an error."""
    name = "lang" if kind is Lang else "tier"
    allowed = [member.value for member in kind]
    options = " or ".join(f"'{name}: {value}'" for value in allowed)
    if field is None:
        if default is None:
            reader.error(start, f"missing '{name}'; add {options}")
        return default
    text = reader.text(field, f"write {options}")
    if text is None:
        return None
    try:
        return kind(text.value)
    except ValueError:
        shown = f"'{text.value}'" if text.value else "empty"
        reader.error(
            text.line,
            f"'{name}' is {shown}, not one of {', '.join(allowed)}; write {options}"
            f"{suggestion(text.value, allowed) if text.value else ''}",
        )
        return None


def _questions(field: Field | None, start: int, reader: YamlReader) -> list[Text] | None:
    """Return the alternate phrasings; warn when there are none."""
    hint = "write one question per line, each starting with '- '"
    questions = [] if field is None else reader.texts(field, hint)
    if questions == []:
        reader.warning(
            field.line if field is not None else start,
            "no 'questions'; add a few phrasings customers use so the bot can find this entry",
        )
    return questions


def _tags(field: Field | None, reader: YamlReader) -> tuple[str, ...] | None:
    """Return the tags, lowercased, each once."""
    if field is None:
        return ()
    tags = reader.texts(field, "write a list, e.g. 'tags: [passwort, login]'")
    if tags is None:
        return None
    return tuple(dict.fromkeys(tag.value.lower() for tag in tags))


def _translation(field: Field | None, reader: YamlReader) -> Text | None:
    """Return the id of the same entry in the other language, if given."""
    if field is None:
        return None
    text = reader.text(field, "write the id of the entry in the other language")
    if text is None or not text.value:
        return None
    return text
