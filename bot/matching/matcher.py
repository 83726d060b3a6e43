"""Ranking entries for a question, with one calibrated confidence per candidate."""

from __future__ import annotations

import math
from collections.abc import Callable
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

    def rank(self, question: str, lang: Lang | None = None, limit: int = REPORTED) -> Ranking:
        """Return the best `limit` entries for a question (at most RESCORE_DEPTH), best
        first."""
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
        lexicals = lexical[visited].tolist()
        coverages = coverage[visited].tolist()
        focuses = focus[visited].tolist()
        overlap = _Overlap(groups)
        # Each document's confidence before its fuzzy similarity (the dearest feature) and
        # the most it could reach (fuzzy 1): a document whose most is below the `wanted`th
        # best group's confidence cannot be reported, and its similarity is not computed.
        wanted = min(limit, RESCORE_DEPTH)
        group_ids = [index.group_of[doc] for doc in visited]
        rescoring = _Rescoring()
        for position, doc in enumerate(visited):
            scale = 1.0 if not lang or index.entries[doc].lang is lang else OTHER_LANGUAGE_PENALTY
            rescoring.add(
                (
                    lexicals[position],
                    lexicals[position] / top_lexical,
                    coverages[position],
                    focuses[position],
                    overlap.best(index.short_texts[doc]),
                    0.0,
                    unknown,
                ),
                scale,
            )
        ranked = rescoring.best(
            wanted, group_ids, lambda docs: self._fuzzy(folded_question, [visited[p] for p in docs])
        )
        hits = matched[:, [visited[p] for p in ranked]].T.tolist()
        return [
            Candidate(
                entry=self._in_language(index.entries[visited[position]], lang),
                score=round(rescoring.scores[position], 4),
                matched=tuple(g.word for g, hit in zip(groups, row, strict=True) if hit),
                features=Features(*rescoring.values[position]),
            )
            for position, row in zip(ranked, hits, strict=True)
        ]

    def _fuzzy(self, question: str, docs: list[int]) -> list[float]:
        """Return each document's best rapidfuzz token-set similarity to a title or
        question, in 0..1, all in one call (the question is prepared once)."""
        texts = [text for doc in docs for text in self._folded[doc]]
        if not texts:
            return [0.0] * len(docs)
        # Both sides are folded and processed once (the texts when the index is built), so
        # the comparison itself runs without a processor.
        scores = process.cdist([question], texts, scorer=fuzz.token_set_ratio, processor=None)
        found = (scores[0] / 100.0).tolist()
        best = []
        start = 0
        for doc in docs:
            end = start + len(self._folded[doc])
            best.append(max(found[start:end], default=0.0))
            start = end
        return best

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


class _Rescoring:
    """The features and confidences of the documents in reach, the fuzzy similarity
    added to those that may be reported."""

    def __init__(self) -> None:
        self.values: list[tuple[float, ...]] = []
        self.ceilings: list[float] = []
        self.scores: dict[int, float] = {}
        self._logits: list[float] = []
        self._scales: list[float] = []

    def add(self, values: tuple[float, ...], scale: float) -> None:
        """Add the next document: its features with fuzzy 0 and its language's factor."""
        logit = _logit(values)
        self.values.append(values)
        self.ceilings.append(_sigmoid(logit + FUZZY_WEIGHT) * scale)
        self._logits.append(logit)
        self._scales.append(scale)

    def best(
        self,
        wanted: int,
        group_ids: list[int],
        fuzzy: Callable[[list[int]], list[float]],
    ) -> list[int]:
        """Return the positions of the `wanted` best groups' best documents, best first.

        `fuzzy` gives the similarity of documents by position. It is asked first for the
        documents of highest ceiling up to `wanted` groups, then for the others whose
        ceiling reaches the worst of those groups: none else can be reported.
        """
        if wanted < 1:
            return []
        by_ceiling = sorted(range(len(self.values)), key=self.ceilings.__getitem__, reverse=True)
        first: list[int] = []
        first_groups: set[int] = set()
        for position in by_ceiling:
            if len(first_groups) == wanted:
                break
            first.append(position)
            first_groups.add(group_ids[position])
        self._finish(first, fuzzy(first))
        found = _best_of_groups(self.scores, group_ids)
        floor = min(self.scores[p] for p in found.values()) if len(found) == wanted else 0.0
        rest = [p for p in by_ceiling[len(first) :] if self.ceilings[p] >= floor]
        self._finish(rest, fuzzy(rest))
        # Groups by their best confidence, then in the order of their first document; a
        # group's best is its first document on a tie.
        order: dict[int, int] = {}
        for position, group_id in enumerate(group_ids):
            order.setdefault(group_id, position)
        best = _best_of_groups(self.scores, group_ids)
        return sorted(best.values(), key=lambda p: (-self.scores[p], order[group_ids[p]]))[:wanted]

    def _finish(self, positions: list[int], similarities: list[float]) -> None:
        """Set the fuzzy similarity of these documents and compute their confidence."""
        for position, similarity in zip(positions, similarities, strict=True):
            values = self.values[position]
            self.values[position] = (*values[:5], similarity, values[6])
            logit = self._logits[position] + FUZZY_WEIGHT * similarity
            self.scores[position] = _sigmoid(logit) * self._scales[position]


def _best_of_groups(scores: dict[int, float], group_ids: list[int]) -> dict[int, int]:
    """Return the position of each group's best scored document, the first on a tie."""
    best: dict[int, int] = {}
    for position in sorted(scores):
        group_id = group_ids[position]
        if group_id not in best or scores[position] > scores[best[group_id]]:
            best[group_id] = position
    return best


# The confidence is a logistic regression over the features (in the order of Features'
# fields), fitted on the development cases (tests/eval), see docs/matching.md; the penalty
# for words no entry knows is set by policy, not fitted (see UNKNOWN_PENALTY). The fuzzy
# similarity's term is added last (`_Rescoring`): only where it may matter.
FUZZY_WEIGHT = 2.05


def _logit(values: tuple[float, ...]) -> float:
    """The regression's sum over every feature but the fuzzy similarity."""
    lexical, relative, coverage, focus, overlap, _, unknown = values
    return (
        -9.22
        + 1.65 * lexical
        + 5.74 * relative
        + 0.44 * coverage
        + 0.44 * focus
        + 2.17 * overlap
        - UNKNOWN_PENALTY * unknown
    )


def _sigmoid(logit: float) -> float:
    """The probability for a logit."""
    return 1.0 / (1.0 + math.exp(-logit))
