"""The search index: weighted BM25 postings over the fields of every entry."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz.utils import default_process

from bot.content.model import Content, Entry, Lang
from bot.matching.lexicon import Lexicon
from bot.matching.text import Stemmers, content_words, fold
from bot.matching.vocabulary import Vocabulary

# How much one occurrence of a word counts, by the field it stands in. The alternate
# questions are customers' own phrasings, the strongest evidence an FAQ has.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 3.0,
    "questions": 2.0,
    "tags": 2.0,
    "category": 1.0,
    "summary": 1.0,
    "body": 0.5,
}
# Fields that say what an entry is about; the body only explains.
STRONG_FIELDS = frozenset({"title", "questions", "tags", "summary"})
# A part of a compound counts less than the whole word.
COMPOUND_PART_WEIGHT = 0.5
K1 = 1.2
B = 0.75

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Posting:
    """The documents holding one term and the term's BM25 contribution in each."""

    docs: IntArray
    scores: FloatArray
    idf: float
    strong: IntArray


@dataclass(frozen=True, slots=True)
class ShortText:
    """A title or alternate question, kept as stems for overlap scoring."""

    stems: frozenset[str]
    text: str
    folded: str


class Index:
    """BM25 over field-weighted term frequencies, plus the vocabulary of the content."""

    def __init__(self, content: Content, lexicon: Lexicon) -> None:
        self.entries: tuple[Entry, ...] = content.entries
        self.lexicon = lexicon
        self.stemmers = Stemmers()
        # Tokenise every field once; frequencies, vocabulary and short texts share it.
        fields = [
            [(field, text, content_words(text)) for field, text in _fields(entry)]
            for entry in self.entries
        ]
        self.vocabulary = Vocabulary(
            (word, entry.lang)
            for entry, entry_fields in zip(self.entries, fields, strict=True)
            for _, _, words in entry_fields
            for word in words
        )
        self.group_of: tuple[int, ...] = _translation_groups(self.entries)
        self.by_id: dict[str, int] = {entry.id: i for i, entry in enumerate(self.entries)}
        frequencies: list[dict[str, float]] = []
        strong: list[set[str]] = []
        short_texts: list[tuple[ShortText, ...]] = []
        for entry, entry_fields in zip(self.entries, fields, strict=True):
            counts, strong_terms, texts = self._analyse_entry(entry, entry_fields)
            frequencies.append(counts)
            strong.append(strong_terms)
            short_texts.append(texts)
        del fields
        self.short_texts: tuple[tuple[ShortText, ...], ...] = tuple(short_texts)
        self.postings: dict[str, Posting] = _postings(frequencies, strong)
        self.max_idf = _idf(len(self.entries), 1)

    def __len__(self) -> int:
        return len(self.entries)

    def idf(self, term: str) -> float:
        """Return the inverse document frequency of a term (0 when it is unknown)."""
        posting = self.postings.get(term)
        return posting.idf if posting else 0.0

    def stems_of(self, word: str, lang: Lang) -> list[tuple[str, float]]:
        """Return the terms one content word contributes, with compound parts weighted."""
        terms = [(self.stemmers.stem(word, lang), 1.0)]
        parts = self.vocabulary.split(word) if len(word) >= 8 else None
        if parts:
            terms.extend((self.stemmers.stem(part, lang), COMPOUND_PART_WEIGHT) for part in parts)
        return terms

    def _analyse_entry(
        self, entry: Entry, fields: list[tuple[str, str, list[str]]]
    ) -> tuple[dict[str, float], set[str], tuple[ShortText, ...]]:
        """Return an entry's weighted term counts, its strong-field terms and short texts."""
        counts: dict[str, float] = defaultdict(float)
        strong: set[str] = set()
        texts: list[ShortText] = []
        for field, text, words in fields:
            weight = FIELD_WEIGHTS[field]
            terms = [pair for word in words for pair in self.stems_of(word, entry.lang)]
            for term, part_weight in terms:
                counts[term] += weight * part_weight
            if field in STRONG_FIELDS:
                strong.update(term for term, _ in terms)
            if field in ("title", "questions"):
                stems = frozenset(term for term, _ in terms)
                texts.append(ShortText(stems=stems, text=text, folded=default_process(fold(text))))
        return counts, strong, tuple(texts)


def _fields(entry: Entry) -> Iterable[tuple[str, str]]:
    yield "title", entry.title
    for question in entry.questions:
        yield "questions", question
    yield "tags", " ".join(entry.tags)
    yield "category", entry.category
    yield "summary", entry.summary
    yield "body", entry.body


def _idf(n_docs: int, df: int) -> float:
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def _postings(frequencies: list[dict[str, float]], strong: list[set[str]]) -> dict[str, Posting]:
    n_docs = len(frequencies)
    lengths = [sum(counts.values()) for counts in frequencies]
    average = (sum(lengths) / n_docs) if n_docs else 1.0
    by_term: dict[str, list[tuple[int, float]]] = defaultdict(list)
    strong_docs: dict[str, list[int]] = defaultdict(list)
    for doc, terms in enumerate(strong):
        for term in terms:
            strong_docs[term].append(doc)
    for doc, counts in enumerate(frequencies):
        norm = K1 * (1.0 - B + B * lengths[doc] / average)
        for term, tf in counts.items():
            by_term[term].append((doc, tf * (K1 + 1.0) / (tf + norm)))
    postings: dict[str, Posting] = {}
    for term, pairs in by_term.items():
        idf = _idf(n_docs, len(pairs))
        postings[term] = Posting(
            docs=np.fromiter((doc for doc, _ in pairs), dtype=np.int32, count=len(pairs)),
            scores=np.fromiter((idf * s for _, s in pairs), dtype=np.float32, count=len(pairs)),
            idf=idf,
            strong=np.array(strong_docs.get(term, []), dtype=np.int32),
        )
    return postings


def _translation_groups(entries: tuple[Entry, ...]) -> tuple[int, ...]:
    position = {entry.id: i for i, entry in enumerate(entries)}
    group = list(range(len(entries)))
    for i, entry in enumerate(entries):
        other = position.get(entry.translation or "")
        if other is not None:
            group[i] = group[other] = min(group[i], group[other])
    return tuple(group)
