"""The FAQ entry and the content set it belongs to."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


class Lang(enum.StrEnum):
    """A language the bot speaks to customers."""

    DE = "de"
    EN = "en"

    @property
    def other(self) -> Lang:
        """Return the other supported language."""
        return Lang.EN if self is Lang.DE else Lang.DE


class Tier(enum.StrEnum):
    """The support tier: standard is free, extended is billed."""

    STANDARD = "standard"
    EXTENDED = "extended"


@dataclass(frozen=True, slots=True)
class Entry:
    """One FAQ entry, parsed from one markdown file."""

    id: str
    title: str
    lang: Lang
    url: str
    body: str
    tier: Tier = Tier.STANDARD
    category: str = ""
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    summary: str = ""
    translation: str | None = None
    path: str = ""


@dataclass(frozen=True, slots=True)
class Glossary:
    """Groups of terms editors declare equivalent for matching."""

    groups: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Content:
    """A validated set of entries plus the editors' glossary."""

    entries: tuple[Entry, ...]
    glossary: Glossary = field(default_factory=Glossary)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def by_id(self) -> Mapping[str, Entry]:
        """Map every entry id to its entry."""
        return {entry.id: entry for entry in self.entries}
