"""What the conversation decides: messages to send, to the customer and to the staff side.

Store changes (consents, tickets, state) are made by the conversation itself inside one
transaction; these values tell the adapters what to deliver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.content.model import Lang
from bot.tickets.model import Ticket
from bot.triage.events import Attachment


class Text(Protocol):
    """A rendered message: its text and the template (name and version) it came from."""

    @property
    def text(self) -> str: ...

    @property
    def template(self) -> str: ...

    @property
    def version(self) -> str: ...


class Texts(Protocol):
    """Renders message templates and button labels; the render package provides it."""

    def render(self, lang: Lang, name: str, /, **values: object) -> Text:
        """Render a message template in a language."""
        ...

    def button(self, lang: Lang, key: str, /, **values: object) -> str:
        """Return a button label in a language."""
        ...


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: its label and the short callback data that identifies it."""

    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """Send a message to the customer's private chat, with buttons in rows."""

    customer_id: int
    message: Text
    buttons: Keyboard = ()
    attachment: Attachment | None = None


@dataclass(frozen=True, slots=True)
class TicketOpened:
    """A new ticket for the staff side: open a topic named `topic`, post the card in it."""

    ticket: Ticket
    topic: str
    card: Text
    buttons: Keyboard = ()


@dataclass(frozen=True, slots=True)
class StaffPost:
    """Post a message in a ticket's thread on the staff side (maybe with a file to copy)."""

    ticket_number: int
    message: Text
    attachment: Attachment | None = None


@dataclass(frozen=True, slots=True)
class TopicStatus:
    """Close or reopen a ticket's topic on the staff side."""

    ticket_number: int
    closed: bool


Decision = Reply | TicketOpened | StaffPost | TopicStatus
