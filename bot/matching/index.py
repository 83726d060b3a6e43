"""The search index: weighted BM25 postings over the fields of every entry."""

from __future__ import annotations

import itertools
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from rapidfuzz.utils import default_process

from bot.content.model import Content, Entry, Lang
from bot.matching.lexicon import Lexicon
from bot.matching.text import Stemmers, fold, folded_content_words
from bot.matching.vocabulary import MIN_COMPOUND, Vocabulary

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
# Fields short enough to compare with a whole question.
SHORT_FIELDS = frozenset({"title", "questions"})
# A part of a compound counts less than the whole word.
COMPOUND_PART_WEIGHT = 0.5
K1 = 2.5
B = 0.5

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
        spellings: dict[str, str] = {}
        tokens = [_Tokens.of(entry, spellings) for entry in self.entries]
        del spellings
        self.vocabulary = Vocabulary(
            itertools.chain.from_iterable(
                zip(entry_tokens.words, itertools.repeat(entry.lang))
                for entry, entry_tokens in zip(self.entries, tokens, strict=True)
            )
        )
        self.group_of: tuple[int, ...] = _translation_groups(self.entries)
        self.by_id: dict[str, int] = {entry.id: i for i, entry in enumerate(self.entries)}
        counts = _Counts(self.stems_of)
        self.short_texts: tuple[tuple[ShortText, ...], ...] = tuple(
            counts.add(entry_tokens, entry.lang)
            for entry, entry_tokens in zip(self.entries, tokens, strict=True)
        )
        del tokens
        self.postings: dict[str, Posting] = counts.postings()
        self.max_idf = _idf(len(self.entries), 1)
        # How customer words read against this index, remembered by bot.matching.query.
        self.readings: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def idf(self, term: str) -> float:
        """Return the inverse document frequency of a term (0 when it is unknown)."""
        posting = self.postings.get(term)
        return posting.idf if posting else 0.0

    def stems_of(self, word: str, lang: Lang) -> list[tuple[str, float]]:
        """Return the terms one content word contributes, with compound parts weighted."""
        terms = [(self.stemmers.stem(word, lang), 1.0)]
        parts = self.vocabulary.split(word) if len(word) >= MIN_COMPOUND else None
        if parts:
            terms.extend((self.stemmers.stem(part, lang), COMPOUND_PART_WEIGHT) for part in parts)
        return terms


class _Tokens(NamedTuple):
    """The content words of one entry, field after field: its text, its folded text (titles
    and questions only, for the short texts) and where it ends."""

    # Tuples of strings only: the garbage collector stops tracking them.
    words: tuple[str, ...]
    fields: tuple[tuple[str, str, str, int], ...]

    @classmethod
    def of(cls, entry: Entry, spellings: dict[str, str]) -> _Tokens:
        """Tokenise an entry, keeping one string object per distinct word."""
        words: list[str] = []
        fields: list[tuple[str, str, str, int]] = []
        for field, text in _fields(entry):
            folded = fold(text)
            found = folded_content_words(folded)
            words.extend(map(spellings.setdefault, found, found))
            kept = folded if field in SHORT_FIELDS else ""
            fields.append((field, text, kept, len(words)))
        return cls(tuple(words), tuple(fields))


class _Counts:
    """The weighted term counts of every entry, kept flat until they become postings."""

    def __init__(self, stems_of: Callable[[str, Lang], list[tuple[str, float]]]) -> None:
        self._stems_of = stems_of
        # Terms are numbered in the order they first occur, the order of the postings.
        self._terms: list[str] = []
        self._numbers: dict[str, int] = {}
        self._terms_of: dict[Lang, dict[str, tuple[tuple[int, float], ...]]] = {
            lang: {} for lang in Lang
        }
        # Many entries ask the same question in the same words.
        self._short_texts: dict[Lang, dict[str, ShortText]] = {lang: {} for lang in Lang}
        self._doc_terms = array("i")
        self._doc_counts = array("d")
        self._doc_sizes: list[int] = []
        self._lengths: list[float] = []
        self._strong_terms = array("i")
        self._strong_sizes: list[int] = []

    def add(self, tokens: _Tokens, lang: Lang) -> tuple[ShortText, ...]:
        """Count the next entry's terms; return its title and questions as short texts."""
        terms_of = self._terms_of[lang]
        for word in itertools.filterfalse(terms_of.__contains__, tokens.words):
            terms_of[word] = tuple(
                (self._number(term), weight) for term, weight in self._stems_of(word, lang)
            )
        counts: dict[int, float] = {}
        strong: set[int] = set()
        texts: list[ShortText] = []
        start = 0
        for field, text, folded, end in tokens.fields:
            weight = FIELD_WEIGHTS[field]
            words = tokens.words[start:end]
            start = end
            if field not in STRONG_FIELDS:
                # The body: each distinct word once, times its count (the weights are
                # multiples of 0.25, so the sums are exact in any order).
                for word, times in Counter(words).items():
                    for term, part_weight in terms_of[word]:
                        counts[term] = counts.get(term, 0.0) + weight * part_weight * times
                continue
            terms = list(itertools.chain.from_iterable(map(terms_of.__getitem__, words)))
            for term, part_weight in terms:
                counts[term] = counts.get(term, 0.0) + weight * part_weight
            strong.update(term for term, _ in terms)
            if field in SHORT_FIELDS:
                texts.append(self._short_text(text, folded, terms, lang))
        self._doc_terms.extend(counts)
        self._doc_counts.extend(counts.values())
        self._doc_sizes.append(len(counts))
        self._lengths.append(sum(counts.values()))
        self._strong_terms.extend(strong)
        self._strong_sizes.append(len(strong))
        return tuple(texts)

    def _number(self, term: str) -> int:
        number = self._numbers.get(term)
        if number is None:
            number = self._numbers[term] = len(self._terms)
            self._terms.append(term)
        return number

    def _short_text(
        self, text: str, folded: str, terms: list[tuple[int, float]], lang: Lang
    ) -> ShortText:
        known = self._short_texts[lang]
        short = known.get(text)
        if short is None:
            stems = frozenset(self._terms[term] for term, _ in terms)
            processed = default_process(folded)
            short = known[text] = ShortText(stems=stems, text=text, folded=processed)
        return short

    def postings(self) -> dict[str, Posting]:
        """Return the postings of every term, its documents in ascending order."""
        n_docs, n_terms = len(self._doc_sizes), len(self._terms)
        average = (sum(self._lengths) / n_docs if n_docs else 0.0) or 1.0
        norms = np.array([K1 * (1.0 - B + B * length / average) for length in self._lengths])
        terms = np.array(self._doc_terms, dtype=np.int32)
        docs = np.repeat(np.arange(n_docs, dtype=np.int32), self._doc_sizes)
        tf = np.array(self._doc_counts, dtype=np.float64)
        saturated = tf * (K1 + 1.0) / (tf + norms[docs])
        frequencies = np.bincount(terms, minlength=n_terms)
        idfs = [_idf(n_docs, df) for df in frequencies.tolist()]
        # Grouped by term, each term's documents still in ascending order.
        order = np.argsort(terms, kind="stable")
        docs = docs[order]
        scores = (np.array(idfs)[terms[order]] * saturated[order]).astype(np.float32)
        strong_terms = np.array(self._strong_terms, dtype=np.int32)
        strong_docs = np.repeat(np.arange(n_docs, dtype=np.int32), self._strong_sizes)
        strong_docs = strong_docs[np.argsort(strong_terms, kind="stable")]
        ends = np.cumsum(frequencies).tolist()
        strong_ends = np.cumsum(np.bincount(strong_terms, minlength=n_terms)).tolist()
        postings: dict[str, Posting] = {}
        start = strong_start = 0
        for term, idf, end, strong_end in zip(self._terms, idfs, ends, strong_ends, strict=True):
            postings[term] = Posting(
                docs=docs[start:end],
                scores=scores[start:end],
                idf=idf,
                strong=strong_docs[strong_start:strong_end],
            )
            start, strong_start = end, strong_end
        return postings


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


def _translation_groups(entries: tuple[Entry, ...]) -> tuple[int, ...]:
    position = {entry.id: i for i, entry in enumerate(entries)}
    group = list(range(len(entries)))
    for i, entry in enumerate(entries):
        other = position.get(entry.translation or "")
        if other is not None:
            group[i] = group[other] = min(group[i], group[other])
    return tuple(group)
