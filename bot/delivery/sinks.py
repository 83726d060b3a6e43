"""The helpdesk sinks as outbox channels: staff-side decisions become sink events."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.delivery.dispatcher import DeliveryError, Progress, SaveProgress
from bot.render import visible_text
from bot.tickets.outbox import OutboxItem
from bot.tickets.protocol import ConversationStore
from bot.tickets.sinks import Sink, SinkError, SinkEvent
from bot.triage.decisions import StaffPost, TicketOpened, from_json

# What a thread post means to a helpdesk, by the template it was rendered from.
_KIND_OF_TEMPLATE = {
    "customer_message": "customer_message",
    "close_summary": "ticket_closed",
    "reopened": "ticket_reopened",
}


class SinkChannel:
    """Deliver outbox items to one sink, one at a time, with the item's id as its key."""

    def __init__(self, sink: Sink, store: ConversationStore) -> None:
        self._sink = sink
        self._store = store

    def lane(self, item: OutboxItem) -> str:
        """Return one lane for the whole sink: a helpdesk gets one delivery at a time."""
        return self._sink.name

    async def deliver(self, item: OutboxItem, save: SaveProgress) -> Progress:
        """Turn the item into a sink event and hand it to the sink (no progress to keep)."""
        event = await asyncio.to_thread(self._event, item)
        if event is None:
            return None
        try:
            await self._sink.deliver(event, f"outbox-{item.id}")
        except SinkError as error:
            raise DeliveryError(str(error), retry=error.retry) from None
        return None

    def _event(self, item: OutboxItem) -> SinkEvent | None:
        decision = from_json(item.payload)
        if not isinstance(decision, TicketOpened | StaffPost):
            return None
        number = decision.ticket_number
        ticket = self._store.ticket(number)
        first_line = (ticket.request.strip().splitlines() or [""])[0]
        subject = f"Ticket {number} · {ticket.tier.value}: {first_line}"[:200]
        data: dict[str, Any] = {
            "ticket": number,
            "customer_id": ticket.customer_id,
            "tier": ticket.tier.value,
            "status": ticket.status.value,
            "category": ticket.category,
            "consent_id": ticket.consent_id,
        }
        if isinstance(decision, TicketOpened):
            kind, text = "ticket_opened", decision.card.text
        else:
            kind = _KIND_OF_TEMPLATE.get(decision.message.template, "ticket_update")
            text = decision.message.text
        return SinkEvent(kind, number, subject, visible_text(text), data, item.created_at)
