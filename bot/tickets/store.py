"""The ticket store: tickets, consents, conversation state and question log in one SQLite file."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.content.model import Lang, Tier
from bot.tickets import jsontext, rows
from bot.tickets.errors import ConsentError, NotFoundError, SchemaError, TransitionError
from bot.tickets.model import (
    AuthorKind,
    Consent,
    ConsentDecision,
    ConversationState,
    Customer,
    ForgetSummary,
    LoggedQuestion,
    ScoredEntry,
    Ticket,
    TicketMessage,
    TicketStatus,
    TimeEntry,
    TranscriptStep,
)
from bot.tickets.protocol import ConversationStore
from bot.tickets.schema import migrate, parse_time, time_text
from bot.triage.billing import Bill, Tariff

Clock = Callable[[], datetime]
DEFAULT_BUSY_TIMEOUT = 30.0
BUSY_FIRST_PAUSE = 0.0001
BUSY_MAX_PAUSE = 0.005


class Rows:
    """The fetched result of one statement, with the cursor's lastrowid and rowcount."""

    def __init__(self, rows: list[Any], lastrowid: int | None, rowcount: int) -> None:
        self._rows = rows
        self.lastrowid = lastrowid
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        """Return the next row, or None."""
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        """Return the remaining rows."""
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class LockedConnection:
    """A connection whose every statement runs under a lock, its rows fetched at once."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.RLock) -> None:
        self._connection = connection
        self._lock = lock

    def execute(self, sql: str, parameters: Sequence[object] | Mapping[str, object] = ()) -> Rows:
        """Run one statement and return its rows."""
        with self._lock:
            cursor = self._connection.execute(sql, parameters)
            return Rows(cursor.fetchall(), cursor.lastrowid, cursor.rowcount)

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]]) -> Rows:
        """Run one statement for each set of parameters."""
        with self._lock:
            cursor = self._connection.executemany(sql, parameters)
            return Rows([], cursor.lastrowid, cursor.rowcount)

    @property
    def in_transaction(self) -> bool:
        """Return whether a transaction is open."""
        return self._connection.in_transaction

    @property
    def raw(self) -> sqlite3.Connection:
        """Return the underlying connection, for tests that need its own API."""
        return self._connection


class TicketStore(ConversationStore):
    """The ticket store over one SQLite file (WAL, foreign keys on, migrated on open)."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        clock: Clock,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self._connection = connection
        self._path = path
        self._clock = clock
        self._busy_timeout = busy_timeout
        # One connection may serve several threads (asyncio.to_thread); a transaction holds
        # the lock from BEGIN to COMMIT so they never interleave.
        self._lock = threading.RLock()
        self._depth = 0
        self._all_or_nothing = False

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        create: bool = True,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        clock: Clock | None = None,
    ) -> TicketStore:
        """Open the database file (creating it and its folder unless told not to) and migrate."""
        path = Path(path)
        if not path.exists():
            if not create:
                raise NotFoundError(f"{path}: database not found")
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise SchemaError(f"{path}: cannot open database: {error}") from None
        try:
            _configure(connection, busy_timeout)
            migrate(connection, name=str(path))
        except sqlite3.DatabaseError as error:
            connection.close()
            raise SchemaError(f"{path}: not a usable triagebot database: {error}") from None
        except BaseException:
            connection.close()
            raise
        return cls(connection, path, clock or _utc_now, busy_timeout)

    @property
    def path(self) -> Path:
        """Return the database file's path."""
        return self._path

    @property
    def connection(self) -> LockedConnection:
        """Return the connection for the store's companions (outbox, threads, watch...).

        Every statement runs under the store's lock and its rows are fetched at once: one
        connection serves several threads, and a statement must never interleave with
        another thread's transaction.
        """
        return LockedConnection(self._connection, self._lock)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._connection.close()

    def __enter__(self) -> TicketStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def transaction(self, *, all_or_nothing: bool = False) -> AbstractContextManager[None]:
        """Run the block in one transaction (BEGIN IMMEDIATE); nested blocks use savepoints.

        `all_or_nothing` (for the outermost block): nested blocks take no savepoints, so a
        failure anywhere undoes the whole transaction. For callers that never catch a
        store error inside the block; it saves two statements per nested block.
        """
        return _Transaction(self, all_or_nothing)

    def _enter(self, all_or_nothing: bool) -> str:
        """Begin a transaction or a savepoint, or join the all-or-nothing transaction;
        return which (`_OUTER`, `_JOINED` or the savepoint's name). Holds the lock until
        `_leave`."""
        self._lock.acquire()
        try:
            if self._depth and self._all_or_nothing:
                level = _JOINED
            elif self._depth:
                level = f"nested_{self._depth}"
                self._connection.execute(f"SAVEPOINT {level}")
            else:
                self._all_or_nothing = all_or_nothing
                self._begin()
                level = _OUTER
        except BaseException:
            self._lock.release()
            raise
        self._depth += 1
        return level

    def _leave(self, level: str, failed: bool) -> None:
        """End what `_enter` began: commit or release it, or roll it back if the block
        failed; then let go of the lock."""
        try:
            self._depth -= 1
            if level == _JOINED:
                return
            savepoint = None if level == _OUTER else level
            if failed:
                self._roll_back(savepoint)
            elif savepoint:
                self._connection.execute(f"RELEASE {savepoint}")
            else:
                try:
                    self._connection.execute("COMMIT")
                except BaseException:
                    self._roll_back(None)
                    raise
        finally:
            self._lock.release()

    def write(self, sql: str, parameters: Mapping[str, object]) -> None:
        """Run one writing statement: in the caller's transaction if there is one, else as
        a transaction of its own that waits for another process's write in short steps.

        One statement takes the write lock and commits inside SQLite, which releases the
        GIL: the lock is never held while this thread waits for the GIL (a BEGIN, the
        statement and a COMMIT each need it back in between).
        """
        with self._lock:
            if self._depth:
                self._connection.execute(sql, parameters)
            else:
                self._when_free(lambda: self._connection.execute(sql, parameters))

    def _begin(self) -> None:
        """BEGIN IMMEDIATE, waiting for another process's write in short steps."""
        self._when_free(lambda: self._connection.execute("BEGIN IMMEDIATE"))

    def _when_free(self, write: Callable[[], object]) -> None:
        """Start a write, trying again while another connection writes, up to the timeout.

        SQLite's own busy handler sleeps 1, 2, 5, 10... ms between tries; the other writer
        (the bot's other process) holds its lock for about a millisecond, so those sleeps
        cost more than the wait. Here the handler is off meanwhile, and the tries come
        every 0.1 ms at first.
        """
        deadline = time.monotonic() + self._busy_timeout
        pause = BUSY_FIRST_PAUSE
        self._connection.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    write()
                    return
                except sqlite3.OperationalError as error:
                    if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                        raise
                    if time.monotonic() >= deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 1.5, BUSY_MAX_PAUSE)
        finally:
            self._connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000):d}")

    def _roll_back(self, savepoint: str | None) -> None:
        # Some errors (a full disk, an interrupt) make SQLite roll back by itself; a second
        # rollback would then fail and hide the error that matters.
        if not self._connection.in_transaction:
            return
        if savepoint:
            self._connection.execute(f"ROLLBACK TO {savepoint}")
            self._connection.execute(f"RELEASE {savepoint}")
        else:
            self._connection.execute("ROLLBACK")

    # Customers and conversation state

    def upsert_customer(
        self,
        customer_id: int,
        *,
        language: Lang,
        name: str | None,
        username: str | None,
        wrote: bool = False,
    ) -> Customer:
        """Record a customer, or update the name, username and language of a known one.

        `wrote`: the customer just wrote to the bot, so they can be reached again.
        """
        with self.transaction():
            (row,) = self._all(
                "INSERT INTO customers (id, name, username, language, created_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET"
                " name = excluded.name, username = excluded.username,"
                " language = excluded.language"
                + (", unreachable_at = NULL" if wrote else "")
                + " RETURNING *",
                (customer_id, name, username, Lang(language).value, self._now()),
            )
            return rows.customer_from(row)

    def customer(self, customer_id: int) -> Customer | None:
        """Return the customer with this Telegram id, if known."""
        row = self._one("SELECT * FROM customers WHERE id = ?", (customer_id,))
        return None if row is None else rows.customer_from(row)

    def get_state(self, customer_id: int) -> ConversationState | None:
        """Return the saved conversation state of a customer, if any."""
        row = self._one("SELECT * FROM conversation_states WHERE customer_id = ?", (customer_id,))
        if row is None:
            return None
        return ConversationState(
            customer_id, jsontext.loads(row["state"]), parse_time(row["updated_at"])
        )

    def glance(self, customer_id: int, key: str) -> tuple[Any, bool]:
        """Return one top-level value of a customer's saved state (None if there is none)
        and whether they have a ticket that is not closed, in one statement and without
        reading the whole state."""
        ((value, open_ticket),) = self._all(
            "SELECT (SELECT json_extract(state, ?) FROM conversation_states"
            " WHERE customer_id = ?),"
            " EXISTS (SELECT 1 FROM tickets WHERE customer_id = ? AND status <> 'closed')",
            (f"$.{key}", customer_id, customer_id),
        )
        return value, bool(open_ticket)

    def put_state(self, customer_id: int, data: Mapping[str, Any]) -> None:
        """Save the conversation state of a known customer, replacing what was there."""
        with self.transaction():
            self._for_customer(
                customer_id,
                "INSERT INTO conversation_states (customer_id, state, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (customer_id) DO UPDATE SET"
                " state = excluded.state, updated_at = excluded.updated_at",
                (customer_id, jsontext.dumps(dict(data)), self._now()),
            )

    # Consents

    def record_consent(
        self,
        customer_id: int,
        decision: ConsentDecision,
        tariff: Tariff,
        *,
        text: str,
        template: str,
        template_version: str,
        ticket_number: int | None = None,
    ) -> Consent:
        """Record the customer's decision on the cost notice they were shown."""
        if not text or not template or not template_version:
            raise ValueError("a consent needs the exact text shown, its template and version")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        with self.transaction():
            self._customer(customer_id)
            if ticket_number is not None:
                ticket = self.ticket(ticket_number)
                if ticket.customer_id != customer_id:
                    raise ConsentError(
                        f"ticket {ticket_number} belongs to customer {ticket.customer_id},"
                        f" not {customer_id}"
                    )
            cursor = self._execute(
                "INSERT INTO consents (customer_id, ticket_number, decision, decided_at, rate,"
                " currency, increment_minutes, text, template, template_version, text_sha256)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    customer_id,
                    ticket_number,
                    ConsentDecision(decision).value,
                    self._now(),
                    str(tariff.rate),
                    tariff.currency,
                    tariff.increment_minutes,
                    text,
                    template,
                    template_version,
                    digest,
                ),
            )
            return self.consent(_last_id(cursor))

    def consent(self, consent_id: int) -> Consent:
        """Return a consent by id."""
        row = self._one("SELECT * FROM consents WHERE id = ?", (consent_id,))
        if row is None:
            raise NotFoundError(f"no consent {consent_id}")
        return rows.consent_from(row)

    def consents_of_customer(self, customer_id: int) -> list[Consent]:
        """Return a customer's consents, oldest first."""
        found = self._all(
            "SELECT * FROM consents WHERE customer_id = ? ORDER BY id", (customer_id,)
        )
        return [rows.consent_from(row) for row in found]

    def consents_of_ticket(self, number: int) -> list[Consent]:
        """Return the consents that concern a ticket (given for it or asked to raise it)."""
        found = self._all(
            "SELECT * FROM consents WHERE ticket_number = :number"
            " OR id = (SELECT consent_id FROM tickets WHERE number = :number) ORDER BY id",
            {"number": number},
        )
        return [rows.consent_from(row) for row in found]

    # Tickets

    def create_ticket(
        self,
        customer_id: int,
        *,
        tier: Tier,
        request: str,
        due: datetime,
        category: str = "",
        transcript: Sequence[TranscriptStep] = (),
        customer_ref: str | None = None,
        consent_id: int | None = None,
    ) -> Ticket:
        """Open a ticket due for a first response at `due`; extended needs an agree consent."""
        tier = Tier(tier)
        due_text = time_text(due)
        with self.transaction():
            self._customer(customer_id)
            now = self._now()
            if tier is Tier.EXTENDED:
                self._check_consent(consent_id, customer_id, now, None)
            elif consent_id is not None:
                raise ConsentError("a standard ticket is free: it takes no consent")
            cursor = self._execute(
                "INSERT INTO tickets (customer_id, tier, category, request, transcript,"
                " customer_ref, consent_id, sla_due_at, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    customer_id,
                    tier.value,
                    category,
                    request,
                    jsontext.dumps([step.to_json() for step in transcript]),
                    customer_ref,
                    consent_id,
                    due_text,
                    now,
                    now,
                ),
            )
            return self.ticket(_last_id(cursor))

    def ticket(self, number: int) -> Ticket:
        """Return the ticket with this number; raise NotFoundError if there is none."""
        row = self._one("SELECT * FROM tickets WHERE number = ?", (number,))
        if row is None:
            raise NotFoundError(f"no ticket {number} in {self._path}")
        return rows.ticket_from(row)

    def open_tickets(self, customer_id: int) -> list[Ticket]:
        """Return a customer's tickets that are not closed, oldest first."""
        found = self._all(
            "SELECT * FROM tickets WHERE customer_id = ? AND status <> 'closed' ORDER BY number",
            (customer_id,),
        )
        return [rows.ticket_from(row) for row in found]

    def tickets_of_customer(self, customer_id: int, limit: int = 10) -> list[Ticket]:
        """Return a customer's latest tickets, open or closed, newest first."""
        found = self._all(
            "SELECT * FROM tickets WHERE customer_id = ? ORDER BY number DESC LIMIT ?",
            (customer_id, limit),
        )
        return [rows.ticket_from(row) for row in found]

    def tickets(self, status: TicketStatus | None = None) -> list[Ticket]:
        """Return all tickets, or those with one status, by number."""
        if status is None:
            found = self._all("SELECT * FROM tickets ORDER BY number", ())
        else:
            found = self._all(
                "SELECT * FROM tickets WHERE status = ? ORDER BY number",
                (TicketStatus(status).value,),
            )
        return [rows.ticket_from(row) for row in found]

    def claim(self, number: int, agent_id: int) -> Ticket:
        """Assign an open or waiting ticket to an agent."""
        with self.transaction():
            ticket = self.ticket(number)
            if ticket.status is TicketStatus.CLAIMED:
                raise TransitionError(
                    f"ticket {number} is already claimed by agent {ticket.agent_id}"
                )
            _check_move(ticket, TicketStatus.CLAIMED, "claim")
            self._execute(
                "UPDATE tickets SET status = 'claimed', agent_id = ?, updated_at = ?"
                " WHERE number = ?",
                (agent_id, self._now(), number),
            )
            return self.ticket(number)

    def mark_waiting(self, number: int) -> Ticket:
        """Mark a claimed ticket as waiting for the customer."""
        with self.transaction():
            _check_move(self.ticket(number), TicketStatus.WAITING, "mark as waiting")
            self._execute(
                "UPDATE tickets SET status = 'waiting', updated_at = ? WHERE number = ?",
                (self._now(), number),
            )
            return self.ticket(number)

    def close_ticket(
        self, number: int, minutes: int, tariff: Tariff, *, agent_id: int | None = None
    ) -> Ticket:
        """Log the last minutes, bill the ticket and close it.

        Extended tickets are billed on the minutes logged since the customer agreed, at the
        terms of that consent (which may differ from `tariff` if the config changed since);
        standard tickets get a bill of 0 minutes and 0 units in the tariff's currency.
        """
        _check_minutes(minutes, allow_zero=True)
        with self.transaction():
            ticket = self.ticket(number)
            _check_move(ticket, TicketStatus.CLOSED, "close")
            if minutes:
                ticket = self.log_time(number, agent_id, minutes)
            bill = self._bill(ticket, tariff)
            now = self._now()
            self._execute(
                "UPDATE tickets SET status = 'closed', closed_at = ?, updated_at = ?,"
                " billed_minutes = ?, billed_units = ?, billed_amount = ?, billed_currency = ?"
                " WHERE number = ?",
                (now, now, bill.minutes, bill.units, str(bill.amount), bill.currency, number),
            )
            return self.ticket(number)

    def reopen(self, number: int) -> Ticket:
        """Open a closed ticket again; its bill is recomputed on all minutes when it closes."""
        with self.transaction():
            _check_move(self.ticket(number), TicketStatus.OPEN, "reopen")
            self._execute(
                "UPDATE tickets SET status = 'open', closed_at = NULL, updated_at = ?,"
                " billed_minutes = NULL, billed_units = NULL, billed_amount = NULL,"
                " billed_currency = NULL"
                " WHERE number = ?",
                (self._now(), number),
            )
            return self.ticket(number)

    def log_time(self, number: int, agent_id: int | None, minutes: int) -> Ticket:
        """Add minutes of work to a ticket that is not closed."""
        _check_minutes(minutes, allow_zero=False)
        with self.transaction():
            ticket = self.ticket(number)
            if not ticket.is_open:
                raise TransitionError(f"ticket {number} is closed: reopen it to log time")
            now = self._now()
            self._execute(
                "INSERT INTO time_entries (ticket_number, agent_id, minutes, logged_at)"
                " VALUES (?, ?, ?, ?)",
                (number, agent_id, minutes, now),
            )
            self._execute(
                "UPDATE tickets SET minutes_logged = minutes_logged + ?, updated_at = ?"
                " WHERE number = ?",
                (minutes, now, number),
            )
            return self.ticket(number)

    def set_tier(self, number: int, tier: Tier, *, consent_id: int | None = None) -> Ticket:
        """Change a ticket's tier; raising it to extended needs a new agree consent."""
        tier = Tier(tier)
        with self.transaction():
            ticket = self.ticket(number)
            if not ticket.is_open:
                raise TransitionError(f"ticket {number} is closed: reopen it to change its tier")
            if tier is ticket.tier:
                return ticket
            now = self._now()
            if tier is Tier.EXTENDED:
                self._check_consent(consent_id, ticket.customer_id, now, number)
                new_consent = consent_id
            else:
                # The consent stays linked: it is the record of what was agreed, and keeps.
                new_consent = ticket.consent_id
            self._execute(
                "UPDATE tickets SET tier = ?, consent_id = ?, updated_at = ? WHERE number = ?",
                (tier.value, new_consent, now, number),
            )
            return self.ticket(number)

    # Messages and time

    def add_message(
        self,
        number: int,
        author_kind: AuthorKind,
        text: str,
        *,
        author_id: int | None = None,
        attachment: Mapping[str, Any] | None = None,
    ) -> TicketMessage:
        """Add a message to a ticket's thread."""
        with self.transaction():
            self.ticket(number)
            cursor = self._execute(
                "INSERT INTO ticket_messages"
                " (ticket_number, author_kind, author_id, text, attachment, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    number,
                    AuthorKind(author_kind).value,
                    author_id,
                    text,
                    None if attachment is None else jsontext.dumps(dict(attachment)),
                    self._now(),
                ),
            )
            return self._message(_last_id(cursor))

    def messages(self, number: int) -> list[TicketMessage]:
        """Return a ticket's messages, oldest first."""
        found = self._all(
            "SELECT * FROM ticket_messages WHERE ticket_number = ? ORDER BY id", (number,)
        )
        return [rows.message_from(row) for row in found]

    def time_entries(self, number: int) -> list[TimeEntry]:
        """Return the time logged on a ticket, oldest first."""
        found = self._all(
            "SELECT * FROM time_entries WHERE ticket_number = ? ORDER BY id", (number,)
        )
        return [rows.time_entry_from(row) for row in found]

    # Question log

    def log_question(
        self,
        customer_id: int | None,
        question: str,
        *,
        language: Lang,
        decision: str,
        candidates: Sequence[ScoredEntry] = (),
    ) -> LoggedQuestion:
        """Log a question with the bot's decision and the top candidates with their scores."""
        asked_at = self._clock().astimezone(UTC)
        with self.transaction():
            (row,) = self._for_customer(
                customer_id,
                "INSERT INTO questions (customer_id, asked_at, question, language, decision,"
                " candidates) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    customer_id,
                    time_text(asked_at),
                    question,
                    Lang(language).value,
                    str(decision),
                    jsontext.dumps([{"id": c.id, "score": c.score} for c in candidates]),
                ),
            )
        return LoggedQuestion(
            id=row["id"],
            customer_id=customer_id,
            asked_at=asked_at,
            question=question,
            language=Lang(language),
            decision=str(decision),
            candidates=tuple(ScoredEntry(str(c.id), float(c.score)) for c in candidates),
        )

    def set_feedback(self, question_id: int, feedback: str) -> None:
        """Record the customer's feedback on the answer to a logged question."""
        with self.transaction():
            cursor = self._execute(
                "UPDATE questions SET feedback = ? WHERE id = ?", (feedback, question_id)
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"no logged question {question_id}")

    def questions(self) -> list[LoggedQuestion]:
        """Return the question log, oldest first."""
        found = self._all("SELECT * FROM questions ORDER BY id", ())
        return [rows.question_from(row) for row in found]

    # Erasure

    def forget_customer(self, customer_id: int) -> ForgetSummary:
        """Erase a customer's personal data; keep consent and billing records, anonymised.

        Erased: conversation state, name and username, the text of their logged questions
        (the decision and scores stay, detached from them), their messages in tickets with
        attachments, and their tickets' request, transcript and customer reference. Kept:
        consents (what they agreed to, with the exact text shown) and the tickets themselves
        with tier, times and billing, linked to the bare Telegram id.
        """
        with self._lock:
            with self.transaction():
                summary = self._erase(customer_id)
            if self._depth == 0:
                # secure_delete zeroes what the erasure freed in the database file; the old
                # pages still sit in the write-ahead log until a checkpoint copies them over.
                self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return summary

    def _erase(self, customer_id: int) -> ForgetSummary:
        customer = self.customer(customer_id)
        if customer is None:
            return ForgetSummary(customer_id, False, False, False, 0, 0, 0, 0, 0, 0)
        now = self._now()
        state = self._execute(
            "DELETE FROM conversation_states WHERE customer_id = ?", (customer_id,)
        )
        self._execute(
            "UPDATE customers SET name = NULL, username = NULL, forgotten_at = ? WHERE id = ?",
            (now, customer_id),
        )
        questions = self._execute(
            "UPDATE questions SET question = '', customer_id = NULL, erased_at = ?"
            " WHERE customer_id = ?",
            (now, customer_id),
        )
        messages = self._execute(
            "UPDATE ticket_messages SET text = '', attachment = NULL, erased_at = ?"
            " WHERE author_kind = 'customer' AND erased_at IS NULL AND ticket_number IN"
            " (SELECT number FROM tickets WHERE customer_id = ?)",
            (now, customer_id),
        )
        requests = self._execute(
            "UPDATE tickets SET request = '', transcript = '[]', customer_ref = NULL,"
            " erased_at = ?, updated_at = ? WHERE customer_id = ? AND erased_at IS NULL",
            (now, now, customer_id),
        )
        tickets = "SELECT count(*) FROM tickets WHERE customer_id = ?"
        return ForgetSummary(
            customer_id=customer_id,
            known=True,
            profile_erased=customer.name is not None or customer.username is not None,
            conversation_erased=state.rowcount > 0,
            questions_erased=questions.rowcount,
            messages_erased=messages.rowcount,
            requests_erased=requests.rowcount,
            consents_kept=self._count(
                "SELECT count(*) FROM consents WHERE customer_id = ?", customer_id
            ),
            tickets_kept=self._count(tickets, customer_id),
            billed_tickets_kept=self._count(f"{tickets} AND billed_units > 0", customer_id),
        )

    # Internals

    def _now(self) -> str:
        return time_text(self._clock())

    def _execute(
        self, sql: str, parameters: Sequence[object] | Mapping[str, object]
    ) -> sqlite3.Cursor:
        with self._lock:
            return self._connection.execute(sql, parameters)

    def _one(
        self, sql: str, parameters: Sequence[object] | Mapping[str, object]
    ) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._connection.execute(sql, parameters).fetchone()
            return row

    def _all(
        self, sql: str, parameters: Sequence[object] | Mapping[str, object]
    ) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def _count(self, sql: str, *parameters: object) -> int:
        with self._lock:
            return int(self._connection.execute(sql, parameters).fetchone()[0])

    def _message(self, message_id: int) -> TicketMessage:
        row = self._one("SELECT * FROM ticket_messages WHERE id = ?", (message_id,))
        if row is None:
            raise NotFoundError(f"no ticket message {message_id}")
        return rows.message_from(row)

    def _for_customer(
        self, customer_id: int | None, sql: str, parameters: Sequence[object]
    ) -> list[sqlite3.Row]:
        """Run a statement that writes a row of a customer's; the foreign key checks that
        the customer is recorded (one statement where a look-up first would take two)."""
        try:
            return self._all(sql, parameters)
        except sqlite3.IntegrityError as error:
            if customer_id is None or "FOREIGN KEY" not in str(error):
                raise
            raise _unknown_customer(customer_id) from None

    def _customer(self, customer_id: int) -> Customer:
        customer = self.customer(customer_id)
        if customer is None:
            raise _unknown_customer(customer_id)
        return customer

    def _question(self, question_id: int) -> LoggedQuestion:
        row = self._one("SELECT * FROM questions WHERE id = ?", (question_id,))
        if row is None:
            raise NotFoundError(f"no logged question {question_id}")
        return rows.question_from(row)

    def _check_consent(
        self, consent_id: int | None, customer_id: int, at: str, ticket_number: int | None
    ) -> None:
        """Raise ConsentError unless the consent authorises an extended ticket `at` that time."""
        if consent_id is None:
            raise ConsentError("an extended ticket needs the customer's agree consent first")
        row = self._one("SELECT * FROM consents WHERE id = ?", (consent_id,))
        if row is None:
            raise ConsentError(f"consent {consent_id} does not exist")
        consent = rows.consent_from(row)
        if consent.decision is not ConsentDecision.AGREE:
            raise ConsentError(f"consent {consent_id} is a decline, not an agreement")
        if consent.customer_id != customer_id:
            raise ConsentError(
                f"consent {consent_id} was given by customer {consent.customer_id},"
                f" not by customer {customer_id}"
            )
        if time_text(consent.decided_at) > at:
            raise ConsentError(f"consent {consent_id} was given after the ticket, not before")
        if consent.ticket_number not in (None, ticket_number):
            raise ConsentError(
                f"consent {consent_id} was asked for ticket {consent.ticket_number} only"
            )
        used = self._one(
            "SELECT number FROM tickets WHERE consent_id = ? AND number IS NOT ?",
            (consent_id, ticket_number),
        )
        if used is not None:
            raise ConsentError(f"consent {consent_id} already covers ticket {used['number']}")

    def _bill(self, ticket: Ticket, tariff: Tariff) -> Bill:
        if ticket.tier is Tier.STANDARD:
            return Bill(0, 0, Decimal(0), tariff.currency)
        if ticket.consent_id is None:  # pragma: no cover -- the triggers make this impossible
            raise ConsentError(f"extended ticket {ticket.number} has no consent")
        consent = self.consent(ticket.consent_id)
        # Work done while the ticket was still standard (before the customer agreed) is free.
        billable = self._count(
            "SELECT coalesce(sum(minutes), 0) FROM time_entries"
            " WHERE ticket_number = ? AND logged_at >= ?",
            ticket.number,
            time_text(consent.decided_at),
        )
        return consent.tariff.bill(billable)


_OUTER = "outer"
_JOINED = "joined"


class _Transaction:
    """TicketStore.transaction's context manager. A class, not a generator: a turn enters
    about ten (each store call opens one, most joining the turn's), and a generator's
    enter and exit cost several times as much."""

    __slots__ = ("_all_or_nothing", "_level", "_store")

    def __init__(self, store: TicketStore, all_or_nothing: bool) -> None:
        self._store = store
        self._all_or_nothing = all_or_nothing
        self._level = ""

    def __enter__(self) -> None:
        self._level = self._store._enter(self._all_or_nothing)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._store._leave(self._level, failed=kind is not None)


def _configure(connection: sqlite3.Connection, busy_timeout: float) -> None:
    connection.row_factory = sqlite3.Row
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000):d}")
    connection.execute("PRAGMA foreign_keys = ON")
    # Erased personal data must not linger in free pages of the file.
    connection.execute("PRAGMA secure_delete = ON")
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise SchemaError(f"cannot switch the database to WAL mode (it stays in {mode!r})")
    # In WAL mode NORMAL loses no committed data on a crash, only on power loss.
    connection.execute("PRAGMA synchronous = NORMAL")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _unknown_customer(customer_id: int) -> NotFoundError:
    return NotFoundError(f"customer {customer_id} is not known: record them first")


def _last_id(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:  # pragma: no cover -- only after an INSERT
        raise RuntimeError("no row was inserted")
    return cursor.lastrowid


def _check_minutes(minutes: int, *, allow_zero: bool) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise TypeError(f"minutes must be an int, not {minutes!r}")
    if minutes < 0 or (minutes == 0 and not allow_zero):
        lowest = "0 or more" if allow_zero else "more than 0"
        raise ValueError(f"minutes must be {lowest}, got {minutes}")


def _check_move(ticket: Ticket, target: TicketStatus, action: str) -> None:
    if not ticket.status.can_become(target):
        raise TransitionError(f"cannot {action} ticket {ticket.number}: it is {ticket.status}")
