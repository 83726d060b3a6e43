"""What agents do with tickets: claim, reply, note, log time, change tier, close, reopen.

The transport checks that the actor is staff; the desk checks what the ticket allows and
says what to send to the customer and to the ticket's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.content.model import Tier
from bot.tickets.errors import TransitionError
from bot.tickets.model import AuthorKind, Ticket, TicketStatus
from bot.triage.conversation import Conversation
from bot.triage.decisions import Decision, Reply, TopicStatus
from bot.triage.events import Attachment


@dataclass(frozen=True, slots=True)
class Agent:
    """A member of staff acting on a ticket."""

    id: int
    name: str


class Desk:
    """Carry out agents' actions on tickets; each returns what to send."""

    def __init__(self, conversation: Conversation) -> None:
        self._conversation = conversation
        self._store = conversation.store
        self._view = conversation.staff_view

    def claim(self, number: int, agent: Agent) -> list[Decision]:
        """Assign the ticket to the agent."""
        with self._store.transaction():
            self._store.claim(number, agent.id)
            return self._queue([self._view.post(number, "claimed", agent=agent.name)])

    def reply(
        self, number: int, agent: Agent, text: str, attachment: Attachment | None = None
    ) -> list[Decision]:
        """Send an agent's message to the customer; the ticket then waits for the customer."""
        with self._store.transaction():
            ticket = self._open(number)
            self._store.add_message(
                number,
                AuthorKind.AGENT,
                text,
                author_id=agent.id,
                attachment=None if attachment is None else attachment.to_json(),
            )
            if ticket.status is TicketStatus.OPEN:
                ticket = self._store.claim(number, agent.id)
            if ticket.status is TicketStatus.CLAIMED:
                self._store.mark_waiting(number)
            return self._queue([self._to_customer(ticket, "agent_reply", attachment, text=text)])

    def note(self, number: int, agent: Agent, text: str) -> list[Decision]:
        """Keep an internal note on the ticket; the customer never sees it."""
        self._store.add_message(number, AuthorKind.NOTE, text, author_id=agent.id)
        return []

    def log_time(self, number: int, agent: Agent, minutes: int) -> list[Decision]:
        """Add minutes of work to the ticket."""
        with self._store.transaction():
            ticket = self._store.log_time(number, agent.id, minutes)
            total = ticket.minutes_logged
            return self._queue(
                [self._view.post(number, "time_logged", minutes=minutes, total=total)]
            )

    def close(self, number: int, agent: Agent, minutes: int = 0) -> list[Decision]:
        """Close the ticket with its last minutes, bill it, and tell the customer."""
        policy = self._conversation.policy
        with self._store.transaction():
            self._open(number)
            ticket = self._store.close_ticket(number, minutes, policy.tariff, agent_id=agent.id)
            bill = ticket.bill
            if bill is None:  # pragma: no cover - close_ticket always bills
                raise AssertionError(f"ticket {number} closed without a bill")
            # An extended ticket is billed at the terms the customer agreed to.
            tariff = policy.tariff
            if ticket.consent_id is not None and ticket.tier is Tier.EXTENDED:
                tariff = self._store.consent(ticket.consent_id).tariff
            values: dict[str, Any] = {
                "tier": ticket.tier.value,
                "minutes": ticket.minutes_logged,
                "units": bill.units,
                "amount": bill.amount,
                "rate": tariff.rate,
                "increment": tariff.increment_minutes,
            }
            return self._queue(
                [
                    self._view.post(number, "close_summary", **values),
                    self._to_customer(ticket, "ticket_closed_customer", **values),
                    TopicStatus(number, closed=True),
                ]
            )

    def reopen(self, number: int, agent: Agent) -> list[Decision]:
        """Open a closed ticket again and tell the customer."""
        with self._store.transaction():
            ticket = self._store.reopen(number)
            return self._queue(
                [
                    TopicStatus(number, closed=False),
                    self._view.post(number, "reopened"),
                    self._to_customer(ticket, "ticket_reopened_customer"),
                ]
            )

    def set_tier(self, number: int, agent: Agent, tier: Tier) -> list[Decision]:
        """Lower a ticket to standard, or ask its customer to agree before raising it."""
        ticket = self._open(number)
        if tier is ticket.tier:
            with self._store.transaction():
                return self._queue([self._view.post(number, "tier_changed", tier=tier.value)])
        if tier is Tier.EXTENDED:
            post = self._view.post(number, "consent_requested")
            return self._conversation.ask_to_raise(ticket, also=[post])
        with self._store.transaction():
            ticket = self._store.set_tier(number, Tier.STANDARD)
            return self._queue(
                [
                    self._view.post(number, "tier_changed", tier=ticket.tier.value),
                    self._to_customer(ticket, "tier_lowered"),
                ]
            )

    def post(self, number: int, template: str, /, *, text: str) -> list[Decision]:
        """Post a message of the bot into a ticket's thread (an error, a usage hint)."""
        with self._store.transaction():
            return self._queue([self._view.post(number, template, text=text)])

    def _queue(self, decisions: list[Decision]) -> list[Decision]:
        self._conversation.queue(decisions)
        return decisions

    def _open(self, number: int) -> Ticket:
        ticket = self._store.ticket(number)
        if not ticket.is_open:
            raise TransitionError(f"ticket {number} is closed: reopen it first")
        return ticket

    def _to_customer(
        self,
        ticket: Ticket,
        template: str,
        /,
        attachment: Attachment | None = None,
        **values: object,
    ) -> Reply:
        customer = self._store.customer(ticket.customer_id)
        lang = customer.language if customer else self._view.lang
        message = self._conversation.texts.render(lang, template, number=ticket.number, **values)
        return Reply(ticket.customer_id, message, attachment=attachment)
