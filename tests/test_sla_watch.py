"""The first-response watch: overdue tickets get one reminder per interval; the overview."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.content.model import Lang, Tier
from bot.tickets.model import AuthorKind
from bot.tickets.store import TicketStore
from bot.tickets.watch import Watch
from bot.triage.billing import Tariff

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    with TicketStore.open(tmp_path / "t.sqlite3", clock=lambda: NOW - timedelta(hours=5)) as opened:
        opened.upsert_customer(7, language=Lang.DE, name="Anna", username=None)
        yield opened


def ticket(store: TicketStore, due: datetime) -> int:
    return store.create_ticket(7, tier=Tier.STANDARD, request="x", due=due).number


def test_overdue_tickets_are_reminded_once_per_interval(store: TicketStore) -> None:
    """Past due and unanswered: reminded now, not again within the interval, again after."""
    watch = Watch(store)
    late = ticket(store, NOW - timedelta(minutes=10))
    ticket(store, NOW + timedelta(hours=3))
    every = timedelta(minutes=60)
    assert watch.due_for_reminder(NOW, every) == [late]
    assert watch.due_for_reminder(NOW + timedelta(minutes=30), every) == []
    assert watch.due_for_reminder(NOW + timedelta(minutes=61), every) == [late]


def test_an_agent_answer_ends_the_reminders(store: TicketStore) -> None:
    """Once an agent wrote to the customer, the first response is there: no more reminders."""
    watch = Watch(store)
    late = ticket(store, NOW - timedelta(minutes=10))
    store.add_message(late, AuthorKind.NOTE, "internal only", author_id=9)
    assert watch.due_for_reminder(NOW, timedelta(minutes=1)) == [late]
    store.add_message(late, AuthorKind.AGENT, "Wir kümmern uns", author_id=9)
    later = NOW + timedelta(hours=2)
    assert watch.due_for_reminder(later, timedelta(minutes=1)) == []
    assert watch.overview(later).overdue == ()


def test_the_overview_counts_by_status(store: TicketStore) -> None:
    """Open, claimed, waiting and overdue tickets are counted; closed ones are not."""
    watch = Watch(store)
    first = ticket(store, NOW - timedelta(minutes=1))
    second = ticket(store, NOW + timedelta(hours=1))
    third = ticket(store, NOW + timedelta(hours=1))
    closed = ticket(store, NOW - timedelta(hours=1))
    store.claim(second, 9)
    store.claim(third, 9)
    store.mark_waiting(third)
    store.close_ticket(closed, 0, Tariff("25.00", "EUR", 15))
    overview = watch.overview(NOW)
    assert (overview.open, overview.claimed, overview.waiting) == (1, 1, 1)
    assert overview.overdue == (first,)
