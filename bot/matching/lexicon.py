"""Synonyms: the built-in German/English hosting lexicon plus the editors' glossary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.matching.text import Stemmers, content_words


@dataclass(frozen=True, slots=True)
class Synonym:
    """An equivalent of something the customer wrote, and what triggered it."""

    trigger: str
    words: tuple[str, ...]


class Lexicon:
    """Groups of equivalent terms, looked up by the stems of what a customer wrote."""

    def __init__(self, groups: Iterable[Sequence[str]]) -> None:
        stemmers = Stemmers()
        self._terms: list[tuple[tuple[str, ...], ...]] = []
        self._by_stem: dict[str, set[int]] = defaultdict(set)
        self._phrases: list[tuple[frozenset[str], int]] = []
        for group in groups:
            terms = tuple(t for t in (tuple(content_words(term)) for term in group) if t)
            if len(terms) < 2:
                continue
            group_id = len(self._terms)
            self._terms.append(terms)
            for term in terms:
                if len(term) == 1:
                    for stem in stemmers.stems(term[0]):
                        self._by_stem[stem].add(group_id)
                else:
                    key = frozenset(stemmers.stems(word)[0] for word in term)
                    self._phrases.append((key, group_id))
        # Each phrase under one of its stems: a question looks only at phrases it may hold.
        self._phrases_by_stem: dict[str, list[int]] = defaultdict(list)
        for position, (key, _) in enumerate(self._phrases):
            self._phrases_by_stem[min(key)].append(position)
        self._stemmers = stemmers

    def __len__(self) -> int:
        return len(self._terms)

    def synonyms(self, words: Sequence[str]) -> list[tuple[int, Synonym]]:
        """Return, per word position, the equivalents of that word or of a phrase ending there."""
        found: list[tuple[int, Synonym]] = []
        first_stems = [self._stemmers.stems(word)[0] for word in words]
        for position, word in enumerate(words):
            for group_id in sorted(self._groups_of(word)):
                found.extend(
                    (position, Synonym(word, term))
                    for term in self._terms[group_id]
                    if term != (word,)
                )
        present = set(first_stems)
        candidates = sorted(
            position for stem in present for position in self._phrases_by_stem.get(stem, ())
        )
        for key, group_id in (self._phrases[position] for position in candidates):
            if key <= present:
                position = max(first_stems.index(stem) for stem in key)
                found.extend(
                    (position, Synonym(words[position], term)) for term in self._terms[group_id]
                )
        return found

    def _groups_of(self, word: str) -> set[int]:
        groups: set[int] = set()
        for stem in self._stemmers.stems(word):
            groups |= self._by_stem.get(stem, set())
        return groups
