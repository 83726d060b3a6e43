"""The outbox: every delivery, written in the transaction of the change that causes it.

A dispatcher delivers the rows later, in id order per destination, retrying with backoff
until each is delivered or fails for good; nothing is deleted, so failures stay visible.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.tickets import jsontext
from bot.tickets.schema import parse_time, time_text
from bot.tickets.store import TicketStore
from bot.triage.decisions import (
    Decision,
    Reply,
    StaffPost,
    TicketOpened,
    destination,
    to_json,
)

Clock = Callable[[], datetime]
TELEGRAM = "telegram"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One delivery: where to, what (a decision as JSON plus its channel), how far it got."""

    id: int
    destination: str
    payload: dict[str, Any]
    created_at: datetime
    not_before: datetime
    attempts: int
    progress: dict[str, Any]
    last_error: str | None
    delivered_at: datetime | None
    failed_at: datetime | None

    @property
    def channel(self) -> str:
        """Return the channel that delivers the item: telegram, email or webhook."""
        return str(self.payload.get("channel", TELEGRAM))


class Outbox:
    """Queue decisions for delivery in the caller's transaction, and track their delivery."""

    def __init__(
        self, store: TicketStore, *, sinks: Sequence[str] = (), clock: Clock | None = None
    ) -> None:
        self._store = store
        self._sinks = tuple(sinks)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._collecting = threading.local()

    def enqueue(self, decisions: Sequence[Decision]) -> None:
        """Queue decisions for Telegram, and the staff side's for every configured sink."""
        ready: list[OutboxItem] | None = getattr(self._collecting, "items", None)
        with self._store.transaction():
            for decision in decisions:
                payload = to_json(decision)
                target = destination(decision)
                telegram = {"channel": TELEGRAM, **payload}
                item_id = self._add(target, telegram)
                if ready is not None and self._offerable(decision, item_id):
                    ready.append(self._new_item(item_id, target, telegram))
                if _for_helpdesks(decision):
                    for sink in self._sinks:
                        self._add(f"{sink}:{target}", {"channel": sink, **payload})

    @contextmanager
    def collecting(self) -> Iterator[list[OutboxItem]]:
        """Collect the customer replies this thread queues that are first in line.

        Such a reply can be delivered at once (`Dispatcher.offer`): nothing queued before
        it waits for the same customer.
        """
        items: list[OutboxItem] = []
        self._collecting.items = items
        try:
            yield items
        finally:
            del self._collecting.items

    def _offerable(self, decision: Decision, item_id: int) -> bool:
        """Tell whether a reply was queued with nothing before it waiting for the customer."""
        if not isinstance(decision, Reply):
            return False
        row = self._store.connection.execute(
            "SELECT 1 FROM outbox WHERE destination = ? AND id < ?"
            " AND delivered_at IS NULL AND failed_at IS NULL LIMIT 1",
            (destination(decision), item_id),
        ).fetchone()
        return row is None

    def _new_item(self, item_id: int, target: str, payload: dict[str, Any]) -> OutboxItem:
        now = self._clock()
        return OutboxItem(item_id, target, payload, now, now, 0, {}, None, None, None)

    def notice(self, chat_id: int, text: str) -> int:
        """Queue a notice for a staff group's general topic (digest, overview, lint errors)."""
        payload = {"channel": TELEGRAM, "kind": "notice", "chat_id": chat_id, "text": text}
        with self._store.transaction():
            return self._add(f"staff:{chat_id}", payload)

    def _add(self, target: str, payload: dict[str, Any]) -> int:
        now = time_text(self._clock())
        cursor = self._store.connection.execute(
            "INSERT INTO outbox (destination, payload, created_at, not_before) VALUES (?, ?, ?, ?)",
            (target, jsontext.dumps(payload), now, now),
        )
        return int(cursor.lastrowid or 0)

    def due(self, limit: int = 200) -> list[OutboxItem]:
        """Return the oldest waiting item of each destination, if it is due, oldest first."""
        rows = self._store.connection.execute(
            "SELECT * FROM outbox WHERE id IN ("
            " SELECT min(id) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"
            " GROUP BY destination)"
            " AND not_before <= ?"
            # Notices (digests, overviews) go before the tickets they sum up.
            " ORDER BY json_extract(payload, '$.kind') = 'notice' DESC, id LIMIT ?",
            (time_text(self._clock()), limit),
        ).fetchall()
        return [_item(row) for row in rows]

    def next_due(self, channels: Collection[str] | None = None) -> datetime | None:
        """Return when the next waiting item falls due, if any waits (on one of `channels`)."""
        # Only the oldest waiting item of a destination can fall due: the ones behind it were
        # due when queued, but wait for it (in backoff, perhaps) all the same.
        sql = (
            "SELECT min(not_before) FROM outbox WHERE id IN ("
            " SELECT min(id) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"
            " GROUP BY destination)"
        )
        parameters: tuple[str, ...] = ()
        if channels is not None:
            parameters = tuple(channels)
            marks = ", ".join("?" * len(parameters))
            sql += f" AND coalesce(json_extract(payload, '$.channel'), '{TELEGRAM}') IN ({marks})"
        row = self._store.connection.execute(sql, parameters).fetchone()
        return None if row is None or row[0] is None else parse_time(row[0])

    def waiting(self, destination_prefix: str = "") -> list[OutboxItem]:
        """Return every item not yet delivered nor failed (optionally for some destinations)."""
        rows = self._store.connection.execute(
            "SELECT * FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"
            " AND destination LIKE ? ORDER BY id",
            (destination_prefix + "%",),
        ).fetchall()
        return [_item(row) for row in rows]

    def items(self, *, include_delivered: bool = False) -> list[OutboxItem]:
        """Return the waiting and failed items (and the delivered ones if asked), oldest first."""
        condition = "" if include_delivered else " WHERE delivered_at IS NULL"
        rows = self._store.connection.execute(f"SELECT * FROM outbox{condition} ORDER BY id")
        return [_item(row) for row in rows.fetchall()]

    def failed(self) -> list[OutboxItem]:
        """Return the items given up on, oldest first."""
        rows = self._store.connection.execute(
            "SELECT * FROM outbox WHERE failed_at IS NOT NULL ORDER BY id"
        ).fetchall()
        return [_item(row) for row in rows]

    def item(self, item_id: int) -> OutboxItem:
        """Return one item."""
        row = self._store.connection.execute(
            "SELECT * FROM outbox WHERE id = ?", (item_id,)
        ).fetchone()
        if row is None:
            raise KeyError(item_id)
        return _item(row)

    def save_progress(self, item_id: int, progress: dict[str, Any]) -> None:
        """Record how far a delivery got (sent message ids), so a retry never repeats it."""
        with self._store.transaction():
            self._store.connection.execute(
                "UPDATE outbox SET progress = ? WHERE id = ?",
                (jsontext.dumps(progress), item_id),
            )

    def delivered(self, item_id: int, progress: dict[str, Any] | None = None) -> None:
        """Mark an item delivered (with its final progress, if given)."""
        self.delivered_many([(item_id, progress)])

    def delivered_many(self, items: Iterable[tuple[int, dict[str, Any] | None]]) -> None:
        """Mark items delivered, each with its final progress if given.

        One statement (`TicketStore.write`): the write lock is never held while the
        marking thread waits for the GIL, which would keep the core's writes waiting.
        """
        marks = {str(item_id): progress for item_id, progress in items}
        self._store.write(
            "UPDATE outbox SET delivered_at = :now, last_error = NULL,"
            " progress = coalesce(json_extract(:marks, '$.\"' || id || '\"'), progress)"
            " WHERE id IN (SELECT CAST(key AS INTEGER) FROM json_each(:marks))",
            {"now": time_text(self._clock()), "marks": jsontext.dumps(marks)},
        )

    def retry(self, item_id: int, error: str, after: timedelta) -> None:
        """Count a failed attempt and try again after a while."""
        with self._store.transaction():
            self._store.connection.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, not_before = ?"
                " WHERE id = ?",
                (error, time_text(self._clock() + after), item_id),
            )

    def fail(self, item_id: int, error: str) -> None:
        """Give up on an item for good (the error will not go away); it stays visible."""
        with self._store.transaction():
            self._store.connection.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, failed_at = ?"
                " WHERE id = ?",
                (error, time_text(self._clock()), item_id),
            )


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        destination=row["destination"],
        payload=jsontext.loads(row["payload"]),
        created_at=parse_time(row["created_at"]),
        not_before=parse_time(row["not_before"]),
        attempts=row["attempts"],
        progress=jsontext.loads(row["progress"]),
        last_error=row["last_error"],
        delivered_at=None if row["delivered_at"] is None else parse_time(row["delivered_at"]),
        failed_at=None if row["failed_at"] is None else parse_time(row["failed_at"]),
    )


# Staff-side posts that are about the bot's use, not about the ticket: kept from helpdesks.
_STAFF_ONLY = frozenset({"staff_error", "staff_usage"})


def _for_helpdesks(decision: Decision) -> bool:
    if isinstance(decision, TicketOpened):
        return True
    return isinstance(decision, StaffPost) and decision.message.template not in _STAFF_ONLY
