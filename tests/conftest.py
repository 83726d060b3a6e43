"""Shared fixtures: a settable clock and a ticket store on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.tickets.store import TicketStore

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
