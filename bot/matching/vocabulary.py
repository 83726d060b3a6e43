"""The words the content knows: compound splitting, joining and typo correction."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from operator import itemgetter

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import OSA

from bot.content.model import Lang
from bot.matching.text import Stemmers
from bot.memo import remember

MIN_PART = 3
# Shorter content words are not split: "postfach" is not "post" + "fach" for anyone.
MIN_COMPOUND = 8
CORRECTIONS_KEPT = 4096  # typo corrections remembered (then forgotten all at once)
# German compounds join their parts with a linking element ("Abwesenheit-s-notiz").
# Longest first, so "abwesenheits-notiz" splits into "abwesenheit" and "notiz".
_LINKS = ("es", "en", "s", "n", "")
_LINKS_AFTER = {end: tuple(link for link in _LINKS if end.endswith(link)) for end in _LINKS}
# A typo is fixed from the closest words of each length only, fewest edits first and
# then alphabetically; the first-letter rule is applied after that cut.
NEAREST = 5
# Letters are counted in 27 bins: a to z, and one for every other character.
_BINS = 27
_BIN_OF = {chr(ord("a") + i): i for i in range(26)}

IntArray = npt.NDArray[np.int64]
CountArray = npt.NDArray[np.uint8]
LevelArray = npt.NDArray[np.uint64]


class Vocabulary:
    """Folded surface words of the content and the stems they produce."""

    def __init__(self, words: Iterable[tuple[str, Lang]]) -> None:
        self._stemmers = Stemmers()
        self.frequency: Counter[str] = Counter()
        self.words: set[str] = set()
        self.stems: set[str] = set()
        self.by_language: dict[Lang, set[str]] = {lang: set() for lang in Lang}
        for lang, run in itertools.groupby(words, key=itemgetter(1)):
            self._add(list(map(itemgetter(0), run)), lang)
        self._spellings = _Spellings(
            word for word in self.words if len(word) >= 4 and word.isalpha()
        )
        # Customers make the same typos: the search for a word's nearest spellings is the
        # slow part of reading a question, so its answers are kept (up to a bound).
        self._corrections: dict[str, str | None] = {}
        # The content's own words are split once, sharing what is known about their parts.
        splitter = _Splitter(self.knows)
        self._compounds = {
            word: parts
            for word in self.words
            if len(word) >= MIN_COMPOUND and (parts := splitter.split(word))
        }

    def _add(self, words: list[str], lang: Lang) -> None:
        """Count words of one language; a word's stem is taken in the language first seen."""
        self.frequency.update(words)
        self.by_language[lang].update(words)
        new = set(words)
        new -= self.words
        self.words |= new
        self.stems.update(self._stemmers.stem_all(list(new), lang))

    def knows(self, word: str) -> bool:
        """Tell whether the word, or its stem in either language, occurs in the content."""
        return word in self.words or not self.stems.isdisjoint(self._stemmers.stems(word))

    def language_of(self, words: Iterable[str]) -> Lang | None:
        """Return the language whose entries alone use most of these words, if any."""
        counts = dict.fromkeys(Lang, 0)
        for word in words:
            holders = [lang for lang, known in self.by_language.items() if word in known]
            if len(holders) == 1:
                counts[holders[0]] += 1
        best = max(counts, key=lambda lang: counts[lang])
        return best if counts[best] > counts[best.other] else None

    def split(self, word: str) -> tuple[str, ...] | None:
        """Split a compound into known words, longest head first, or return None."""
        if word in self.words and len(word) >= MIN_COMPOUND:
            return self._compounds.get(word)
        return _Splitter(self.knows).split(word)

    def inflections(self, word: str) -> list[str]:
        """Return known forms of the same German verb ("kommt", "eingerichtet" → infinitive)."""
        forms = []
        for base in _without_participle_ge(word):
            forms.append(base)
            if base.endswith("et"):
                forms.append(base[:-2] + "en")
            if base.endswith("t"):
                forms.extend((base[:-1] + "en", base[:-1] + "n"))
        if word.endswith("en"):
            forms.append(word[:-2] + "t")
        known = (form for form in dict.fromkeys(forms) if form != word and form in self.words)
        return [form for form in known if len(form) > 4]

    def join(self, first: str, second: str) -> str | None:
        """Return the known compound two adjacent words form ("mail server"), or None."""
        joined = first + second
        return joined if joined in self.words else None

    def correct(self, word: str) -> str | None:
        """Return the known word a typo most likely meant, or None when unsure."""
        if len(word) < 4 or not word.isalpha():
            return None
        if word in self._corrections:
            return self._corrections[word]
        return remember(self._corrections, word, self._correct(word), CORRECTIONS_KEPT)

    def _correct(self, word: str) -> str | None:
        limit = 1 if len(word) < 8 else 2
        # Fewest edits first (a swap of two letters is one edit), then the commoner word.
        best: tuple[int, int, str] | None = None
        for candidate, distance in self._spellings.nearest(word, limit):
            if _is_other_word(word, candidate, distance):
                continue
            key = (distance, -self.frequency[candidate], candidate)
            if best is None or key < best:
                best = key
        return best[2] if best else None


class _Splitter:
    """Splits compounds into known words, remembering the parts and tails it has seen."""

    def __init__(self, knows: Callable[[str], bool]) -> None:
        self._knows = knows
        self._known: dict[str, bool] = {}
        self._splits: dict[str, tuple[str, ...] | None] = {}

    def split(self, word: str) -> tuple[str, ...] | None:
        """Split a compound into known words, longest head first, or return None."""
        if word not in self._splits:
            self._splits[word] = self._split(word)
        return self._splits[word]

    def _split(self, word: str) -> tuple[str, ...] | None:
        if not word.isalpha():
            return None
        for cut in range(len(word) - MIN_PART, MIN_PART - 1, -1):
            head, tail = word[:cut], word[cut:]
            for link in _links(head):
                stem = head[: len(head) - len(link)]
                if not self._known_part(stem):
                    continue
                if self._known_part(tail):
                    return (stem, tail)
                rest = self.split(tail)
                if rest:
                    return (stem, *rest)
        return None

    def _known_part(self, part: str) -> bool:
        known = self._known.get(part)
        if known is None:
            known = self._known[part] = len(part) >= MIN_PART and self._knows(part)
        return known


class _Spellings:
    """Known words for typo correction, with letter counts to rule most of them out cheaply."""

    def __init__(self, words: Iterable[str]) -> None:
        # By length, then alphabetically: the words of a range of lengths are one slice.
        self._words = sorted(words)
        self._words.sort(key=len)
        self._lengths: IntArray = np.array([len(word) for word in self._words], dtype=np.int64)
        self._counts = _letter_counts(self._words)
        self._levels = _levels(self._counts)

    def nearest(self, word: str, limit: int) -> list[tuple[str, int]]:
        """Return the NEAREST closest words of each length within `limit` edits."""
        start, end = np.searchsorted(self._lengths, (len(word) - limit, len(word) + limit + 1))
        # An edit adds or removes at most one letter on each side, so each side may have at
        # most `limit` letters the other lacks: first counted up to two, then exactly.
        counts = _word_counts(word)
        levels = np.uint64(_word_levels(counts))
        differ = self._levels[start:end] ^ levels
        close = np.flatnonzero(np.bitwise_count(differ) <= 2 * limit)
        differ = differ[close]
        lacking = np.bitwise_count(differ & levels) <= limit
        extra = np.bitwise_count(differ & ~levels) <= limit
        close = start + close[lacking & extra]
        differences = np.abs(self._counts[close].astype(np.int16) - counts).sum(axis=1)
        close = close[differences + np.abs(self._lengths[close] - len(word)) <= 2 * limit]
        by_length: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for position in close.tolist():
            candidate = self._words[position]
            distance = OSA.distance(word, candidate, score_cutoff=limit)
            if distance <= limit:
                by_length[len(candidate)].append((distance, candidate))
        return [
            (candidate, distance)
            for near in by_length.values()
            for distance, candidate in sorted(near)[:NEAREST]
        ]


def _links(head: str) -> tuple[str, ...]:
    """Return the links a head ends in, in the order of _LINKS."""
    return _LINKS_AFTER.get(head[-2:]) or _LINKS_AFTER.get(head[-1:], _LINKS_AFTER[""])


def _letter_counts(words: list[str]) -> CountArray:
    """Return how often each word has each letter, in _BINS bins (at most 255)."""
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    bins = np.where((codes >= ord("a")) & (codes <= ord("z")), codes - ord("a"), _BINS - 1)
    rows = np.repeat(np.arange(len(words)), [len(word) for word in words])
    counts = np.bincount(rows * _BINS + bins, minlength=len(words) * _BINS)
    return np.minimum(counts, 255).astype(np.uint8).reshape(len(words), _BINS)


def _levels(counts: CountArray) -> LevelArray:
    """Return the letters of each word as bits: one for "has it", one for "has it twice"."""
    bits = np.uint64(1) << np.arange(_BINS, dtype=np.uint64)
    once = ((counts >= 1) * bits).sum(axis=1, dtype=np.uint64)
    twice = ((counts >= 2) * bits).sum(axis=1, dtype=np.uint64)
    levels: LevelArray = once | (twice << np.uint64(32))
    return levels


def _word_counts(word: str) -> list[int]:
    """Return _letter_counts of a single word, without the cost of arrays."""
    counts = [0] * _BINS
    for char in word:
        counts[_BIN_OF.get(char, _BINS - 1)] += 1
    return [min(count, 255) for count in counts]


def _word_levels(counts: list[int]) -> int:
    """Return _levels of a single word's counts."""
    once = sum(1 << i for i, count in enumerate(counts) if count >= 1)
    twice = sum(1 << i for i, count in enumerate(counts) if count >= 2)
    return once | twice << 32


# Separable verb prefixes: the participle puts "ge" after them ("ein-ge-richtet").
_SEPARABLE = ("ab", "an", "auf", "aus", "ein", "um", "vor", "zu", "zurueck", "weiter", "hoch")


def _without_participle_ge(word: str) -> list[str]:
    """Return the word and, for a German participle, the word without its "ge"."""
    bases = [word]
    if len(word) > 6 and word.startswith("ge"):
        bases.append(word[2:])
    for prefix in _SEPARABLE:
        if word.startswith(prefix + "ge") and len(word) > len(prefix) + 5:
            bases.append(prefix + word[len(prefix) + 2 :])
    return bases


def _is_other_word(word: str, candidate: str, distance: int) -> bool:
    """Tell whether a near neighbour is a different word rather than the intended one."""
    # "abbestellen" is not a typo of "bestellen", nor "verbindung" of "bankverbindung",
    # nor "mail" of "mailbox"; but "revers" is "reverse" with its last letter missed.
    # People rarely mistype the first letter of a short word unless they swap the first two.
    if word == candidate:
        return True
    short, long = sorted((word, candidate), key=len)
    missing = len(long) - len(short)
    if (long.endswith(short) and missing >= 2) or (long.startswith(short) and missing >= 3):
        return True
    first_letter_changed = word[0] != candidate[0] and word[:2] != candidate[1::-1]
    return first_letter_changed and (distance > 1 or len(word) < 7)
