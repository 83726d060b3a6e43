"""Deliver outbox items over the Bot API: to customers, and into ticket threads.

Every step of an item (topic created, card sent, part n sent, file copied) is recorded as
progress before the next, so a retry after a failure or a crash repeats nothing that
Telegram confirmed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import Bot, ReplyParameters
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.delivery.dispatcher import DeliveryError, Progress, SaveProgress
from bot.render import split_message, visible_text
from bot.telegram.budget import FloodBudget
from bot.telegram.translate import keyboard
from bot.telegram.transport import call
from bot.tickets.outbox import Outbox, OutboxItem
from bot.tickets.protocol import ConversationStore
from bot.tickets.threads import StaffThread, StaffThreads
from bot.triage.decisions import (
    Decision,
    Keyboard,
    Reply,
    StaffPost,
    TicketOpened,
    TopicStatus,
    from_json,
)
from bot.triage.events import Attachment
from bot.triage.staff_view import StaffView

LOG = logging.getLogger(__name__)
TOPIC_NAME_LIMIT = 128
UNPARSABLE = "can't parse entities"


class StaffRouter:
    """Choose the staff group of a new ticket: by category, else round robin by number."""

    def __init__(self, chats: Sequence[int], routing: dict[str, int]) -> None:
        self._chats = tuple(chats)
        self._routing = {key.casefold(): chat for key, chat in routing.items()}

    def chat_for(self, number: int, category: str) -> int:
        """Return the staff group a new ticket goes to."""
        routed = self._routing.get(category.casefold())
        return routed if routed is not None else self._chats[number % len(self._chats)]


class TelegramChannel:
    """Deliver telegram outbox items; one item's calls run in order with recorded progress."""

    def __init__(
        self,
        bot: Bot,
        *,
        store: ConversationStore,
        threads: StaffThreads,
        view: StaffView,
        outbox: Outbox,
        budget: FloodBudget,
        router: StaffRouter,
    ) -> None:
        self._bot = bot
        self._store = store
        self._threads = threads
        self._view = view
        self._outbox = outbox
        self._budget = budget
        self._router = router
        self.forums: dict[int, bool] = {}

    def lane(self, item: OutboxItem) -> str:
        """Return the chat an item posts to: one item at a time runs per chat."""
        payload = item.payload
        if payload["kind"] == "reply":
            return f"chat:{payload['customer_id']}"
        if payload["kind"] == "notice":
            # Its own lane: a digest must not wait behind the ticket it lists, which may be
            # waiting for the group's budget; the budget itself still counts both.
            return f"notice:{payload['chat_id']}"
        number = int(payload["ticket_number"])
        thread = self._threads.of_ticket(number)
        if thread is not None:
            return f"chat:{thread.chat_id}"
        return f"chat:{self._router.chat_for(number, str(payload.get('category', '')))}"

    async def deliver(self, item: OutboxItem, save: SaveProgress) -> Progress:
        """Deliver one item; raise DeliveryError when it failed.

        A step's result is saved before the next step's call; the last one's is returned,
        for the dispatcher to record with the delivered mark.
        """
        progress = dict(item.progress)
        unsaved = False

        async def step(key: str, call: Callable[[], Awaitable[int | None]]) -> None:
            nonlocal unsaved
            if key in progress:
                return
            if unsaved:
                await save(progress)
                unsaved = False
            progress[key] = await call()
            unsaved = True

        try:
            try:
                if item.payload["kind"] == "notice":
                    await self._notice(item.payload, step, plain=bool(progress.get("plain")))
                else:
                    await self._deliver(from_json(item.payload), progress, step)
            except Exception:
                if unsaved:
                    await save(progress)
                raise
        except RetryAfter as error:
            raise DeliveryError(str(error), retry=True, after=_seconds(error.retry_after)) from None
        except Forbidden as error:
            await self._forbidden(item)
            raise DeliveryError(str(error), retry=False) from None
        except BadRequest as error:
            if UNPARSABLE in str(error).lower() and not progress.get("plain"):
                progress["plain"] = True
                await save(progress)
                raise DeliveryError(str(error), retry=True, after=0.0) from None
            raise DeliveryError(str(error), retry=False) from None
        except (NetworkError, TelegramError) as error:
            raise DeliveryError(str(error), retry=True) from None
        return progress if unsaved else None

    async def _deliver(
        self,
        decision: Decision,
        progress: dict[str, Any],
        step: Callable[[str, Callable[[], Awaitable[int | None]]], Awaitable[None]],
    ) -> None:
        plain = bool(progress.get("plain"))
        match decision:
            case Reply():
                chat = decision.customer_id
                parts = _parts(decision.message.text, plain)
                for index, part in enumerate(parts):
                    markup = decision.buttons if index == len(parts) - 1 else ()
                    await step(f"part{index}", self._sender(chat, part, markup, plain))
                if decision.attachment is not None:
                    await step("file", self._copier(chat, decision.attachment, None))
            case TicketOpened():
                await self._open_thread(decision, progress, step, plain)
            case StaffPost():
                thread = await self._thread(decision.ticket_number)
                reply_to = None if thread.thread_id is not None else thread.card_message_id
                for index, part in enumerate(_parts(decision.message.text, plain)):
                    send = self._staff_sender(
                        thread,
                        text=part,
                        reply_to=reply_to,
                        buttons=(),
                        number=decision.ticket_number,
                        plain=plain,
                    )
                    await step(f"part{index}", send)
                if decision.attachment is not None:
                    await step("file", self._copier(thread.chat_id, decision.attachment, thread))
            case TopicStatus():
                await step("done", lambda: self._topic_status(decision))

    # Tickets on the staff side

    async def _open_thread(
        self,
        opened: TicketOpened,
        progress: dict[str, Any],
        step: Callable[[str, Callable[[], Awaitable[int | None]]], Awaitable[None]],
        plain: bool,
    ) -> None:
        number = opened.ticket_number
        chat_id = self._router.chat_for(number, opened.category)
        if self.forums.get(chat_id, False):

            async def create() -> int:
                linked = await asyncio.to_thread(self._threads.of_ticket, number)
                if linked is not None and linked.chat_id == chat_id and linked.thread_id:
                    # Created and recorded before a crash kept the step from being saved.
                    return linked.thread_id
                async with self._budget.sending(chat_id):
                    topic = await self._bot.create_forum_topic(
                        chat_id, opened.topic[:TOPIC_NAME_LIMIT]
                    )
                # Known at once, so an agent writing in the topic before the card lands is
                # not lost; the card's id follows.
                await asyncio.to_thread(
                    self._threads.link, StaffThread(number, chat_id, topic.message_thread_id, 0)
                )
                return topic.message_thread_id

            await step("topic", create)
        thread_id = progress.get("topic")
        # A long request can make the card longer than one message: it goes in parts, the
        # first recorded as the card (step "card"), the buttons on the last.
        parts = _parts(opened.card.text, plain)

        def buttons(index: int) -> Keyboard:
            return opened.buttons if index == len(parts) - 1 else ()

        async def card() -> int:
            linked = await asyncio.to_thread(self._threads.of_ticket, number)
            if linked is not None and linked.chat_id == chat_id and linked.card_message_id:
                return linked.card_message_id  # sent and recorded before a crash
            async with self._budget.sending(chat_id):
                sent = await self._send(
                    chat_id,
                    parts[0],
                    message_thread_id=thread_id,
                    reply_markup=keyboard(buttons(0)),
                    parse_mode=None if plain else "HTML",
                )
            linked = StaffThread(number, chat_id, thread_id, sent)
            await asyncio.to_thread(self._threads.link, linked)
            return sent

        await step("card", card)
        thread = StaffThread(number, chat_id, thread_id, int(progress["card"]))
        reply_to = None if thread_id is not None else thread.card_message_id
        for index in range(1, len(parts)):
            send = self._staff_sender(
                thread,
                text=parts[index],
                reply_to=reply_to,
                buttons=buttons(index),
                number=number,
                plain=plain,
            )
            await step(f"card{index}", send)

    async def _thread(self, number: int) -> StaffThread:
        thread = await asyncio.to_thread(self._threads.of_ticket, number)
        if thread is None:
            # The ticket's card is an earlier item of the same destination: it comes first.
            raise DeliveryError(f"ticket {number} has no staff thread yet", retry=True)
        return thread

    async def _topic_status(self, status: TopicStatus) -> None:
        thread = await asyncio.to_thread(self._threads.of_ticket, status.ticket_number)
        if thread is None or thread.thread_id is None:
            return
        change = self._bot.close_forum_topic if status.closed else self._bot.reopen_forum_topic
        async with self._budget.sending(thread.chat_id):
            try:
                await change(thread.chat_id, thread.thread_id)
            except BadRequest as error:
                # Closing a closed topic (or reopening an open one) is no error for us.
                LOG.info("topic of ticket %s unchanged: %s", status.ticket_number, error)

    async def _notice(
        self,
        payload: dict[str, Any],
        step: Callable[[str, Callable[[], Awaitable[int | None]]], Awaitable[None]],
        *,
        plain: bool,
    ) -> None:
        chat_id = int(payload["chat_id"])
        for index, part in enumerate(_parts(payload["text"], plain)):
            # "sent" is the first part's key (what a notice of one part always recorded).
            await step(
                "sent" if index == 0 else f"sent{index}", self._sender(chat_id, part, (), plain)
            )

    # Calls

    async def _send(self, chat_id: int, text: str, **options: object) -> int:
        """Send a message and return its id (nothing else of the answer is needed)."""
        sent = await call(self._bot, "sendMessage", {"chat_id": chat_id, "text": text, **options})
        return int(sent["message_id"])

    def _sender(
        self, chat_id: int, text: str, buttons: Keyboard, plain: bool
    ) -> Callable[[], Awaitable[int]]:
        async def send() -> int:
            async with self._budget.sending(chat_id):
                return await self._send(
                    chat_id,
                    text,
                    reply_markup=keyboard(buttons),
                    parse_mode=None if plain else "HTML",
                )

        return send

    def _staff_sender(
        self,
        thread: StaffThread,
        *,
        text: str,
        reply_to: int | None,
        buttons: Keyboard,
        number: int,
        plain: bool,
    ) -> Callable[[], Awaitable[int]]:
        async def send() -> int:
            async with self._budget.sending(thread.chat_id):
                sent = await self._send(
                    thread.chat_id,
                    text,
                    message_thread_id=thread.thread_id,
                    reply_parameters=None if reply_to is None else {"message_id": reply_to},
                    reply_markup=keyboard(buttons),
                    parse_mode=None if plain else "HTML",
                )
            await asyncio.to_thread(self._threads.remember, thread.chat_id, sent, number)
            return sent

        return send

    def _copier(
        self, chat_id: int, file: Attachment, thread: StaffThread | None
    ) -> Callable[[], Awaitable[int]]:
        async def copy() -> int:
            if file.message_id is None or file.chat_id is None:
                raise DeliveryError("a file without its message cannot be copied", retry=False)
            async with self._budget.sending(chat_id):
                copied = await self._bot.copy_message(
                    chat_id,
                    file.chat_id,
                    file.message_id,
                    message_thread_id=None if thread is None else thread.thread_id,
                    reply_parameters=None
                    if thread is None or thread.thread_id is not None
                    else ReplyParameters(thread.card_message_id),
                )
            if thread is not None:
                await asyncio.to_thread(
                    self._threads.remember, chat_id, copied.message_id, thread.ticket_number
                )
            return copied.message_id

        return copy

    async def _forbidden(self, item: OutboxItem) -> None:
        """A customer blocked the bot: mark them and tell their open tickets' threads."""
        if item.payload["kind"] != "reply":
            return
        customer_id = int(item.payload["customer_id"])

        def mark() -> None:
            with self._store.transaction():
                self._threads.mark_unreachable(customer_id, unreachable=True)
                posts = [
                    self._view.post(ticket.number, "customer_unreachable")
                    for ticket in self._store.open_tickets(customer_id)
                ]
                self._outbox.enqueue(posts)

        await asyncio.to_thread(mark)


def _parts(html: str, plain: bool) -> list[str]:
    """Return the messages a text goes in: HTML parts, or the same parts as plain text.

    Plain parts keep the HTML parts' cuts, so an item that switches to plain text after
    some parts went as HTML goes on with the next part's text: nothing repeated or lost.
    Each part's visible text fits one message.
    """
    parts = split_message(html)
    return [_plain(part) for part in parts] if plain else parts


def _plain(html: str) -> str:
    """Return the text Telegram would show, for a second try without parse mode."""
    return visible_text(html)


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
