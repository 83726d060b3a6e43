"""Timers for the first-response SLA: reminders in overdue topics, a daily queue overview."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram.ext import ContextTypes, JobQueue

from bot.content.model import Lang
from bot.delivery.dispatcher import Dispatcher
from bot.render import Catalogue
from bot.tickets.outbox import Outbox
from bot.tickets.protocol import ConversationStore
from bot.tickets.sla import Reminders
from bot.tickets.watch import Watch
from bot.triage.staff_view import StaffView

CHECK_EVERY = 60.0  # seconds between looks for overdue tickets


class SlaJobs:
    """Post SLA reminders and overviews through the outbox, on PTB's JobQueue."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        watch: Watch,
        view: StaffView,
        outbox: Outbox,
        dispatcher: Dispatcher,
        texts: Catalogue,
        lang: Lang,
        chats: Sequence[int],
        reminders: Reminders,
        timezone: str,
        time_scale: float = 1.0,
    ) -> None:
        self._store = store
        self._watch = watch
        self._view = view
        self._outbox = outbox
        self._dispatcher = dispatcher
        self._texts = texts
        self._lang = lang
        self._chats = tuple(chats)
        self._reminders = reminders
        self._zone = ZoneInfo(timezone)
        self._scale = time_scale

    def install(self, jobs: JobQueue[ContextTypes.DEFAULT_TYPE]) -> None:
        """Schedule the reminder check and the daily overview."""
        every = CHECK_EVERY / self._scale
        jobs.run_repeating(self._remind, interval=every, first=every, name="sla reminders")
        at = self._reminders.daily_overview.replace(tzinfo=self._zone)
        jobs.run_daily(self._daily, time=at, name="daily overview")

    async def _remind(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await asyncio.to_thread(self.remind):
            self._dispatcher.wake()

    async def _daily(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        for chat_id in self._chats:
            await asyncio.to_thread(self.overview, chat_id)
        self._dispatcher.wake()

    def remind(self) -> int:
        """Queue a reminder into every overdue ticket's topic not reminded lately."""
        every = timedelta(minutes=self._reminders.every_minutes) / self._scale
        numbers = self._watch.due_for_reminder(datetime.now(UTC), every)
        posts = [
            self._view.post(number, "sla_reminder", due=self._store.ticket(number).sla_due)
            for number in numbers
        ]
        self._outbox.enqueue(posts)
        return len(posts)

    def overview(self, chat_id: int) -> None:
        """Queue the queue's overview for a staff group's general topic."""
        overview = self._watch.overview(datetime.now(UTC))
        text = self._texts.render(
            self._lang,
            "queue_overview",
            open=overview.open,
            claimed=overview.claimed,
            waiting=overview.waiting,
            overdue=list(overview.overdue),
        ).text
        self._outbox.notice(chat_id, text)
