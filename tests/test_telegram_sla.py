"""SLA on Telegram: reminders in overdue topics, and /queue in the staff group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import time
from pathlib import Path

import pytest
from fake_bot_api import FakeBotApi
from telegram_harness import AGENT, ANNA, STAFF, STRANGER, TOKEN, Running, config_for

from bot.app import build_telegram
from bot.tickets.sla import BusinessHours, FirstResponse
from bot.tickets.store import TicketStore

MAIL_FAULT = "Ich möchte mit einem Mitarbeiter sprechen: euer Mailserver ist seit heute früh down"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Running]:
    """A bot whose tickets are due at once (always open, 0 minutes), its clock 600× fast."""
    async with FakeBotApi(TOKEN) as api:
        api.add_chat(STAFF, members=[AGENT.id])
        config = config_for(api, tmp_path)
        always = BusinessHours("Europe/Berlin", frozenset(range(7)), time(0), time(23, 59))
        config = replace(config, business_hours=always, first_response=FirstResponse(0, 0))
        with TicketStore.open(config.database) as store:
            runner = build_telegram(config, store, environ={}, time_scale=600)
            await runner.start()
            try:
                yield Running(api, runner, store, STAFF)
            finally:
                await runner.stop()


async def test_an_overdue_ticket_is_reminded_in_its_topic(bot: Running) -> None:
    """No agent answer by the due time: a reminder appears in the ticket's topic."""
    bot.api.user_text(ANNA, MAIL_FAULT)
    thread = await bot.thread_of(1001)
    reminder = await bot.staff_post("überfällig")
    assert reminder.params["message_thread_id"] == thread
    assert "1001" in reminder.params["text"]


async def test_queue_shows_the_overview_to_staff_only(bot: Running) -> None:
    """/queue in the general topic posts the counts; from a stranger it does nothing."""
    bot.api.user_text(ANNA, MAIL_FAULT)
    await bot.thread_of(1001)
    mark = bot.api.mark()
    bot.api.group_text(bot.staff, STRANGER, "/queue")
    bot.api.group_text(bot.staff, AGENT, "/queue")
    overview = await bot.staff_post("Warteschlange", since=mark)
    assert "message_thread_id" not in overview.params or not overview.params["message_thread_id"]
    assert "1001" in overview.params["text"]
    posts = [
        c
        for c in bot.api.calls()[mark:]
        if c.method == "sendMessage" and "Warteschlange" in c.params["text"]
    ]
    assert len(posts) == 1
