"""Where tickets live on the staff side: topic or card message per ticket, and reachability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.tickets.schema import time_text
from bot.tickets.store import TicketStore


@dataclass(frozen=True, slots=True)
class StaffThread:
    """A ticket's place in the staff chat: its forum topic (None in a plain group) and card."""

    ticket_number: int
    chat_id: int
    thread_id: int | None
    card_message_id: int


class StaffThreads:
    """Record and look up staff-side threads in the ticket store's database."""

    def __init__(self, store: TicketStore) -> None:
        self._store = store

    def link(self, thread: StaffThread) -> None:
        """Record where a ticket's thread is; its card counts as one of its messages."""
        with self._store.transaction():
            self._store.connection.execute(
                "INSERT OR REPLACE INTO staff_threads"
                " (ticket_number, chat_id, thread_id, card_message_id) VALUES (?, ?, ?, ?)",
                (thread.ticket_number, thread.chat_id, thread.thread_id, thread.card_message_id),
            )
            self.remember(thread.chat_id, thread.card_message_id, thread.ticket_number)

    def remember(self, chat_id: int, message_id: int, ticket_number: int) -> None:
        """Record that a staff-chat message belongs to a ticket (replies to it go there)."""
        with self._store.transaction():
            self._store.connection.execute(
                "INSERT OR IGNORE INTO staff_messages (chat_id, message_id, ticket_number)"
                " VALUES (?, ?, ?)",
                (chat_id, message_id, ticket_number),
            )

    def of_ticket(self, number: int) -> StaffThread | None:
        """Return where a ticket's thread is, if it was posted."""
        row = self._store.connection.execute(
            "SELECT ticket_number, chat_id, thread_id, card_message_id FROM staff_threads"
            " WHERE ticket_number = ?",
            (number,),
        ).fetchone()
        return None if row is None else StaffThread(*row)

    def ticket_of_topic(self, chat_id: int, thread_id: int) -> int | None:
        """Return the ticket whose forum topic this is."""
        row = self._store.connection.execute(
            "SELECT ticket_number FROM staff_threads WHERE chat_id = ? AND thread_id = ?",
            (chat_id, thread_id),
        ).fetchone()
        return None if row is None else int(row[0])

    def ticket_of_message(self, chat_id: int, message_id: int) -> int | None:
        """Return the ticket a staff-chat message of the bot belongs to."""
        row = self._store.connection.execute(
            "SELECT ticket_number FROM staff_messages WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        ).fetchone()
        return None if row is None else int(row[0])

    def mark_unreachable(self, customer_id: int, unreachable: bool) -> None:
        """Record that the bot can (no longer) send to a customer (they blocked it)."""
        since = time_text(datetime.now(UTC)) if unreachable else None
        with self._store.transaction():
            self._store.connection.execute(
                "UPDATE customers SET unreachable_at = ? WHERE id = ?", (since, customer_id)
            )

    def is_unreachable(self, customer_id: int) -> bool:
        """Return whether the last send to the customer failed because they blocked the bot."""
        row = self._store.connection.execute(
            "SELECT unreachable_at FROM customers WHERE id = ?", (customer_id,)
        ).fetchone()
        return row is not None and row[0] is not None
