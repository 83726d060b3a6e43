"""What the conversation decides: messages to send, to the customer and to the staff side.

Store changes (consents, tickets, state) are made by the conversation itself inside one
transaction; these values tell the adapters what to deliver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.content.model import Lang, Tier
from bot.triage.events import Attachment


class Text(Protocol):
    """A rendered message: its text and the template (name and version) it came from."""

    @property
    def text(self) -> str: ...

    @property
    def template(self) -> str: ...

    @property
    def version(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered message as stored: text, template name and version."""

    text: str
    template: str
    version: str


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
class ButtonAnswer:
    """Answer the button press in hand with a short notice (not queued: it is for now)."""

    customer_id: int
    message: Text


@dataclass(frozen=True, slots=True)
class TicketOpened:
    """A new ticket for the staff side: open a topic named `topic`, post the card in it."""

    ticket_number: int
    tier: Tier
    category: str
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


Decision = Reply | ButtonAnswer | TicketOpened | StaffPost | TopicStatus


class Outbox(Protocol):
    """Where decisions wait for delivery, written in the transaction that made them."""

    def enqueue(self, decisions: Sequence[Decision]) -> None:
        """Queue decisions for delivery, in order."""
        ...


def destination(decision: Decision) -> str:
    """Return the ordering key: one customer's chat, or one ticket's staff thread."""
    if isinstance(decision, Reply | ButtonAnswer):
        return customer_destination(decision.customer_id)
    return f"ticket:{decision.ticket_number}"


def customer_destination(customer_id: int) -> str:
    """Return the ordering key of a customer's chat."""
    return f"customer:{customer_id}"


def to_json(decision: Decision) -> dict[str, Any]:
    """Return a decision as a JSON object that `from_json` reads back."""
    match decision:
        case Reply():
            return {
                "kind": "reply",
                "customer_id": decision.customer_id,
                "message": _text_json(decision.message),
                "buttons": _buttons_json(decision.buttons),
                "attachment": _attachment_json(decision.attachment),
            }
        case TicketOpened():
            return {
                "kind": "ticket_opened",
                "ticket_number": decision.ticket_number,
                "tier": decision.tier.value,
                "category": decision.category,
                "topic": decision.topic,
                "card": _text_json(decision.card),
                "buttons": _buttons_json(decision.buttons),
            }
        case StaffPost():
            return {
                "kind": "staff_post",
                "ticket_number": decision.ticket_number,
                "message": _text_json(decision.message),
                "attachment": _attachment_json(decision.attachment),
            }
        case TopicStatus():
            return {
                "kind": "topic_status",
                "ticket_number": decision.ticket_number,
                "closed": decision.closed,
            }
        case ButtonAnswer():
            raise ValueError("a button answer is for the press in hand: never stored")


def from_json(data: Mapping[str, Any]) -> Decision:
    """Read a decision `to_json` wrote."""
    kind = data["kind"]
    if kind == "reply":
        return Reply(
            int(data["customer_id"]),
            Message(**data["message"]),
            _buttons(data["buttons"]),
            _attachment(data["attachment"]),
        )
    if kind == "ticket_opened":
        return TicketOpened(
            int(data["ticket_number"]),
            Tier(data["tier"]),
            str(data["category"]),
            str(data["topic"]),
            Message(**data["card"]),
            _buttons(data["buttons"]),
        )
    if kind == "staff_post":
        return StaffPost(
            int(data["ticket_number"]), Message(**data["message"]), _attachment(data["attachment"])
        )
    if kind == "topic_status":
        return TopicStatus(int(data["ticket_number"]), bool(data["closed"]))
    raise ValueError(f"unknown decision kind {kind!r}")


def _text_json(text: Text) -> dict[str, str]:
    return {"text": text.text, "template": text.template, "version": text.version}


def _buttons_json(rows: Keyboard) -> list[list[dict[str, str]]]:
    return [[{"label": b.label, "data": b.data} for b in row] for row in rows]


def _buttons(rows: Sequence[Sequence[Mapping[str, str]]]) -> Keyboard:
    return tuple(tuple(Button(b["label"], b["data"]) for b in row) for row in rows)


def _attachment_json(attachment: Attachment | None) -> dict[str, Any] | None:
    return None if attachment is None else {**attachment.to_json(), "caption": attachment.caption}


def _attachment(data: Mapping[str, Any] | None) -> Attachment | None:
    if data is None:
        return None
    return Attachment(
        str(data["kind"]),
        str(data["file_id"]),
        str(data.get("caption", "")),
        data["message_id"],
        data.get("chat_id"),
    )
