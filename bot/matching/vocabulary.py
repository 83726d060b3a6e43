"""The words the content knows: compound splitting, joining and typo correction."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.content.model import Lang
from bot.matching.text import Stemmers

MIN_PART = 3
# German compounds join their parts with a linking element ("Abwesenheit-s-notiz").
# Longest first, so "abwesenheits-notiz" splits into "abwesenheit" and "notiz".
_LINKS = ("es", "en", "s", "n", "")


class Vocabulary:
    """Folded surface words of the content and the stems they produce."""

    def __init__(self, words: Iterable[tuple[str, Lang]]) -> None:
        stemmers = Stemmers()
        self.frequency: Counter[str] = Counter()
        self.words: set[str] = set()
        self.stems: set[str] = set()
        self.by_language: dict[Lang, set[str]] = {lang: set() for lang in Lang}
        for word, lang in words:
            self.frequency[word] += 1
            self.by_language[lang].add(word)
            if word not in self.words:
                self.words.add(word)
                self.stems.add(stemmers.stem(word, lang))
        by_length: dict[int, list[str]] = defaultdict(list)
        for word in sorted(self.words):
            if len(word) >= 4 and word.isalpha():
                by_length[len(word)].append(word)
        self._by_length = dict(by_length)
        self._stemmers = stemmers
        self.split = lru_cache(maxsize=50_000)(self._split)
        self.correct = lru_cache(maxsize=50_000)(self._correct)

    def knows(self, word: str) -> bool:
        """Tell whether the word, or its stem in either language, occurs in the content."""
        return word in self.words or any(stem in self.stems for stem in self._stemmers.stems(word))

    def language_of(self, words: Iterable[str]) -> Lang | None:
        """Return the language whose entries alone use most of these words, if any."""
        counts = dict.fromkeys(Lang, 0)
        for word in words:
            holders = [lang for lang, known in self.by_language.items() if word in known]
            if len(holders) == 1:
                counts[holders[0]] += 1
        best = max(counts, key=lambda lang: counts[lang])
        return best if counts[best] > counts[best.other] else None

    def _known_part(self, part: str) -> bool:
        return len(part) >= MIN_PART and self.knows(part)

    def _split(self, word: str) -> tuple[str, ...] | None:
        """Split a compound into known words, longest head first, or return None."""
        if not word.isalpha():
            return None
        for cut in range(len(word) - MIN_PART, MIN_PART - 1, -1):
            head, tail = word[:cut], word[cut:]
            for link in _LINKS:
                if link and not head.endswith(link):
                    continue
                stem = head[: len(head) - len(link)]
                if not self._known_part(stem):
                    continue
                if self._known_part(tail):
                    return (stem, tail)
                rest = self._split(tail)
                if rest:
                    return (stem, *rest)
        return None

    def inflections(self, word: str) -> list[str]:
        """Return known forms of the same German verb ("kommt" for "kommen" and back)."""
        forms = []
        if word.endswith("t"):
            forms.append(word[:-1] + "en")
        if word.endswith("en"):
            forms.append(word[:-2] + "t")
        return [form for form in forms if form in self.words and len(form) > 4]

    def join(self, first: str, second: str) -> str | None:
        """Return the known compound two adjacent words form ("mail server"), or None."""
        joined = first + second
        return joined if joined in self.words else None

    def _correct(self, word: str) -> str | None:
        """Return the known word a typo most likely meant, or None when unsure."""
        if len(word) < 4 or not word.isalpha():
            return None
        limit = 1 if len(word) < 8 else 2
        # Fewest edits first (a swap of two letters is one edit), then the commoner word.
        best: tuple[int, int, str] | None = None
        for length in range(len(word) - limit, len(word) + limit + 1):
            for candidate, distance, _ in process.extract(
                word,
                self._by_length.get(length, ()),
                scorer=OSA.distance,
                processor=None,
                score_cutoff=limit,
                limit=5,
            ):
                if _is_other_word(word, candidate):
                    continue
                key = (int(distance), -self.frequency[candidate], candidate)
                if best is None or key < best:
                    best = key
        return best[2] if best else None


def _is_other_word(word: str, candidate: str) -> bool:
    """Tell whether a near neighbour is a different word rather than the intended one."""
    # "abbestellen" is not a typo of "bestellen", nor "verbindung" of "bankverbindung";
    # and people rarely mistype the first letter unless they swap the first two.
    short, long = sorted((word, candidate), key=len)
    if long.endswith(short) or long.startswith(short):
        return True
    return word[0] != candidate[0] and word[:2] != candidate[1::-1]
