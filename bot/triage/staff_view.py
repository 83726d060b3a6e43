"""How tickets look on the staff side: topic name, ticket card, its buttons, thread posts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.content.model import Content, Entry, Lang, Tier
from bot.tickets.model import Ticket
from bot.tickets.protocol import ConversationStore
from bot.triage.decisions import Button, Keyboard, StaffPost, Text, Texts, TicketOpened
from bot.triage.events import Attachment

STAFF_BUTTON = "s:"


def link(entry: Entry) -> dict[str, str]:
    """Return an entry as a title and link for a message."""
    return {"title": entry.title, "url": entry.url}


class StaffView:
    """Render what the staff side shows about tickets, in the staff's language."""

    def __init__(
        self,
        store: ConversationStore,
        texts: Texts,
        lang: Lang,
        content: Callable[[], Content],
    ) -> None:
        self._store = store
        self._texts = texts
        self.lang = lang
        self._content = content

    def post(
        self, number: int, template: str, /, *, file: Attachment | None = None, **values: object
    ) -> StaffPost:
        """Return a message for a ticket's thread."""
        message = self._texts.render(self.lang, template, number=number, **values)
        return StaffPost(number, message, file)

    def ticket_opened(self, ticket: Ticket) -> TicketOpened:
        """Return the staff side's notice of a new ticket: topic name, card and buttons."""
        customer = self._store.customer(ticket.customer_id)
        name = (customer.name if customer else None) or str(ticket.customer_id)
        topic = self._texts.render(
            self.lang,
            "topic_name",
            number=ticket.number,
            tier=ticket.tier.value,
            customer_name=name,
        )
        return TicketOpened(
            ticket.number,
            ticket.tier,
            ticket.category,
            topic.text,
            self.card(ticket),
            self.card_buttons(ticket),
        )

    def card(self, ticket: Ticket) -> Text:
        """Render a ticket's card: customer, request in their words, tier, consent, offers."""
        customer = self._store.customer(ticket.customer_id)
        return self._texts.render(
            self.lang,
            "ticket_card",
            number=ticket.number,
            tier=ticket.tier.value,
            status=ticket.status.value,
            sla_due=ticket.sla_due,
            customer={
                "id": ticket.customer_id,
                "name": (customer.name if customer else None) or "—",
                "username": customer.username if customer else None,
                "language": customer.language.value if customer else "",
            },
            customer_ref=ticket.customer_ref,
            category=ticket.category,
            request=ticket.request or "—",
            offered=self._offered(ticket),
            consent=self._consent(ticket),
        )

    def card_buttons(self, ticket: Ticket) -> Keyboard:
        """Return the card's buttons: claim, close, and a switch to the other tier."""
        other = Tier.STANDARD if ticket.tier is Tier.EXTENDED else Tier.EXTENDED
        number = ticket.number
        return (
            (
                Button(self._texts.button(self.lang, "claim"), f"{STAFF_BUTTON}claim:{number}"),
                Button(self._texts.button(self.lang, "close"), f"{STAFF_BUTTON}close:{number}"),
            ),
            (
                Button(
                    self._texts.button(self.lang, f"tier_{other.value}"),
                    f"{STAFF_BUTTON}tier:{number}:{other.value}",
                ),
            ),
        )

    def _consent(self, ticket: Ticket) -> dict[str, Any] | None:
        if ticket.consent_id is None:
            return None
        record = self._store.consent(ticket.consent_id)
        return {
            "decision": record.decision.value,
            "at": record.decided_at,
            "rate": record.rate,
            "currency": record.currency,
            "increment": record.increment_minutes,
            "template": record.template,
            "version": record.template_version,
        }

    def _offered(self, ticket: Ticket) -> list[dict[str, str]]:
        by_id = self._content().by_id
        offered: dict[str, dict[str, str]] = {}
        for step in ticket.transcript:
            for entry_id in step.offered:
                if entry_id in by_id:
                    offered.setdefault(entry_id, link(by_id[entry_id]))
        return list(offered.values())
