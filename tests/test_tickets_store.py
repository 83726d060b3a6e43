"""The ticket store: one SQLite file, migrated, transactional, and a ticket's whole life."""

from __future__ import annotations

import hashlib
import inspect
import sqlite3
import threading
import time as time_module
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import START, Clock

from bot.content.model import Lang, Tier
from bot.tickets.errors import NotFoundError, SchemaError, TransitionError
from bot.tickets.model import (
    AuthorKind,
    ConsentDecision,
    ScoredEntry,
    Ticket,
    TicketStatus,
    TranscriptStep,
)
from bot.tickets.protocol import ConversationStore
from bot.tickets.schema import (
    MIGRATIONS,
    TIME_FORMAT,
    Migration,
    migrate,
    parse_time,
    schema_version,
    time_text,
)
from bot.tickets.sla import BusinessHours, FirstResponse
from bot.tickets.store import TicketStore
from bot.triage.billing import Tariff

TARIFF = Tariff("25.00", "EUR", 15)
DUE = START + timedelta(hours=4)
ANNA = 501
BERT = 502
AGENT = 42
TABLES = {
    "customers",
    "conversation_states",
    "tickets",
    "ticket_messages",
    "consents",
    "questions",
    "time_entries",
    "staff_threads",
    "staff_messages",
    "outbox",
}


def customer(store: TicketStore, customer_id: int = ANNA, name: str = "Anna Muster") -> int:
    """Record a German-speaking customer and return their id."""
    store.upsert_customer(
        customer_id, language=Lang.DE, name=name, username=name.split(maxsplit=1)[0]
    )
    return customer_id


def extended_ticket(store: TicketStore, customer_id: int = ANNA, tariff: Tariff = TARIFF) -> Ticket:
    """Record the customer's agreement to the tariff, then open an extended ticket on it."""
    consent = store.record_consent(
        customer_id,
        ConsentDecision.AGREE,
        tariff,
        text=f"Extended support costs {tariff.rate} {tariff.currency} per started quarter hour.",
        template="cost_notice",
        template_version="en/1",
    )
    return store.create_ticket(
        customer_id,
        tier=Tier.EXTENDED,
        request="My website shows a blank page since I edited the theme.",
        due=DUE,
        consent_id=consent.id,
    )


def standard_ticket(store: TicketStore, customer_id: int = ANNA) -> Ticket:
    """Open a standard (free) ticket."""
    return store.create_ticket(
        customer_id, tier=Tier.STANDARD, request="The mail server rejects my login.", due=DUE
    )


def tables(connection: sqlite3.Connection) -> set[str]:
    """Return the names of the user tables in a database."""
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows} - {"sqlite_sequence"}


# Opening and migrations


def test_open_creates_the_file_and_its_folder(database: Path) -> None:
    """Opening a path in a folder that does not exist creates both."""
    assert not database.parent.exists()
    with TicketStore.open(database):
        assert database.is_file()


def test_new_database_is_migrated_to_the_latest_version(store: TicketStore) -> None:
    """A new file gets every table and the latest schema version."""
    assert schema_version(store.connection) == MIGRATIONS[-1].version
    assert tables(store.connection) == TABLES


def test_a_version_1_file_is_migrated_and_keeps_its_data(database: Path) -> None:
    """A database from the first release gets the staff-thread tables and keeps customers."""
    database.parent.mkdir()
    connection = sqlite3.connect(database, isolation_level=None)
    migrate(connection, MIGRATIONS[:1])
    connection.execute(
        "INSERT INTO customers (id, name, username, language, created_at)"
        " VALUES (1, 'Alt', NULL, 'de', '2026-01-01T00:00:00.000000Z')"
    )
    connection.close()
    with TicketStore.open(database) as store:
        assert schema_version(store.connection) == MIGRATIONS[-1].version
        assert tables(store.connection) == TABLES
        assert store.customer(1) is not None


def test_reopening_migrates_nothing_and_keeps_the_data(database: Path) -> None:
    """Opening an up-to-date file again applies no migration and loses nothing."""
    with TicketStore.open(database) as store:
        customer(store)
    with TicketStore.open(database) as store:
        assert migrate(store.connection) == (MIGRATIONS[-1].version, MIGRATIONS[-1].version)
        assert store.customer(ANNA) is not None


def test_wal_foreign_keys_and_busy_timeout_are_on(store: TicketStore) -> None:
    """The connection runs in WAL mode, enforces foreign keys and waits on a busy file."""
    connection = store.connection
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    assert connection.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_foreign_keys_are_enforced(store: TicketStore) -> None:
    """A ticket for a customer that does not exist is refused by the database itself."""
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        store.connection.execute(
            "INSERT INTO tickets (customer_id, tier, request, sla_due_at, created_at, updated_at)"
            " VALUES (999, 'standard', 'x', :t, :t, :t)",
            {"t": "2026-06-15T08:00:00.000000Z"},
        )


def test_a_newer_schema_is_refused_with_a_clear_error(database: Path) -> None:
    """A file written by a newer triagebot is not touched: the error names file and versions."""
    with TicketStore.open(database) as store:
        store.connection.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaError) as caught:
        TicketStore.open(database)
    message = str(caught.value)
    assert str(database) in message
    assert "99" in message
    assert "newer" in message
    assert "\n" not in message


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    """A migration step that fails rolls back every step of that run, version included."""
    connection = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    broken = Migration(2, "broken", ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(sqlite3.OperationalError):
        migrate(connection, (*MIGRATIONS[:1], broken))
    assert schema_version(connection) == 0
    assert tables(connection) == set()
    connection.close()


def test_migrations_apply_only_the_pending_steps(tmp_path: Path) -> None:
    """Version 1 on file plus a new step 2: only step 2 runs, and the version becomes 2."""
    connection = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    assert migrate(connection, MIGRATIONS[:1]) == (0, 1)
    step = Migration(2, "an extra table", ("CREATE TABLE extra (x INTEGER) STRICT",))
    assert migrate(connection, (*MIGRATIONS[:1], step)) == (1, 2)
    assert "extra" in tables(connection)
    connection.close()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    """The shipped steps are 1, 2, 3...; a list with a gap is refused."""
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    with pytest.raises(ValueError, match="numbered"):
        migrate(sqlite3.connect(":memory:"), (Migration(2, "gap", ()),))


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """Pointing the store at some other file stops with one line naming it."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just notes " * 100, encoding="utf-8")
    with pytest.raises(SchemaError, match=r"notes\.txt"):
        TicketStore.open(path)


def test_open_without_create_refuses_a_missing_file(database: Path) -> None:
    """`create=False` reports a missing database instead of making an empty one."""
    with pytest.raises(NotFoundError, match="not found"):
        TicketStore.open(database, create=False)
    assert not database.exists()


# Transactions


def test_a_transaction_rolls_back_every_change_on_error(store: TicketStore) -> None:
    """An exception inside transaction() undoes all of its writes and is re-raised."""
    customer(store)

    def ticket_then_crash() -> None:
        with store.transaction():
            standard_ticket(store)
            store.put_state(ANNA, {"step": "ticket"})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        ticket_then_crash()
    assert store.tickets() == []
    assert store.get_state(ANNA) is None


def test_a_transaction_commits_all_changes_together(store: TicketStore, database: Path) -> None:
    """Changes in one transaction are invisible to other connections until it commits."""
    customer(store)
    other = sqlite3.connect(database)
    with store.transaction():
        standard_ticket(store)
        standard_ticket(store)
        assert other.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0
    assert other.execute("SELECT count(*) FROM tickets").fetchone()[0] == 2
    other.close()


def test_a_nested_transaction_rolls_back_only_its_own_changes(store: TicketStore) -> None:
    """A failing inner block (a savepoint) is undone; the outer block still commits."""
    customer(store)

    def inner_crash() -> None:
        with store.transaction():
            standard_ticket(store)
            raise RuntimeError("inner")

    with store.transaction():
        kept = standard_ticket(store)
        with pytest.raises(RuntimeError, match="inner"):
            inner_crash()
    assert [t.number for t in store.tickets()] == [kept.number]


def test_a_failing_write_leaves_no_partial_change(store: TicketStore) -> None:
    """A write method that fails halfway (closing with bad minutes) changes nothing."""
    customer(store)
    ticket = standard_ticket(store)
    with pytest.raises(ValueError, match="minutes"):
        store.close_ticket(ticket.number, -5, TARIFF)
    assert store.ticket(ticket.number).status is TicketStatus.OPEN


def test_a_second_process_waits_for_the_write_lock(database: Path) -> None:
    """Bot and CLI on one file: a writer waits (busy timeout) for the other's transaction."""
    first = TicketStore.open(database)
    second = TicketStore.open(database)
    customer(first)
    holding = threading.Event()
    numbers: list[int] = []

    def hold_the_lock() -> None:
        with first.transaction():
            numbers.append(standard_ticket(first).number)
            holding.set()
            time_module.sleep(0.3)

    worker = threading.Thread(target=hold_the_lock)
    worker.start()
    holding.wait()
    numbers.append(standard_ticket(second).number)  # blocks until the first one commits
    worker.join()
    assert numbers == [1001, 1002]
    assert [t.number for t in second.tickets()] == [1001, 1002]
    first.close()
    second.close()


def test_one_store_serves_several_threads(store: TicketStore) -> None:
    """Writes from many threads through one store neither interleave nor get lost."""
    customer(store)

    def write_ten() -> None:
        for _ in range(10):
            with store.transaction():
                number = standard_ticket(store).number
                store.add_message(number, AuthorKind.BOT, f"ticket {number}")

    workers = [threading.Thread(target=write_ten) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    tickets = store.tickets()
    assert len(tickets) == 40
    for ticket in tickets:
        assert [m.text for m in store.messages(ticket.number)] == [f"ticket {ticket.number}"]


def test_writes_outside_a_transaction_commit_at_once(store: TicketStore, database: Path) -> None:
    """Each write method commits by itself when no transaction is open."""
    customer(store)
    standard_ticket(store)
    other = sqlite3.connect(database)
    assert other.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    other.close()


# Tickets and the status machine


def test_ticket_numbers_start_at_1001_and_count_up(store: TicketStore) -> None:
    """Ticket numbers are short, human-friendly and unique: 1001, 1002, ..."""
    customer(store)
    numbers = [standard_ticket(store).number for _ in range(3)]
    assert numbers == [1001, 1002, 1003]


def test_create_ticket_stores_everything_given(store: TicketStore) -> None:
    """Every field given to create_ticket comes back from the database."""
    customer(store)
    steps = (
        TranscriptStep("Website weiß", "suggest", ("website-leer", "php-fehler"), "none"),
        TranscriptStep("Mitarbeiter bitte", "handoff"),
    )
    ticket = store.create_ticket(
        ANNA,
        tier=Tier.STANDARD,
        request="Die Seite ist weiß.",
        due=DUE,
        category="Webhosting",
        transcript=steps,
        customer_ref="example.org",
    )
    again = store.ticket(ticket.number)
    assert again == ticket
    assert again.transcript == steps
    assert (again.status, again.tier, again.category) == (
        TicketStatus.OPEN,
        Tier.STANDARD,
        "Webhosting",
    )
    assert again.customer_ref == "example.org"
    assert (again.created_at, again.sla_due, again.bill) == (START, DUE, None)


def test_sla_due_from_business_hours_is_stored_in_utc(store: TicketStore, clock: Clock) -> None:
    """The due time the caller computes with FirstResponse is stored as that UTC instant."""
    customer(store)
    berlin = ZoneInfo("Europe/Berlin")
    hours = BusinessHours("Europe/Berlin", frozenset(range(5)), time(8), time(18), "DE")
    friday_evening = datetime(2026, 6, 19, 17, 0, tzinfo=berlin)
    clock.now = friday_evening.astimezone(UTC)
    due = FirstResponse(240, 480).due(hours, clock.now, Tier.STANDARD)
    ticket = store.create_ticket(ANNA, tier=Tier.STANDARD, request="x", due=due)
    assert store.ticket(ticket.number).sla_due == datetime(2026, 6, 22, 11, 0, tzinfo=berlin)
    stored = store.connection.execute("SELECT sla_due_at FROM tickets").fetchone()[0]
    assert stored == "2026-06-22T09:00:00.000000Z"


def test_a_naive_due_time_is_refused(store: TicketStore) -> None:
    """A due time without a timezone is ambiguous and refused."""
    customer(store)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.create_ticket(ANNA, tier=Tier.STANDARD, request="x", due=datetime(2026, 6, 15, 12))


def test_a_ticket_walks_the_status_machine(store: TicketStore) -> None:
    """open → claimed (agent set) → waiting → claimed → closed → open."""
    customer(store)
    number = standard_ticket(store).number
    claimed = store.claim(number, AGENT)
    assert (claimed.status, claimed.agent_id) == (TicketStatus.CLAIMED, AGENT)
    assert store.mark_waiting(number).status is TicketStatus.WAITING
    assert store.claim(number, AGENT + 1).agent_id == AGENT + 1
    closed = store.close_ticket(number, 0, TARIFF)
    assert closed.status is TicketStatus.CLOSED
    assert closed.closed_at is not None
    reopened = store.reopen(number)
    assert (reopened.status, reopened.closed_at, reopened.bill) == (TicketStatus.OPEN, None, None)


@pytest.mark.parametrize(
    ("steps", "action", "words"),
    [
        ((), "mark_waiting", "cannot mark as waiting ticket 1001: it is open"),
        ((), "reopen", "cannot reopen ticket 1001: it is open"),
        (("claim",), "claim", "already claimed by agent 42"),
        (("claim", "close"), "claim", "cannot claim ticket 1001: it is closed"),
        (("close",), "close", "cannot close ticket 1001: it is closed"),
        (("close",), "mark_waiting", "it is closed"),
        (("close",), "log_time", "reopen it to log time"),
        (("close",), "set_tier", "reopen it to change its tier"),
    ],
)
def test_invalid_transitions_raise_a_clear_error(
    store: TicketStore, steps: tuple[str, ...], action: str, words: str
) -> None:
    """Each move the status machine forbids raises TransitionError saying what and why."""
    customer(store)
    number = standard_ticket(store).number
    actions = {
        "claim": lambda: store.claim(number, AGENT),
        "mark_waiting": lambda: store.mark_waiting(number),
        "reopen": lambda: store.reopen(number),
        "close": lambda: store.close_ticket(number, 0, TARIFF),
        "log_time": lambda: store.log_time(number, AGENT, 5),
        "set_tier": lambda: store.set_tier(number, Tier.EXTENDED),
    }
    for step in steps:
        actions[step]()
    before = store.ticket(number)
    with pytest.raises(TransitionError, match=words):
        actions[action]()
    assert store.ticket(number) == before


def test_the_database_refuses_a_status_change_the_machine_forbids(store: TicketStore) -> None:
    """Even direct SQL cannot move a ticket from open straight to waiting."""
    customer(store)
    number = standard_ticket(store).number
    with pytest.raises(sqlite3.IntegrityError, match="status machine"):
        store.connection.execute(
            "UPDATE tickets SET status = 'waiting', agent_id = 1 WHERE number = ?", (number,)
        )


def test_tickets_cannot_be_deleted(store: TicketStore) -> None:
    """Tickets are billing records: the database refuses to delete one."""
    customer(store)
    standard_ticket(store)
    with pytest.raises(sqlite3.IntegrityError, match="never delete"):
        store.connection.execute("DELETE FROM tickets")


def test_unknown_ticket_is_a_not_found_error(store: TicketStore) -> None:
    """Asking for a ticket number that does not exist names the number."""
    with pytest.raises(NotFoundError, match="no ticket 4711"):
        store.ticket(4711)


# Time and billing


def test_closing_an_extended_ticket_bills_started_increments(store: TicketStore) -> None:
    """20 minutes at 25.00 per started 15 minutes are 2 units, 50.00 EUR, stored exactly."""
    customer(store)
    number = extended_ticket(store).number
    closed = store.close_ticket(number, 20, TARIFF, agent_id=AGENT)
    assert closed.bill is not None
    assert (closed.bill.minutes, closed.bill.units) == (20, 2)
    assert closed.bill.amount == Decimal("50.00")
    assert closed.bill.currency == "EUR"
    stored = store.connection.execute(
        "SELECT billed_units, billed_amount, billed_currency FROM tickets"
    ).fetchone()
    assert tuple(stored) == (2, "50.00", "EUR")


def test_closing_a_standard_ticket_bills_nothing(store: TicketStore) -> None:
    """A standard ticket closes with 0 units and amount 0, however long it took."""
    customer(store)
    number = standard_ticket(store).number
    closed = store.close_ticket(number, 95, TARIFF)
    assert closed.bill is not None
    assert (closed.minutes_logged, closed.bill.units, closed.bill.amount) == (95, 0, Decimal(0))


def test_closing_with_zero_minutes_bills_zero_units(store: TicketStore) -> None:
    """An extended ticket closed with no time logged costs nothing."""
    customer(store)
    closed = store.close_ticket(extended_ticket(store).number, 0, TARIFF)
    assert closed.bill is not None
    assert (closed.bill.units, closed.bill.amount) == (0, Decimal(0))


def test_log_time_accumulates_and_close_bills_the_total(store: TicketStore) -> None:
    """5 + 7 minutes logged, 4 more on close: 16 minutes, 2 started quarter hours."""
    customer(store)
    number = extended_ticket(store).number
    store.log_time(number, AGENT, 5)
    assert store.log_time(number, AGENT + 1, 7).minutes_logged == 12
    closed = store.close_ticket(number, 4, TARIFF, agent_id=AGENT)
    assert closed.bill is not None
    assert (closed.minutes_logged, closed.bill.units, closed.bill.amount) == (
        16,
        2,
        Decimal("50.00"),
    )
    entries = store.time_entries(number)
    assert [(e.agent_id, e.minutes) for e in entries] == [(AGENT, 5), (AGENT + 1, 7), (AGENT, 4)]


@pytest.mark.parametrize("minutes", [0, -1])
def test_log_time_needs_positive_minutes(store: TicketStore, minutes: int) -> None:
    """Logging no time or negative time is a mistake, not a time entry."""
    customer(store)
    number = standard_ticket(store).number
    with pytest.raises(ValueError, match="minutes"):
        store.log_time(number, AGENT, minutes)
    assert store.time_entries(number) == []


def test_the_bill_uses_the_terms_the_customer_agreed_to(store: TicketStore) -> None:
    """If the configured rate changed since the consent, the consented rate is billed."""
    customer(store)
    number = extended_ticket(store, tariff=Tariff("20.00", "EUR", 10)).number
    closed = store.close_ticket(number, 25, Tariff("99.00", "EUR", 15))
    assert closed.bill is not None
    assert (closed.bill.units, closed.bill.amount) == (3, Decimal("60.00"))


def test_work_before_the_customer_agreed_is_not_billed(store: TicketStore, clock: Clock) -> None:
    """Raised to extended after 30 free minutes, then 20 more: only the 20 are billed."""
    customer(store)
    number = standard_ticket(store).number
    store.log_time(number, AGENT, 30)
    clock.advance(minutes=30)
    agreed = store.record_consent(
        ANNA,
        ConsentDecision.AGREE,
        TARIFF,
        text="Raising your ticket to billed support: 25.00 EUR per started quarter hour.",
        template="tier_changed",
        template_version="en/1",
        ticket_number=number,
    )
    store.set_tier(number, Tier.EXTENDED, consent_id=agreed.id)
    clock.advance(minutes=20)
    closed = store.close_ticket(number, 20, TARIFF, agent_id=AGENT)
    assert closed.bill is not None
    assert (closed.minutes_logged, closed.bill.minutes, closed.bill.units) == (50, 20, 2)
    assert closed.bill.amount == Decimal("50.00")


def test_reopening_clears_the_bill_and_closing_again_bills_all_minutes(
    store: TicketStore,
) -> None:
    """A reopened ticket is billed anew on all its minutes when it closes again."""
    customer(store)
    number = extended_ticket(store).number
    store.close_ticket(number, 10, TARIFF)
    assert store.reopen(number).bill is None
    closed = store.close_ticket(number, 10, TARIFF)
    assert closed.bill is not None
    assert (closed.minutes_logged, closed.bill.units) == (20, 2)


def test_a_closed_tickets_bill_cannot_be_changed(store: TicketStore) -> None:
    """Direct SQL cannot alter the minutes, bill or tier of a closed ticket."""
    customer(store)
    number = extended_ticket(store).number
    store.close_ticket(number, 20, TARIFF)
    for change in ("billed_amount = '1.00'", "minutes_logged = 1", "tier = 'standard'"):
        with pytest.raises(sqlite3.IntegrityError, match="closed ticket"):
            store.connection.execute(f"UPDATE tickets SET {change} WHERE number = ?", (number,))


def test_only_extended_tickets_can_carry_a_bill(store: TicketStore) -> None:
    """The database refuses billed units on a standard ticket."""
    customer(store)
    number = standard_ticket(store).number
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.connection.execute(
            "UPDATE tickets SET status = 'closed', closed_at = updated_at, billed_units = 2,"
            " billed_amount = '50.00', billed_currency = 'EUR' WHERE number = ?",
            (number,),
        )


# Queries


def test_open_tickets_of_a_customer(store: TicketStore) -> None:
    """open_tickets lists the customer's tickets that are not closed, and nobody else's."""
    customer(store)
    customer(store, BERT, "Bert Beispiel")
    first = standard_ticket(store)
    closed = standard_ticket(store)
    store.close_ticket(closed.number, 0, TARIFF)
    claimed = extended_ticket(store)
    store.claim(claimed.number, AGENT)
    standard_ticket(store, BERT)
    assert [t.number for t in store.open_tickets(ANNA)] == [first.number, claimed.number]


def test_tickets_can_be_filtered_by_status(store: TicketStore) -> None:
    """tickets() lists all by number; with a status, only those."""
    customer(store)
    numbers = [standard_ticket(store).number for _ in range(3)]
    store.claim(numbers[1], AGENT)
    assert [t.number for t in store.tickets()] == numbers
    assert [t.number for t in store.tickets(TicketStatus.OPEN)] == [numbers[0], numbers[2]]
    assert [t.number for t in store.tickets(TicketStatus.CLAIMED)] == [numbers[1]]
    assert store.tickets(TicketStatus.CLOSED) == []


def test_messages_come_back_in_order_with_attachments(store: TicketStore, clock: Clock) -> None:
    """A ticket's thread lists each message with author, text and attachment, oldest first."""
    customer(store)
    number = standard_ticket(store).number
    photo = {"kind": "photo", "file_id": "AgADBAAD", "file_name": None}
    store.add_message(
        number, AuthorKind.CUSTOMER, "Screenshot anbei", author_id=ANNA, attachment=photo
    )
    clock.advance(minutes=3)
    store.add_message(number, AuthorKind.AGENT, "Danke, ich schaue es mir an.", author_id=AGENT)
    store.add_message(number, AuthorKind.NOTE, "# PHP 8 Problem?", author_id=AGENT)
    store.add_message(number, AuthorKind.BOT, "Ticket 1001 erstellt.")
    thread = store.messages(number)
    assert [(m.author_kind, m.author_id) for m in thread] == [
        (AuthorKind.CUSTOMER, ANNA),
        (AuthorKind.AGENT, AGENT),
        (AuthorKind.NOTE, AGENT),
        (AuthorKind.BOT, None),
    ]
    assert thread[0].attachment == photo
    assert thread[0].text == "Screenshot anbei"
    assert thread[1].created_at == START + timedelta(minutes=3)


def test_a_message_for_an_unknown_ticket_is_refused(store: TicketStore) -> None:
    """Messages belong to a ticket that exists."""
    with pytest.raises(NotFoundError, match="no ticket 1234"):
        store.add_message(1234, AuthorKind.AGENT, "hello")


def test_consents_of_a_customer_and_of_a_ticket(store: TicketStore) -> None:
    """A ticket's consents are the one it was created on and those asked to raise it."""
    customer(store)
    declined = store.record_consent(
        ANNA,
        ConsentDecision.DECLINE,
        TARIFF,
        text="notice",
        template="cost_notice",
        template_version="1",
    )
    ticket = extended_ticket(store)
    standard = standard_ticket(store)
    raise_asked = store.record_consent(
        ANNA,
        ConsentDecision.DECLINE,
        TARIFF,
        text="notice",
        template="tier_changed",
        template_version="1",
        ticket_number=standard.number,
    )
    assert ticket.consent_id is not None
    assert [c.id for c in store.consents_of_customer(ANNA)] == [
        declined.id,
        ticket.consent_id,
        raise_asked.id,
    ]
    assert [c.id for c in store.consents_of_ticket(ticket.number)] == [ticket.consent_id]
    assert [c.id for c in store.consents_of_ticket(standard.number)] == [raise_asked.id]


def test_a_consent_keeps_the_exact_text_and_its_hash(store: TicketStore) -> None:
    """The consent record holds decision, UTC time, terms, the exact text, template and sha256."""
    customer(store)
    text = "Erweiterter Support: <b>25,00 €</b> je angefangene Viertelstunde."
    consent = store.record_consent(
        ANNA,
        ConsentDecision.AGREE,
        TARIFF,
        text=text,
        template="cost_notice",
        template_version="de/7",
    )
    again = store.consent(consent.id)
    assert again == consent
    assert (again.decision, again.decided_at) == (ConsentDecision.AGREE, START)
    assert (again.rate, again.currency, again.increment_minutes) == (Decimal("25.00"), "EUR", 15)
    assert (again.text, again.template, again.template_version) == (text, "cost_notice", "de/7")
    assert again.text_sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert again.tariff == TARIFF


# Conversation state and question log


def test_conversation_state_is_saved_and_replaced(store: TicketStore, clock: Clock) -> None:
    """put_state stores a JSON object per customer; the latest put wins."""
    customer(store)
    assert store.get_state(ANNA) is None
    store.put_state(ANNA, {"step": "ask_tier", "offered": ["a", "b"], "lang": "de"})
    clock.advance(seconds=30)
    store.put_state(ANNA, {"step": "cost_notice", "nested": {"tier": "extended"}})
    state = store.get_state(ANNA)
    assert state is not None
    assert state.data == {"step": "cost_notice", "nested": {"tier": "extended"}}
    assert state.updated_at == START + timedelta(seconds=30)


def test_glance_reads_one_state_value_and_whether_a_ticket_is_open(store: TicketStore) -> None:
    """glance gives one top-level value of the saved state and whether a ticket is not
    closed (waiting for the customer counts as open); unknown customers get (None, False)."""
    assert store.glance(77, "step") == (None, False)
    customer(store)
    assert store.glance(ANNA, "step") == (None, False)
    store.put_state(ANNA, {"step": "consent", "lang": "de", "last": {"log_id": 3}})
    assert store.glance(ANNA, "step") == ("consent", False)
    assert store.glance(ANNA, "missing") == (None, False)
    ticket = standard_ticket(store)
    assert store.glance(ANNA, "lang") == ("de", True)
    store.claim(ticket.number, AGENT)
    store.mark_waiting(ticket.number)
    assert store.glance(ANNA, "step") == ("consent", True)
    store.close_ticket(ticket.number, 0, TARIFF)
    assert store.glance(ANNA, "step") == ("consent", False)
    assert store.glance(customer(store, BERT), "step") == (None, False)


def test_state_for_an_unknown_customer_is_refused(store: TicketStore) -> None:
    """Conversation state and logged questions belong to a recorded customer (the foreign
    key says so; the error names the customer). Nothing is written."""
    with pytest.raises(NotFoundError, match="customer 77 is not known"):
        store.put_state(77, {"step": "greeting"})
    with pytest.raises(NotFoundError, match="customer 77 is not known"):
        store.log_question(77, "Passwort?", language=Lang.DE, decision="answer")
    assert store.get_state(77) is None
    assert store.questions() == []


def test_upserting_a_customer_updates_name_and_language(store: TicketStore, clock: Clock) -> None:
    """A known customer's name, username and language are updated; created_at stays."""
    customer(store)
    clock.advance(days=1)
    again = store.upsert_customer(ANNA, language=Lang.EN, name="Anna M.", username=None)
    assert (again.name, again.username, again.language) == ("Anna M.", None, Lang.EN)
    assert again.created_at == START


def test_questions_are_logged_with_candidates_and_feedback(store: TicketStore) -> None:
    """Each question is logged with decision, language, scored candidates and later feedback."""
    customer(store)
    logged = store.log_question(
        ANNA,
        "Wie ändere ich mein Passwort?",
        language=Lang.DE,
        decision="answer",
        candidates=(ScoredEntry("kundencenter-passwort-aendern", 0.91), ScoredEntry("mail", 0.2)),
    )
    anonymous = store.log_question(None, "Wetter?", language=Lang.DE, decision="abstain")
    store.set_feedback(logged.id, "helped")
    questions = store.questions()
    assert [q.id for q in questions] == [logged.id, anonymous.id]
    assert questions[0].candidates == logged.candidates
    assert questions[0].feedback == "helped"
    assert (questions[1].customer_id, questions[1].candidates) == (None, ())
    with pytest.raises(NotFoundError):
        store.set_feedback(999, "helped")


# Restart and interface


def test_everything_survives_closing_and_reopening_the_file(database: Path, clock: Clock) -> None:
    """A restart (close the store, open the file again) finds every record as it was."""
    with TicketStore.open(database, clock=clock) as store:
        customer(store)
        store.put_state(ANNA, {"step": "ticket_open", "ticket": 1001})
        ticket = extended_ticket(store)
        store.claim(ticket.number, AGENT)
        store.add_message(ticket.number, AuthorKind.CUSTOMER, "Noch da?", author_id=ANNA)
        store.log_question(ANNA, "Seite weiß", language=Lang.DE, decision="suggest")
        clock.advance(minutes=20)
        closed = store.close_ticket(ticket.number, 20, TARIFF, agent_id=AGENT)
        before = (
            store.customer(ANNA),
            store.get_state(ANNA),
            closed,
            store.messages(ticket.number),
            store.consents_of_ticket(ticket.number),
            store.time_entries(ticket.number),
            store.questions(),
        )
    with TicketStore.open(database, clock=clock) as store:
        after = (
            store.customer(ANNA),
            store.get_state(ANNA),
            store.ticket(ticket.number),
            store.messages(ticket.number),
            store.consents_of_ticket(ticket.number),
            store.time_entries(ticket.number),
            store.questions(),
        )
        assert after == before
        assert standard_ticket(store).number == ticket.number + 1


def test_ticket_store_implements_the_conversation_store_protocol() -> None:
    """Every method of the ConversationStore protocol exists on TicketStore with its signature."""
    members = [
        name
        for name, _ in inspect.getmembers(ConversationStore, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert "create_ticket" in members
    for name in members:
        expected = inspect.signature(getattr(ConversationStore, name)).parameters
        assert inspect.signature(getattr(TicketStore, name)).parameters == expected, name
    assert ConversationStore in TicketStore.__mro__


def test_every_time_is_stored_as_fixed_width_utc_text(store: TicketStore) -> None:
    """Stored times are UTC with microseconds and a Z, so comparing text compares instants."""
    customer(store)
    extended_ticket(store)
    row = store.connection.execute(
        "SELECT created_at, updated_at, sla_due_at FROM tickets"
    ).fetchone()
    assert tuple(row) == (
        "2026-06-15T08:00:00.000000Z",
        "2026-06-15T08:00:00.000000Z",
        "2026-06-15T12:00:00.000000Z",
    )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.connection.execute("UPDATE tickets SET sla_due_at = '2026-06-15 12:00'")


# Waiting for another process's write


def _hold_write_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    """Hold the database's write lock from another connection for a while."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        time_module.sleep(seconds)
        other.execute("COMMIT")
    finally:
        other.close()


def _while_another_writes(
    store: TicketStore, path: Path, write: Callable[[], object]
) -> tuple[float, list[str]]:
    """Run a write while another connection holds the write lock for 50 ms; return how
    long it took and the statements the store ran."""
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.05, locked))
    holder.start()
    locked.wait()
    statements: list[str] = []
    store.connection.raw.set_trace_callback(statements.append)
    started = time_module.monotonic()
    try:
        write()
    finally:
        store.connection.raw.set_trace_callback(None)
        holder.join()
    return time_module.monotonic() - started, statements


def test_a_transaction_waits_for_another_writer(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE tries again in short steps while another connection writes."""
    path = tmp_path / "t.sqlite3"
    with TicketStore.open(path) as store:

        def write() -> None:
            with store.transaction():
                store.upsert_customer(ANNA, language=Lang.DE, name="Anna", username=None)

        waited, statements = _while_another_writes(store, path, write)
        assert 0.04 < waited < 1.0
        assert store.customer(ANNA) is not None
        # The store's own tries, not one BEGIN sleeping in SQLite's busy handler.
        assert statements[0] == "PRAGMA busy_timeout = 0"
        assert statements.count("BEGIN IMMEDIATE") > 3


RENAME = "UPDATE customers SET name = :name WHERE id = :id"


def test_a_lone_write_waits_for_another_writer_and_joins_a_transaction(tmp_path: Path) -> None:
    """`write` outside a transaction is one statement, tried again in short steps while
    another connection writes; inside a transaction it is part of it (rolled back with it)."""
    path = tmp_path / "t.sqlite3"
    with TicketStore.open(path) as store:
        customer(store)
        waited, statements = _while_another_writes(
            store, path, lambda: store.write(RENAME, {"name": "A", "id": ANNA})
        )
        assert 0.04 < waited < 1.0
        assert statements[0] == "PRAGMA busy_timeout = 0"
        tries = [s for s in statements if s.startswith("UPDATE")]
        assert len(tries) > 3
        assert not [s for s in statements if s.startswith(("BEGIN", "COMMIT"))]
        assert store.connection.raw.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
        found = store.customer(ANNA)
        assert found is not None
        assert found.name == "A"

        def renamed_then_failed() -> None:
            with store.transaction():
                store.write(RENAME, {"name": "B", "id": ANNA})
                raise RuntimeError("undo")

        with pytest.raises(RuntimeError):
            renamed_then_failed()
        found = store.customer(ANNA)
        assert found is not None
        assert found.name == "A"


def test_a_transaction_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    """A writer that never lets go: the database is reported busy after the timeout."""
    path = tmp_path / "t.sqlite3"
    with TicketStore.open(path, busy_timeout=0.2) as store:
        locked = threading.Event()
        holder = threading.Thread(target=_hold_write_lock, args=(path, 1.0, locked))
        holder.start()
        locked.wait()
        started = time_module.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"), store.transaction():
            pass
        assert 0.15 < time_module.monotonic() - started < 0.9
        holder.join()
        with store.transaction():  # the connection is usable again, with its timeout back
            assert store.connection.raw.execute("PRAGMA busy_timeout").fetchone()[0] == 200
        # The failed BEGIN let go of the store's lock: another thread gets it.
        other = threading.Thread(target=store.customer, args=(ANNA,))
        other.start()
        other.join(timeout=2.0)
        assert not other.is_alive()


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 27, 3, 12, 35, 368786, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2027, 6, 30, 23, 59, 59, 1, tzinfo=ZoneInfo("America/New_York")),
    ],
)
def test_time_text_writes_the_stored_format(moment: datetime) -> None:
    """The fast formatting writes exactly TIME_FORMAT, in UTC, and reads back."""
    assert time_text(moment) == moment.astimezone(UTC).strftime(TIME_FORMAT)
    assert parse_time(time_text(moment)) == moment


def test_an_all_or_nothing_transaction_takes_no_savepoints(store: TicketStore) -> None:
    """Nested blocks in an all-or-nothing transaction run without savepoints; a failure
    undoes everything, and the next transaction nests with savepoints again."""
    statements: list[str] = []
    store.connection.raw.set_trace_callback(statements.append)
    with store.transaction(all_or_nothing=True):
        store.upsert_customer(ANNA, language=Lang.DE, name="Anna", username=None)
        store.put_state(ANNA, {"step": "idle"})
    assert not [s for s in statements if s.startswith(("SAVEPOINT", "RELEASE"))]

    def failing_turn() -> None:
        with store.transaction(all_or_nothing=True):
            store.put_state(ANNA, {"step": "tier"})
            store.put_state(BERT, {"step": "idle"})  # BERT is unknown: fails

    with pytest.raises(NotFoundError):
        failing_turn()
    state = store.get_state(ANNA)
    assert state is not None
    assert state.data == {"step": "idle"}
    statements.clear()
    with store.transaction():
        store.put_state(ANNA, {"step": "consent"})
    assert any(s.startswith("SAVEPOINT") for s in statements)
    store.connection.raw.set_trace_callback(None)
