"""The records the ticket store keeps: customers, tickets, messages, consents, questions."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.content.model import Lang, Tier
from bot.triage.billing import Bill, Tariff


class TicketStatus(enum.StrEnum):
    """Where a ticket stands: open → claimed → waiting → closed, and reopened."""

    OPEN = "open"
    CLAIMED = "claimed"
    WAITING = "waiting"
    CLOSED = "closed"

    def can_become(self, target: TicketStatus) -> bool:
        """Return whether the status machine allows going from this status to `target`."""
        return target in TRANSITIONS[self]


# The status machine. `waiting` means the agent waits for the customer; a reply or the
# agent taking it up again claims it anew. Any status but closed can be closed directly
# (the customer's /cancel, or an agent closing an unclaimed ticket).
TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset({TicketStatus.CLAIMED, TicketStatus.CLOSED}),
    TicketStatus.CLAIMED: frozenset({TicketStatus.WAITING, TicketStatus.CLOSED}),
    TicketStatus.WAITING: frozenset({TicketStatus.CLAIMED, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset({TicketStatus.OPEN}),
}


class AuthorKind(enum.StrEnum):
    """Who wrote a ticket message; a note is internal to staff."""

    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    NOTE = "note"


class ConsentDecision(enum.StrEnum):
    """The customer's answer to the cost notice."""

    AGREE = "agree"
    DECLINE = "decline"


@dataclass(frozen=True, slots=True)
class Customer:
    """A Telegram user who talked to the bot; name and username are gone once forgotten."""

    id: int
    name: str | None
    username: str | None
    language: Lang
    created_at: datetime
    forgotten_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversationState:
    """The conversation's saved state for one customer, as a JSON object."""

    customer_id: int
    data: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TranscriptStep:
    """One question the customer asked the bot before the handoff, and how it went."""

    question: str
    decision: str = ""
    offered: tuple[str, ...] = ()
    feedback: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the step as a JSON object."""
        return {
            "question": self.question,
            "decision": self.decision,
            "offered": list(self.offered),
            "feedback": self.feedback,
        }

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> TranscriptStep:
        """Read a step from the JSON object `to_json` wrote."""
        return cls(
            question=str(item.get("question", "")),
            decision=str(item.get("decision", "")),
            offered=tuple(map(str, item.get("offered", ()))),
            feedback=None if item.get("feedback") is None else str(item["feedback"]),
        )


@dataclass(frozen=True, slots=True)
class Consent:
    """The customer's decision on a cost notice, with the exact terms and text they saw."""

    id: int
    customer_id: int
    decision: ConsentDecision
    decided_at: datetime
    rate: Decimal
    currency: str
    increment_minutes: int
    text: str
    template: str
    template_version: str
    text_sha256: str
    ticket_number: int | None = None

    @property
    def tariff(self) -> Tariff:
        """Return the terms the customer decided on."""
        return Tariff(self.rate, self.currency, self.increment_minutes)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A support request handed to humans; `number` is what customers and staff see."""

    number: int
    customer_id: int
    status: TicketStatus
    tier: Tier
    category: str
    request: str
    transcript: tuple[TranscriptStep, ...]
    customer_ref: str | None
    consent_id: int | None
    sla_due: datetime
    agent_id: int | None
    minutes_logged: int
    bill: Bill | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    erased_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Return whether the ticket is not closed."""
        return self.status is not TicketStatus.CLOSED


@dataclass(frozen=True, slots=True)
class TicketMessage:
    """One message in a ticket's thread; text and attachment are gone once erased."""

    id: int
    ticket_number: int
    author_kind: AuthorKind
    author_id: int | None
    text: str
    attachment: dict[str, Any] | None
    created_at: datetime
    erased_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TimeEntry:
    """Minutes an agent worked on a ticket."""

    id: int
    ticket_number: int
    agent_id: int | None
    minutes: int
    logged_at: datetime


@dataclass(frozen=True, slots=True)
class ScoredEntry:
    """A candidate entry the matcher ranked for a question, with its confidence."""

    id: str
    score: float


@dataclass(frozen=True, slots=True)
class LoggedQuestion:
    """A question a customer asked, what the bot decided, and the customer's feedback."""

    id: int
    customer_id: int | None
    asked_at: datetime
    question: str
    language: Lang
    decision: str
    candidates: tuple[ScoredEntry, ...]
    feedback: str | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ForgetSummary:
    """What `forget_customer` erased and which records it had to keep."""

    customer_id: int
    known: bool
    profile_erased: bool
    conversation_erased: bool
    questions_erased: int
    messages_erased: int
    requests_erased: int
    consents_kept: int
    tickets_kept: int
    billed_tickets_kept: int
