"""The matching engine: one index over the content, ranking and deciding questions."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from bot.content.model import Content, Lang
from bot.matching.builtin_lexicon import builtin_groups
from bot.matching.decision import Decision, Thresholds, decide
from bot.matching.index import Index
from bot.matching.lexicon import Lexicon
from bot.matching.matcher import Matcher, Ranking


class MatchingEngine:
    """Answer, suggest or abstain for customer questions against one content set."""

    def __init__(self, content: Content, thresholds: Thresholds) -> None:
        lexicon = Lexicon([*builtin_groups(), *content.glossary.groups])
        self.content = content
        self.thresholds = thresholds
        with _collector_paused():
            index = Index(content, lexicon)
        self.matcher = Matcher(index)

    def rank(self, question: str, lang: Lang | None = None) -> Ranking:
        """Return the ranked candidates for a question."""
        return self.matcher.rank(question, lang)

    def decide(self, question: str, lang: Lang | None = None) -> Decision:
        """Return the answer/suggest/abstain decision for a question."""
        return decide(self.rank(question, lang), self.thresholds)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: the index build makes millions of acyclic
    objects, and rescanning them again and again took a third of the build time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
