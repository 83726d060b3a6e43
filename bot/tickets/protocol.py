"""The store interface the conversation depends on, so tests can swap in a fake."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from bot.content.model import Lang, Tier
from bot.tickets.model import (
    AuthorKind,
    Consent,
    ConsentDecision,
    ConversationState,
    Customer,
    ForgetSummary,
    LoggedQuestion,
    ScoredEntry,
    Ticket,
    TicketMessage,
    TicketStatus,
    TimeEntry,
    TranscriptStep,
)
from bot.triage.billing import Tariff


class ConversationStore(Protocol):
    """What the conversation and the staff side need from a ticket store."""

    def transaction(self, *, all_or_nothing: bool = False) -> AbstractContextManager[None]:
        """Return a context in which every change commits together or not at all.

        `all_or_nothing`: nested blocks take no savepoints (a failure undoes everything).
        """
        ...

    def upsert_customer(
        self,
        customer_id: int,
        *,
        language: Lang,
        name: str | None,
        username: str | None,
        wrote: bool = False,
    ) -> Customer:
        """Record a customer, or update a known one; `wrote` makes them reachable again."""
        ...

    def customer(self, customer_id: int) -> Customer | None:
        """Return the customer with this Telegram id, if known."""
        ...

    def get_state(self, customer_id: int) -> ConversationState | None:
        """Return the saved conversation state of a customer, if any."""
        ...

    def glance(self, customer_id: int, key: str) -> tuple[Any, bool]:
        """Return one top-level value of a customer's saved state (None if there is none)
        and whether they have a ticket that is not closed."""
        ...

    def put_state(self, customer_id: int, data: Mapping[str, Any]) -> None:
        """Save the conversation state of a known customer, replacing what was there."""
        ...

    def record_consent(
        self,
        customer_id: int,
        decision: ConsentDecision,
        tariff: Tariff,
        *,
        text: str,
        template: str,
        template_version: str,
        ticket_number: int | None = None,
    ) -> Consent:
        """Record the customer's decision on the cost notice they were shown."""
        ...

    def consent(self, consent_id: int) -> Consent:
        """Return a consent by id."""
        ...

    def consents_of_customer(self, customer_id: int) -> list[Consent]:
        """Return a customer's consents, oldest first."""
        ...

    def consents_of_ticket(self, number: int) -> list[Consent]:
        """Return the consents that concern a ticket, oldest first."""
        ...

    def create_ticket(
        self,
        customer_id: int,
        *,
        tier: Tier,
        request: str,
        due: datetime,
        category: str = "",
        transcript: Sequence[TranscriptStep] = (),
        customer_ref: str | None = None,
        consent_id: int | None = None,
    ) -> Ticket:
        """Open a ticket; an extended one needs the customer's agree consent."""
        ...

    def ticket(self, number: int) -> Ticket:
        """Return the ticket with this number."""
        ...

    def open_tickets(self, customer_id: int) -> list[Ticket]:
        """Return a customer's tickets that are not closed, oldest first."""
        ...

    def tickets_of_customer(self, customer_id: int, limit: int = 10) -> list[Ticket]:
        """Return a customer's latest tickets, open or closed, newest first."""
        ...

    def tickets(self, status: TicketStatus | None = None) -> list[Ticket]:
        """Return all tickets, or those with one status, by number."""
        ...

    def claim(self, number: int, agent_id: int) -> Ticket:
        """Assign an open or waiting ticket to an agent."""
        ...

    def mark_waiting(self, number: int) -> Ticket:
        """Mark a claimed ticket as waiting for the customer."""
        ...

    def close_ticket(
        self, number: int, minutes: int, tariff: Tariff, *, agent_id: int | None = None
    ) -> Ticket:
        """Log the last minutes, bill the time since the consent (extended only), and close."""
        ...

    def reopen(self, number: int) -> Ticket:
        """Open a closed ticket again; its bill is recomputed when it closes again."""
        ...

    def log_time(self, number: int, agent_id: int | None, minutes: int) -> Ticket:
        """Add minutes of work to a ticket that is not closed."""
        ...

    def set_tier(self, number: int, tier: Tier, *, consent_id: int | None = None) -> Ticket:
        """Change a ticket's tier; raising it to extended needs an agree consent."""
        ...

    def add_message(
        self,
        number: int,
        author_kind: AuthorKind,
        text: str,
        *,
        author_id: int | None = None,
        attachment: Mapping[str, Any] | None = None,
    ) -> TicketMessage:
        """Add a message to a ticket's thread."""
        ...

    def messages(self, number: int) -> list[TicketMessage]:
        """Return a ticket's messages, oldest first."""
        ...

    def time_entries(self, number: int) -> list[TimeEntry]:
        """Return the time logged on a ticket, oldest first."""
        ...

    def log_question(
        self,
        customer_id: int | None,
        question: str,
        *,
        language: Lang,
        decision: str,
        candidates: Sequence[ScoredEntry] = (),
    ) -> LoggedQuestion:
        """Log a question with the bot's decision and the top candidates."""
        ...

    def set_feedback(self, question_id: int, feedback: str) -> None:
        """Record the customer's feedback on the answer to a logged question."""
        ...

    def questions(self) -> list[LoggedQuestion]:
        """Return the question log, oldest first."""
        ...

    def forget_customer(self, customer_id: int) -> ForgetSummary:
        """Erase a customer's personal data; keep consent and billing records, anonymised."""
        ...
