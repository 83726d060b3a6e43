"""The conversation's state for one customer, saved as JSON in the ticket store."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bot.content.model import Lang, Tier
from bot.tickets.model import TranscriptStep
from bot.triage.billing import Tariff

VERSION = 1
TRANSCRIPT_LIMIT = 12


class Step(enum.StrEnum):
    """What the conversation waits for from the customer."""

    IDLE = "idle"
    TIER = "tier"
    CONSENT = "consent"
    DESCRIPTION = "description"


@dataclass(frozen=True, slots=True)
class Notice:
    """A cost notice as the customer saw it: the exact text and its template version."""

    text: str
    template: str
    version: str
    rate: str
    currency: str
    increment_minutes: int

    @property
    def tariff(self) -> Tariff:
        """Return the terms the notice stated."""
        return Tariff(self.rate, self.currency, self.increment_minutes)


@dataclass(frozen=True, slots=True)
class Handoff:
    """A request on its way to a human: what is known so far.

    `raise_ticket` is set when staff want to raise an open standard ticket to extended and
    the customer is asked for consent first.
    """

    tier: Tier | None = None
    request: str = ""
    category: str = ""
    notice: Notice | None = None
    consent_id: int | None = None
    raise_ticket: int | None = None


@dataclass(frozen=True, slots=True)
class LastQuestion:
    """The customer's latest question: its log id, text and the entries offered."""

    log_id: int
    text: str
    offered: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class State:
    """Everything the conversation remembers about one customer between messages."""

    lang: Lang = Lang.DE
    lang_chosen: bool = False
    step: Step = Step.IDLE
    buttons: Mapping[str, str] = field(default_factory=dict)
    last: LastQuestion | None = None
    transcript: tuple[TranscriptStep, ...] = ()
    handoff: Handoff | None = None

    def with_step(self, step: TranscriptStep) -> State:
        """Return the state with a question added to the transcript (the latest ones kept)."""
        return replace(self, transcript=(*self.transcript, step)[-TRANSCRIPT_LIMIT:])

    def with_feedback(self, feedback: str) -> State:
        """Return the state with feedback on the latest transcript step."""
        if not self.transcript:
            return self
        last = replace(self.transcript[-1], feedback=feedback)
        return replace(self, transcript=(*self.transcript[:-1], last))

    def to_json(self) -> dict[str, Any]:
        """Return the state as a JSON object."""
        handoff = self.handoff
        return {
            "version": VERSION,
            "lang": self.lang.value,
            "lang_chosen": self.lang_chosen,
            "step": self.step.value,
            "buttons": dict(self.buttons),
            "last": None
            if self.last is None
            else {
                "log_id": self.last.log_id,
                "text": self.last.text,
                "offered": [*self.last.offered],
            },
            "transcript": [step.to_json() for step in self.transcript],
            "handoff": None
            if handoff is None
            else {
                "tier": None if handoff.tier is None else handoff.tier.value,
                "request": handoff.request,
                "category": handoff.category,
                "notice": None if handoff.notice is None else asdict(handoff.notice),
                "consent_id": handoff.consent_id,
                "raise_ticket": handoff.raise_ticket,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> State:
        """Read a state `to_json` wrote; an unknown version starts afresh in its language."""
        lang = Lang(data.get("lang", Lang.DE.value))
        if data.get("version") != VERSION:
            return cls(lang=lang)
        last = data.get("last")
        handoff = data.get("handoff")
        return cls(
            lang=lang,
            lang_chosen=bool(data.get("lang_chosen", False)),
            step=Step(data.get("step", Step.IDLE.value)),
            buttons={str(k): str(v) for k, v in data.get("buttons", {}).items()},
            last=None
            if last is None
            else LastQuestion(int(last["log_id"]), str(last["text"]), tuple(last["offered"])),
            transcript=tuple(TranscriptStep.from_json(item) for item in data.get("transcript", ())),
            handoff=None if handoff is None else _handoff(handoff),
        )


def _handoff(data: Mapping[str, Any]) -> Handoff:
    notice = data.get("notice")
    return Handoff(
        tier=None if data.get("tier") is None else Tier(data["tier"]),
        request=str(data.get("request", "")),
        category=str(data.get("category", "")),
        notice=None if notice is None else Notice(**notice),
        consent_id=data.get("consent_id"),
        raise_ticket=data.get("raise_ticket"),
    )
