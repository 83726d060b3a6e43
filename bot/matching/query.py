"""Analysis of a customer's question into weighted term groups, with explanations."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.matching.index import Index
from bot.matching.text import content_words
from bot.memo import remember

TYPO_WEIGHT = 0.8
COMPOUND_WEIGHT = 0.9
SYNONYM_WEIGHT = 0.7
# A word the content does not know at all still counts as part of the question: an entry
# that explains "Passwort ändern" does not explain "Gmail Passwort ändern".
UNKNOWN_SHARE = 0.7
READINGS_KEPT = 8192  # words whose reading an index remembers (then forgotten all at once)


@dataclass(slots=True)
class TermGroup:
    """One word of the question and the index terms that may stand for it."""

    word: str
    alternatives: dict[str, float] = field(default_factory=dict)
    weight: float = 0.0
    # Weights for entries in the other language than the question's: there a synonym is
    # the translation the customer would have used, so it is not discounted.
    across: dict[str, float] = field(default_factory=dict)

    def add(self, term: str, weight: float, across: float | None = None) -> None:
        """Add an index term for this word, keeping the higher weight."""
        if weight > self.alternatives.get(term, 0.0):
            self.alternatives[term] = weight
        across = weight if across is None else across
        if across > self.across.get(term, 0.0):
            self.across[term] = across


@dataclass(frozen=True, slots=True)
class Query:
    """A question analysed against an index."""

    text: str
    groups: tuple[TermGroup, ...]
    notes: tuple[str, ...]

    @property
    def unknown(self) -> tuple[str, ...]:
        """Return the words no entry knows."""
        return tuple(g.word for g in self.groups if not g.alternatives)


def analyse(text: str, index: Index) -> Query:
    """Turn a question into term groups: exact, compound parts, typo fixes, synonyms."""
    notes: list[str] = []
    resolved: list[_Part] = []
    for word in content_words(text):
        reading = _reading(word, index)
        resolved.extend(reading.parts)
        if reading.note:
            notes.append(reading.note)
    groups = [
        TermGroup(word=word, alternatives=dict(terms), across=dict(terms))
        for word, _, _, terms in resolved
    ]
    lookups = [lookup for _, lookup, _, _ in resolved]
    for position, (first, second) in enumerate(itertools.pairwise(lookups)):
        joined = index.vocabulary.join(first, second)
        if joined:
            notes.append(f"joined: {first} {second} → {joined}")
            for group in groups[position : position + 2]:
                _add_word(group, joined, 1.0, index)
    for position, synonym in index.lexicon.synonyms(lookups):
        across = resolved[position][2]
        weight = SYNONYM_WEIGHT * across
        added = [_add_word(groups[position], word, weight, index, across) for word in synonym.words]
        if any(added):
            notes.append(f"synonym: {synonym.trigger} ~ {' '.join(synonym.words)}")
    merged = _merge(groups)
    for group in merged:
        group.weight = max(
            (index.idf(term) * weight for term, weight in group.alternatives.items()),
            default=index.max_idf * UNKNOWN_SHARE,
        )
    return Query(text=text, groups=merged, notes=tuple(dict.fromkeys(notes)))


_Part = tuple[str, str, float, tuple[tuple[str, float], ...]]
"""A customer's word (or compound part), the word looked up, its weight, its index terms."""


@dataclass(frozen=True, slots=True)
class _Reading:
    """How one customer word reads against an index, and the note that explains it."""

    parts: tuple[_Part, ...]
    note: str | None


def _reading(word: str, index: Index) -> _Reading:
    """Return how a word reads, remembered per index: a word reads the same in every
    question (known, compound or typo, and its index terms); customers repeat theirs."""
    reading: _Reading | None = index.readings.get(word)
    if reading is None:
        reading = remember(index.readings, word, _read(word, index), READINGS_KEPT)
    return reading


def _read(word: str, index: Index) -> _Reading:
    """Read a word: known, compound parts or typo fix; then the index terms of its forms."""
    vocabulary = index.vocabulary
    note = None
    if vocabulary.knows(word):
        looked = [(word, word, 1.0)]
    elif parts := vocabulary.split(word):
        note = f"compound: {word} = {' + '.join(parts)}"
        looked = [(part, part, COMPOUND_WEIGHT) for part in parts]
    elif fixed := vocabulary.correct(word):
        note = f"typo: {word} → {fixed}"
        looked = [(word, fixed, TYPO_WEIGHT)]
    else:
        looked = [(word, word, 1.0)]
    read: list[_Part] = []
    for customer_word, lookup, weight in looked:
        group = TermGroup(word=customer_word)
        for form in (lookup, *vocabulary.inflections(lookup)):
            _add_word(group, form, weight, index)
        read.append((customer_word, lookup, weight, tuple(group.alternatives.items())))
    return _Reading(tuple(read), note)


def _add_word(
    group: TermGroup, word: str, weight: float, index: Index, across: float | None = None
) -> bool:
    """Add the indexed stems of a word to a group; tell whether any was new."""
    added = False
    for stem in index.stemmers.stems(word):
        if stem in index.postings:
            added = added or stem not in group.alternatives
            group.add(stem, weight, across)
    return added


def _merge(groups: list[TermGroup]) -> tuple[TermGroup, ...]:
    """Fold groups of the same customer word into one."""
    merged: dict[str, TermGroup] = {}
    for group in groups:
        if group.word in merged:
            for term, weight in group.alternatives.items():
                merged[group.word].add(term, weight, group.across[term])
        else:
            merged[group.word] = group
    return tuple(merged.values())
