"""Deliver the core's decisions over the Bot API: to customers and into ticket threads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from telegram import Bot, Message, ReplyParameters
from telegram.error import BadRequest, Forbidden

from bot.render import split_message
from bot.telegram.translate import keyboard
from bot.tickets.protocol import ConversationStore
from bot.tickets.threads import StaffThread, StaffThreads
from bot.triage.decisions import (
    Decision,
    Keyboard,
    Reply,
    StaffPost,
    TicketOpened,
    TopicStatus,
)
from bot.triage.events import Attachment
from bot.triage.staff_view import StaffView

LOG = logging.getLogger(__name__)
TOPIC_NAME_LIMIT = 128


class Delivery:
    """Send decisions in order; remember where each ticket lives in the staff chat."""

    def __init__(
        self,
        bot: Bot,
        store: ConversationStore,
        threads: StaffThreads,
        view: StaffView,
        staff_chat_id: int,
    ) -> None:
        self._bot = bot
        self._store = store
        self._threads = threads
        self._view = view
        self._staff_chat_id = staff_chat_id
        self.forum = False

    async def deliver(self, decisions: Sequence[Decision]) -> None:
        """Deliver every decision, one after the other."""
        for decision in decisions:
            match decision:
                case Reply():
                    await self._reply(decision)
                case TicketOpened():
                    await self._open_thread(decision)
                case StaffPost():
                    await self._post(decision)
                case TopicStatus():
                    await self._topic_status(decision)

    async def post_unposted(self) -> None:
        """Post open tickets that never reached the staff chat (a crash came in between)."""
        for number in await asyncio.to_thread(self._threads.unposted):
            ticket = await asyncio.to_thread(self._store.ticket, number)
            opened = await asyncio.to_thread(self._view.ticket_opened, ticket)
            await self._open_thread(opened)

    # To the customer

    async def _reply(self, reply: Reply) -> None:
        chat_id = reply.customer_id
        try:
            parts = split_message(reply.message.text)
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                await self._bot.send_message(
                    chat_id, part, reply_markup=keyboard(reply.buttons) if last else None
                )
            if reply.attachment is not None:
                await self._copy(chat_id, self._staff_chat_id, reply.attachment, None)
        except Forbidden:
            await self._unreachable(chat_id)

    async def _unreachable(self, customer_id: int) -> None:
        await asyncio.to_thread(self._threads.mark_unreachable, customer_id, True)
        for ticket in await asyncio.to_thread(self._store.open_tickets, customer_id):
            post = await asyncio.to_thread(self._view.post, ticket.number, "customer_unreachable")
            await self._post(post)

    # Into the staff chat

    async def _open_thread(self, opened: TicketOpened) -> None:
        number = opened.ticket.number
        thread_id = None
        if self.forum:
            topic = await self._bot.create_forum_topic(
                self._staff_chat_id, opened.topic[:TOPIC_NAME_LIMIT]
            )
            thread_id = topic.message_thread_id
        card = await self._send_staff(opened.card.text, thread_id, None, opened.buttons)
        await asyncio.to_thread(
            self._threads.link, StaffThread(number, self._staff_chat_id, thread_id, card.message_id)
        )

    async def _post(self, post: StaffPost) -> None:
        thread = await self._thread(post.ticket_number)
        reply_to = None if thread.thread_id is not None else thread.card_message_id
        sent = await self._send_staff(post.message.text, thread.thread_id, reply_to, ())
        await self._remember(sent.message_id, post.ticket_number)
        if post.attachment is not None:
            ticket = await asyncio.to_thread(self._store.ticket, post.ticket_number)
            copied = await self._copy(
                self._staff_chat_id, ticket.customer_id, post.attachment, thread
            )
            await self._remember(copied, post.ticket_number)

    async def _topic_status(self, status: TopicStatus) -> None:
        thread = await asyncio.to_thread(self._threads.of_ticket, status.ticket_number)
        if thread is None or thread.thread_id is None:
            return
        change = self._bot.close_forum_topic if status.closed else self._bot.reopen_forum_topic
        try:
            await change(thread.chat_id, thread.thread_id)
        except BadRequest as error:
            # Closing a closed topic (or reopening an open one) is no error for us.
            LOG.info("topic of ticket %s unchanged: %s", status.ticket_number, error)

    async def _thread(self, number: int) -> StaffThread:
        thread = await asyncio.to_thread(self._threads.of_ticket, number)
        if thread is None:
            ticket = await asyncio.to_thread(self._store.ticket, number)
            await self._open_thread(await asyncio.to_thread(self._view.ticket_opened, ticket))
            thread = await asyncio.to_thread(self._threads.of_ticket, number)
        if thread is None:  # pragma: no cover - _open_thread links it or raises
            raise RuntimeError(f"ticket {number} has no staff thread")
        return thread

    async def _send_staff(
        self, text: str, thread_id: int | None, reply_to: int | None, buttons: Keyboard
    ) -> Message:
        parts = split_message(text)
        sent: Message | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent = await self._bot.send_message(
                self._staff_chat_id,
                part,
                message_thread_id=thread_id,
                reply_parameters=None if reply_to is None else ReplyParameters(reply_to),
                reply_markup=keyboard(buttons) if last else None,
            )
            if index == 0 and sent is not None and reply_to is None and thread_id is None:
                reply_to = sent.message_id
        if sent is None:  # pragma: no cover - split_message never returns nothing
            raise RuntimeError("nothing to send")
        return sent

    async def _copy(
        self, chat_id: int, from_chat_id: int, file: Attachment, thread: StaffThread | None
    ) -> int:
        if file.message_id is None:  # pragma: no cover - files always come from a message
            raise ValueError("cannot copy a file without its message")
        copied = await self._bot.copy_message(
            chat_id,
            from_chat_id,
            file.message_id,
            message_thread_id=None if thread is None else thread.thread_id,
            reply_parameters=None
            if thread is None or thread.thread_id is not None
            else ReplyParameters(thread.card_message_id),
        )
        return copied.message_id

    async def _remember(self, message_id: int, number: int) -> None:
        await asyncio.to_thread(self._threads.remember, self._staff_chat_id, message_id, number)
