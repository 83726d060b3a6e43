"""The first-response watch: which tickets are overdue, and the queue at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.tickets.schema import time_text
from bot.tickets.store import TicketStore

# A ticket waits for its first response while it is open or claimed and no agent has
# written to the customer yet.
_AWAITING_FIRST_RESPONSE = """
    t.status IN ('open', 'claimed') AND NOT EXISTS (
        SELECT 1 FROM ticket_messages AS m
        WHERE m.ticket_number = t.number AND m.author_kind = 'agent')
"""


@dataclass(frozen=True, slots=True)
class Overview:
    """The queue in numbers: by status, and which tickets are past their first response."""

    open: int
    claimed: int
    waiting: int
    overdue: tuple[int, ...]


class Watch:
    """Find overdue tickets and count the queue, in the ticket store's database."""

    def __init__(self, store: TicketStore) -> None:
        self._store = store

    def due_for_reminder(self, now: datetime, every: timedelta) -> list[int]:
        """Return overdue tickets not reminded within `every`, and mark them reminded now."""
        cutoff = time_text(now - every)
        with self._store.transaction():
            rows = self._store.connection.execute(
                f"SELECT number FROM tickets AS t WHERE {_AWAITING_FIRST_RESPONSE}"
                " AND t.sla_due_at < ? AND (t.reminded_at IS NULL OR t.reminded_at <= ?)"
                " ORDER BY number",
                (time_text(now), cutoff),
            ).fetchall()
            numbers = [int(row[0]) for row in rows]
            self._store.connection.executemany(
                "UPDATE tickets SET reminded_at = ? WHERE number = ?",
                [(time_text(now), number) for number in numbers],
            )
        return numbers

    def overview(self, now: datetime) -> Overview:
        """Return how many tickets are open, claimed and waiting, and which are overdue."""
        counts = dict(
            self._store.connection.execute(
                "SELECT status, count(*) FROM tickets GROUP BY status"
            ).fetchall()
        )
        overdue = self._store.connection.execute(
            f"SELECT number FROM tickets AS t WHERE {_AWAITING_FIRST_RESPONSE}"
            " AND t.sla_due_at < ? ORDER BY number",
            (time_text(now),),
        ).fetchall()
        return Overview(
            open=int(counts.get("open", 0)),
            claimed=int(counts.get("claimed", 0)),
            waiting=int(counts.get("waiting", 0)),
            overdue=tuple(int(row[0]) for row in overdue),
        )
