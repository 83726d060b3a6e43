"""Telegram updates as core events, and core button rows as inline keyboards."""

from __future__ import annotations

from telegram import Message, MessageEntity, User

from bot.triage.decisions import Keyboard
from bot.triage.events import (
    Attachment,
    CustomerCommand,
    CustomerEvent,
    CustomerFile,
    CustomerOther,
    CustomerText,
    Person,
)


def person(user: User) -> Person:
    """Return the customer as the core knows them."""
    return Person(user.id, user.first_name, user.username, user.language_code)


def command(message: Message) -> tuple[str, str] | None:
    """Return a message's command (without / and @bot) and the rest of the line, if any."""
    text = message.text or ""
    entities = message.entities or ()
    first = entities[0] if entities else None
    if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    name = text[1 : first.length].split("@", 1)[0].lower()
    return name, text[first.length :].strip()


def attachment(message: Message) -> Attachment | None:
    """Return the photo or document a message carries, by file id."""
    caption, where = message.caption or "", (message.message_id, message.chat_id)
    if message.photo:
        return Attachment("photo", message.photo[-1].file_id, caption, *where)
    if message.document:
        return Attachment("document", message.document.file_id, caption, *where)
    return None


def customer_event(message: Message, user: User) -> CustomerEvent:
    """Return the core event for a customer's message in a private chat."""
    who = person(user)
    found = command(message)
    if found is not None:
        return CustomerCommand(who, *found)
    if message.text is not None:
        return CustomerText(who, message.text)
    file = attachment(message)
    if file is not None:
        return CustomerFile(who, file)
    return CustomerOther(who, _kind(message))


def _kind(message: Message) -> str:
    for kind in ("sticker", "voice", "video", "video_note", "audio", "animation", "location"):
        if getattr(message, kind, None) is not None:
            return kind
    return "other"


def keyboard(rows: Keyboard) -> dict[str, object] | None:
    """Return the Bot API's inline keyboard object for button rows (None when there are none)."""
    if not rows:
        return None
    return {
        "inline_keyboard": [
            [{"text": b.label, "callback_data": b.data} for b in row] for row in rows
        ]
    }
