"""Turning a ranking into one of three decisions: answer, suggest or abstain."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.matching.matcher import Candidate, Ranking


class Kind(enum.StrEnum):
    """What the bot does with a question."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    ABSTAIN = "abstain"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Decision zones over the calibrated confidence (config `[matching]`)."""

    answer: float = 0.60
    suggest: float = 0.30
    margin: float = 0.15
    max_suggestions: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.suggest <= self.answer <= 1.0:
            raise ValueError("thresholds need 0 <= suggest <= answer <= 1")
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError("margin must be within 0..1")
        if not 2 <= self.max_suggestions <= 3:
            raise ValueError("max_suggestions must be 2 or 3")


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision for one question and the candidates it offers."""

    kind: Kind
    ranking: Ranking
    offered: tuple[Candidate, ...]

    @property
    def answer(self) -> Candidate | None:
        """Return the answered candidate, if the decision is to answer."""
        return self.offered[0] if self.kind is Kind.ANSWER else None


def decide(ranking: Ranking, thresholds: Thresholds) -> Decision:
    """Answer when confident and clear of the runner-up, suggest when plausible, else abstain."""
    candidates = ranking.candidates
    if not candidates or candidates[0].score < thresholds.suggest:
        return Decision(Kind.ABSTAIN, ranking, ())
    best = candidates[0]
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    # Scores are rounded to 4 decimals; compare the lead with the same precision.
    lead = round(best.score - runner_up, 4)
    if best.score >= thresholds.answer and lead >= thresholds.margin:
        return Decision(Kind.ANSWER, ranking, (best,))
    plausible = tuple(
        c for c in candidates[: thresholds.max_suggestions] if c.score >= thresholds.suggest
    )
    if len(plausible) < 2:
        plausible = candidates[:2]
    return Decision(Kind.SUGGEST, ranking, plausible)
