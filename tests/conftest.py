"""Shared fixtures: a settable clock and a ticket store on a real SQLite file."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_bot_api import FakeBotApi
from hypothesis import settings
from telegram_harness import TOKEN, Running, running_bot

from bot.tickets.store import TicketStore

# Property tests draw the same examples every run: a run fails for a change, never for a
# new draw. (Exploring: HYPOTHESIS_PROFILE=explore.)
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# A Monday morning in June, inside Berlin business hours.
START = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test sets: the store reads the time from it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward (or back, with negative values) and return the new time."""
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """Return a clock standing at START."""
    return Clock()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Return the path of a database file that does not exist yet, in a folder that neither."""
    return tmp_path / "data" / "tickets.sqlite3"


@pytest.fixture
def store(database: Path, clock: Clock) -> Iterator[TicketStore]:
    """Open a fresh ticket store on a real file, closed after the test."""
    with TicketStore.open(database, clock=clock) as opened:
        yield opened


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let python-telegram-bot report retry_after as a timedelta (no deprecation warning)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """Run the fake Bot API server on loopback for one test."""
    async with FakeBotApi(TOKEN) as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotApi, tmp_path: Path) -> AsyncIterator[Running]:
    """Run the real bot against the fake server, with a fresh database."""
    async with running_bot(api, tmp_path) as running:
        yield running


def free_port() -> int:
    """Return a loopback port nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
