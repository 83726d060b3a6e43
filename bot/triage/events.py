"""What happens to the conversation: customer messages, commands and button presses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Person:
    """The customer as the transport knows them; `language_code` is the client's setting."""

    id: int
    name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerText:
    """The customer sent a text message."""

    person: Person
    text: str


@dataclass(frozen=True, slots=True)
class CustomerCommand:
    """The customer sent a command such as `/support`; `argument` is the rest of the line."""

    person: Person
    command: str
    argument: str = ""


@dataclass(frozen=True, slots=True)
class ButtonPressed:
    """The customer pressed an inline button carrying `data`."""

    person: Person
    data: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the customer or an agent sent: a photo or a document, by transport file id,
    with the message and chat it came in (to copy it from there)."""

    kind: str
    file_id: str
    caption: str = ""
    message_id: int | None = None
    chat_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return what a ticket message keeps of the file: kind, file id, where it was sent."""
        return {
            "kind": self.kind,
            "file_id": self.file_id,
            "message_id": self.message_id,
            "chat_id": self.chat_id,
        }


@dataclass(frozen=True, slots=True)
class CustomerFile:
    """The customer sent a photo or a document."""

    person: Person
    attachment: Attachment


@dataclass(frozen=True, slots=True)
class CustomerOther:
    """The customer sent something the bot cannot read: a sticker, a voice message..."""

    person: Person
    kind: str


CustomerEvent = CustomerText | CustomerCommand | ButtonPressed | CustomerFile | CustomerOther
