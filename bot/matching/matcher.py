"""Ranking entries for a question, with one calibrated confidence per candidate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

from bot.content.model import Entry, Lang
from bot.matching.index import K1, Index, ShortText
from bot.matching.query import Query, TermGroup, analyse
from bot.matching.text import detect_language, fold

RESCORE_DEPTH = 30
MIN_RELATIVE = 0.2
REPORTED = 5
# Words the content does not know make any answer less certain: "Gmail Passwort ändern"
# is not answered by the portal password entry. Set by policy: the fit cannot see it,
# because out-of-scope questions have no right candidate to learn from.
UNKNOWN_PENALTY = 4.0
# Preference for the customer's language when an entry exists in both.
OTHER_LANGUAGE_PENALTY = 0.97


@dataclass(frozen=True, slots=True)
class Features:
    """What the confidence of one candidate is computed from, each in 0..1."""

    lexical: float
    relative: float
    coverage: float
    focus: float
    overlap: float
    fuzzy: float
    unknown: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """An entry that may answer the question, with its confidence in 0..1."""

    entry: Entry
    score: float
    matched: tuple[str, ...]
    features: Features


@dataclass(frozen=True, slots=True)
class Ranking:
    """The ranked candidates for one question and how the question was read."""

    question: str
    lang: Lang
    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...]
    unknown: tuple[str, ...]


class Matcher:
    """Rank the entries of an index for customer questions."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._english = np.array([e.lang is Lang.EN for e in index.entries], dtype=bool)
        self._folded = [[text.folded for text in texts] for texts in index.short_texts]

    def rank(self, question: str, lang: Lang | None = None, limit: int = 10) -> Ranking:
        """Return the best entries for a question, best first."""
        lang = lang or detect_language(question)
        query = analyse(question, self.index)
        lang = lang or self.index.vocabulary.language_of(g.word for g in query.groups)
        candidates = tuple(self._score(query, lang, limit))
        if lang is None:
            lang = Lang.DE
        return Ranking(
            question=question,
            lang=lang,
            candidates=candidates,
            notes=query.notes,
            unknown=query.unknown,
        )

    def _score(self, query: Query, lang: Lang | None, limit: int) -> list[Candidate]:
        index = self.index
        n_docs = len(index)
        groups = [g for g in query.groups if g.weight > 0]
        if not n_docs or not groups:
            return []
        contribution, strong = self._contributions(groups, lang)
        matched = contribution > 0
        total = contribution.sum(axis=0)
        upper = sum(g.weight for g in groups) * (K1 + 1.0)
        weights = np.array([g.weight for g in groups], dtype=np.float32)
        coverage = (weights @ matched) / weights.sum()
        focus = (weights @ strong) / weights.sum()
        lexical = total / upper
        top_lexical = float(lexical.max()) or 1.0
        folded_question = default_process(fold(query.text))
        unknown = sum(g.weight for g in groups if not g.alternatives) / float(weights.sum())

        # Re-score a little deeper than reported: translation pairs fold into one candidate.
        depth = min(RESCORE_DEPTH + RESCORE_DEPTH // 2, n_docs)
        order = np.argpartition(-lexical, depth - 1)[:depth]
        order = order[np.argsort(-lexical[order], kind="stable")]
        # Python floats for the documents in reach: numpy scalars are slow one at a time.
        ordered = order.tolist()
        lexicals = lexical[order].tolist()
        visited: list[int] = []
        groups_seen: set[int] = set()
        for doc, value in zip(ordered, lexicals, strict=True):
            if value <= 0:
                break
            # Far behind the best, an entry's confidence is near zero whatever it re-scores;
            # the report still lists the usual number of candidates.
            if value <= MIN_RELATIVE * top_lexical and len(groups_seen) >= REPORTED:
                break
            visited.append(doc)
            groups_seen.add(index.group_of[doc])
        overlap = _Overlap(groups)
        fuzzy = self._fuzzy(folded_question, visited)
        lexicals = lexical[visited].tolist()
        coverages = coverage[visited].tolist()
        focuses = focus[visited].tolist()
        # Features are built for the reported candidates only: a frozen dataclass per
        # document in reach costs more than its confidence.
        best_by_group: dict[int, tuple[float, int, tuple[float, ...]]] = {}
        for position, doc in enumerate(visited):
            values = (
                lexicals[position],
                lexicals[position] / top_lexical,
                coverages[position],
                focuses[position],
                overlap.best(index.short_texts[doc]),
                fuzzy[position],
                unknown,
            )
            score = confidence(values)
            if lang and index.entries[doc].lang is not lang:
                score *= OTHER_LANGUAGE_PENALTY
            group_id = index.group_of[doc]
            if group_id not in best_by_group or score > best_by_group[group_id][0]:
                best_by_group[group_id] = (score, doc, values)
        ranked = sorted(best_by_group.values(), key=lambda pair: -pair[0])[
            : min(limit, RESCORE_DEPTH)
        ]
        hits = matched[:, [doc for _, doc, _ in ranked]].T.tolist()
        return [
            Candidate(
                entry=self._in_language(index.entries[doc], lang),
                score=round(score, 4),
                matched=tuple(g.word for g, hit in zip(groups, row, strict=True) if hit),
                features=Features(*values),
            )
            for (score, doc, values), row in zip(ranked, hits, strict=True)
        ]

    def _fuzzy(self, question: str, docs: list[int]) -> list[float]:
        """Return each document's best rapidfuzz token-set similarity to a title or
        question, in 0..1, all in one call (the question is prepared once)."""
        texts = [text for doc in docs for text in self._folded[doc]]
        if not texts:
            return [0.0] * len(docs)
        # Both sides are folded and processed once (the texts when the index is built), so
        # the comparison itself runs without a processor.
        scores = process.cdist([question], texts, scorer=fuzz.token_set_ratio, processor=None)[0]
        # Each document's best, in one call over the documents that have texts.
        sizes = [len(self._folded[doc]) for doc in docs]
        starts = np.cumsum([0, *sizes[:-1]])[np.array(sizes) > 0]
        best = iter((np.maximum.reduceat(scores, starts) / 100.0).tolist())
        return [next(best) if size else 0.0 for size in sizes]

    def _contributions(
        self, groups: list[TermGroup], lang: Lang | None
    ) -> tuple[np.ndarray[Any, np.dtype[np.float32]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Return each group's contribution to each document, and where it is strong.

        A group's contribution is its best term in the document; every (group, term)
        posting is taken at once.
        """
        index = self.index
        rows: list[int] = []
        postings = []
        scales: list[float] = []
        across: list[float] = []
        for row, group in enumerate(groups):
            for term, weight in group.alternatives.items():
                rows.append(row)
                postings.append(index.postings[term])
                scales.append(weight)
                across.append(group.across[term])
        contribution = np.zeros((len(groups), len(index)), dtype=np.float32)
        strong = np.zeros((len(groups), len(index)), dtype=bool)
        if not postings:
            return contribution, strong
        sizes = [len(posting.docs) for posting in postings]
        docs = np.concatenate([posting.docs for posting in postings])
        scale = np.repeat(np.array(scales, dtype=np.float32), sizes)
        # Only English questions read German entries through translations at full weight:
        # the content is mostly German, so the other way round would favour the few
        # English variants of translated entries.
        if lang is Lang.EN:
            across_scale = np.repeat(np.array(across, dtype=np.float32), sizes)
            scale = np.where(~self._english[docs], across_scale, scale)
        values = np.concatenate([posting.scores for posting in postings]) * scale
        np.maximum.at(contribution, (np.repeat(rows, sizes), docs), values)
        strong_sizes = [len(posting.strong) for posting in postings]
        strong_docs = np.concatenate([posting.strong for posting in postings])
        strong[np.repeat(rows, strong_sizes), strong_docs] = True
        return contribution, strong

    def _in_language(self, entry: Entry, lang: Lang | None) -> Entry:
        if entry.lang is (lang or Lang.DE) or not entry.translation:
            return entry
        position = self.index.by_id.get(entry.translation)
        return entry if position is None else self.index.entries[position]


class _Overlap:
    """The idf-weighted F1 between one question and titles or alternate questions."""

    def __init__(self, groups: list[TermGroup]) -> None:
        # Each word of the question is one bit; a text's hits are the OR of its terms' bits.
        self._bits: dict[str, int] = {}
        for row, group in enumerate(groups):
            for term in group.alternatives:
                self._bits[term] = self._bits.get(term, 0) | 1 << row
        # A set, so that `&` walks the smaller side (a text has a few stems).
        self._terms = frozenset(self._bits)
        self._weights = [group.weight for group in groups]
        self._total = sum(self._weights)
        self._recall: dict[int, float] = {}

    def best(self, texts: tuple[ShortText, ...]) -> float:
        """Return the best F1 over the texts (0 when none shares a word with the question)."""
        best = 0.0
        for text in texts:
            explained = text.stems & self._terms
            if not explained:
                continue
            mask = 0
            for term in explained:
                mask |= self._bits[term]
            recall = self._recall.get(mask)
            if recall is None:
                hit = sum(w for row, w in enumerate(self._weights) if mask >> row & 1)
                recall = self._recall[mask] = hit / self._total
            if not recall:
                continue
            precision = len(explained) / len(text.stems)
            best = max(best, 2 * recall * precision / (recall + precision))
        return best


def confidence(values: tuple[float, ...]) -> float:
    """Map the ranking features, as values in the order of Features' fields, to a
    probability that the entry answers the question."""
    lexical, relative, coverage, focus, overlap, fuzzy, unknown = values
    # Logistic regression fitted on the development cases (tests/eval), see docs/matching.md;
    # the penalty for words no entry knows is set by policy, not fitted (see UNKNOWN_PENALTY).
    z = (
        -9.22
        + 1.65 * lexical
        + 5.74 * relative
        + 0.44 * coverage
        + 0.44 * focus
        + 2.17 * overlap
        + 2.05 * fuzzy
        - UNKNOWN_PENALTY * unknown
    )
    return 1.0 / (1.0 + math.exp(-z))
