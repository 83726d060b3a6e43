"""Where tickets live on the staff side, and customers the bot cannot reach."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.content.model import Lang, Tier
from bot.tickets.store import TicketStore
from bot.tickets.threads import StaffThread, StaffThreads
from bot.triage.billing import Tariff

TARIFF = Tariff("25.00", "EUR", 15)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    with TicketStore.open(tmp_path / "t.sqlite3") as opened:
        opened.upsert_customer(7, language=Lang.DE, name="Anna", username=None)
        yield opened


def ticket(store: TicketStore) -> int:
    due = datetime(2026, 12, 1, tzinfo=UTC)
    return store.create_ticket(7, tier=Tier.STANDARD, request="x", due=due).number


def test_a_topic_leads_back_to_its_ticket(store: TicketStore) -> None:
    """Linking a ticket to a topic makes the topic, the card and later posts find it."""
    threads = StaffThreads(store)
    number = ticket(store)
    threads.link(StaffThread(number, -100, 55, 900))
    threads.remember(-100, 901, number)
    assert threads.of_ticket(number) == StaffThread(number, -100, 55, 900)
    assert threads.ticket_of_topic(-100, 55) == number
    assert threads.ticket_of_message(-100, 900) == number
    assert threads.ticket_of_message(-100, 901) == number
    assert threads.ticket_of_topic(-100, 56) is None
    assert threads.ticket_of_message(-200, 900) is None


def test_plain_groups_have_no_topic(store: TicketStore) -> None:
    """In a group without topics the card message is the thread."""
    threads = StaffThreads(store)
    number = ticket(store)
    threads.link(StaffThread(number, -300, None, 12))
    assert threads.ticket_of_message(-300, 12) == number


def test_unreachable_customers_are_marked_and_cleared(store: TicketStore) -> None:
    """A customer who blocked the bot is marked; writing again clears the mark."""
    threads = StaffThreads(store)
    assert not threads.is_unreachable(7)
    threads.mark_unreachable(7, unreachable=True)
    assert threads.is_unreachable(7)
    threads.mark_unreachable(7, unreachable=False)
    assert not threads.is_unreachable(7)
