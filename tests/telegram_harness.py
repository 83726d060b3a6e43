"""The real bot (build_telegram, Runner) against the fake Bot API server, for end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fake_bot_api import FakeBotApi, FakeChat, FakeUser, RecordedCall

from bot.app import build_telegram
from bot.config import Config, Telegram
from bot.telegram.runner import Runner
from bot.tickets.sinks import EmailSettings, WebhookSettings
from bot.tickets.store import TicketStore

TOKEN = "123456:TEST-token"
CONTENT = Path(__file__).parent.parent / "faq_content"
STAFF = FakeChat.forum(-1001234)
AGENT = FakeUser(900, "Bernd", "bernd_support", "de")
ANNA = FakeUser(4242, "Anna", "anna_k", "de")
JOHN = FakeUser(5151, "John", "john_d", "en")
STRANGER = FakeUser(666, "Eve", "eve", "en")


@dataclass
class Running:
    """A running bot: the fake API it talks to, its runner and its store."""

    api: FakeBotApi
    runner: Runner
    store: TicketStore
    staff: FakeChat

    async def reply_to(self, user: FakeUser, contains: str = "", since: int = 0) -> RecordedCall:
        """Wait for the bot's next message to a user (containing a text) and return the call."""
        return await self.api.wait_for_call(
            "sendMessage",
            lambda p: p.get("chat_id") == user.id and contains in str(p.get("text", "")),
            since=since,
        )

    async def staff_post(self, contains: str, since: int = 0) -> RecordedCall:
        """Wait for a message of the bot in the staff chat containing a text."""
        return await self.api.wait_for_call(
            "sendMessage",
            lambda p: p.get("chat_id") == self.staff.id and contains in str(p.get("text", "")),
            since=since,
        )

    def staff_calls(self) -> list[RecordedCall]:
        """Return every call that posted or changed something in the staff chat."""
        return [
            c
            for c in self.api.calls()
            if c.params.get("chat_id") == self.staff.id and not c.method.startswith("get")
        ]

    async def press(self, user: FakeUser, call: RecordedCall, label: str) -> None:
        """Press the button whose label contains `label` on the message a call sent."""
        message = call.result
        assert isinstance(message, dict)
        for row in message["reply_markup"]["inline_keyboard"]:
            for button in row:
                if label.lower() in button["text"].lower():
                    self.api.callback(user, button["callback_data"], message)
                    return
        raise AssertionError(f"no button {label!r} on {message.get('reply_markup')}")

    async def thread_of(self, number: int) -> int | None:
        """Wait until a ticket's card is recorded; return its topic (None in a plain group)."""

        def recorded() -> tuple[int | None] | None:
            row = self.store.connection.execute(
                "SELECT thread_id FROM staff_threads WHERE ticket_number = ?"
                " AND card_message_id <> 0",
                (number,),
            ).fetchone()
            return None if row is None else (row[0],)

        return (await self.api.wait_for(recorded))[0]


def config_for(
    api: FakeBotApi,
    tmp_path: Path,
    staff: FakeChat = STAFF,
    *,
    email: EmailSettings | None = None,
    webhook: WebhookSettings | None = None,
    **telegram: Any,
) -> Config:
    """Return a config that points the bot at the fake server and a fresh database.

    `email` and `webhook` configure the helpdesk sinks (none by default).
    """
    # The core runs in a thread unless a test asks for the worker process (workers=1):
    # spawning one costs a second per test.
    telegram = {"workers": 0, **telegram}
    settings = replace(
        Telegram(), token=TOKEN, base_url=api.base_url, staff_chat_id=staff.id, **telegram
    )
    return Config(
        content_path=CONTENT,
        database=tmp_path / "bot.sqlite3",
        telegram=settings,
        email=email,
        webhook=webhook,
    )


@asynccontextmanager
async def running_bot(
    api: FakeBotApi,
    tmp_path: Path,
    staff: FakeChat = STAFF,
    *,
    time_scale: float = 1.0,
    email: EmailSettings | None = None,
    webhook: WebhookSettings | None = None,
    **telegram: Any,
) -> AsyncIterator[Running]:
    """Start the real bot against the fake server; stop it and close the store after.

    `time_scale` > 1 runs the bot's flood budgets and retry waits that much faster (give
    the fake's FloodLimits the same scale); `email` and `webhook` configure the sinks.
    """
    api.add_chat(staff, members=[AGENT.id])
    config = config_for(api, tmp_path, staff, email=email, webhook=webhook, **telegram)
    with TicketStore.open(config.database) as store:
        runner = build_telegram(config, store, environ={}, time_scale=time_scale)
        await runner.start()
        try:
            yield Running(api, runner, store, staff)
        finally:
            await runner.stop()
