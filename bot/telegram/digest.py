"""Fold a burst of new tickets into one digest message, ahead of their topics and cards.

A staff group takes about 20 posts a minute and every new ticket needs two (topic and
card), so a burst would reach staff minutes late. When more new tickets wait for a group
than `digest_after`, one message lists them all at once; their topics follow as the
budget allows.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from bot.content.model import Lang
from bot.render import Catalogue
from bot.telegram.delivery import TelegramChannel
from bot.tickets.outbox import TELEGRAM, Outbox, OutboxItem

DIGESTED = "digested"


class Digest:
    """Post one digest per staff group for new tickets waiting beyond a threshold."""

    def __init__(
        self,
        outbox: Outbox,
        channel: TelegramChannel,
        texts: Catalogue,
        lang: Lang,
        threshold: int,
    ) -> None:
        self._outbox = outbox
        self._channel = channel
        self._texts = texts
        self._lang = lang
        self._threshold = threshold

    async def fold(self, due: list[OutboxItem]) -> bool:
        """Queue a digest for each staff group with too many undigested new tickets.

        Return whether one was queued (it is due before the items in `due`).
        """
        if not any(item.payload.get("kind") == "ticket_opened" for item in due):
            return False
        return await asyncio.to_thread(self._fold)

    def _fold(self) -> bool:
        opened = [
            item
            for item in self._outbox.waiting("ticket:")
            if item.channel == TELEGRAM
            and item.payload.get("kind") == "ticket_opened"
            and "card" not in item.progress
        ]
        by_chat: dict[int, list[OutboxItem]] = defaultdict(list)
        for item in opened:
            by_chat[int(self._channel.lane(item).removeprefix("chat:"))].append(item)
        pending = {int(item.payload["chat_id"]) for item in self._outbox.waiting("staff:")}
        queued = False
        for chat_id, items in by_chat.items():
            fresh = [item for item in items if not item.progress.get(DIGESTED)]
            # One digest per group at a time: the next lists what came in meanwhile. While
            # a burst is being worked off (some tickets digested, still waiting), even a few
            # newcomers get listed rather than waiting minutes for their card.
            burst = len(fresh) < len(items)
            if not fresh or chat_id in pending:
                continue
            if len(fresh) <= self._threshold and not burst:
                continue
            queued = True
            tickets = [
                {"number": item.payload["ticket_number"], "topic": item.payload["topic"]}
                for item in fresh
            ]
            text = self._texts.render(self._lang, "tickets_digest", tickets=tickets).text
            self._outbox.notice(chat_id, text)
            for item in fresh:
                self._outbox.save_progress(item.id, {**item.progress, DIGESTED: True})
        return queued
