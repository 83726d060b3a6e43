"""The database schema as numbered migrations, applied in order under PRAGMA user_version."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.tickets.errors import SchemaError

# Every time is stored as UTC text of one fixed width, so that comparing the text compares
# the instants: the consent triggers below rely on it.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def time_text(moment: datetime) -> str:
    """Return an aware datetime as the UTC text the database stores."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"times must be timezone-aware, got naive {moment.isoformat()}")
    # isoformat is twice as fast as strftime(TIME_FORMAT), and writes the same text.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_time(text: str) -> datetime:
    """Return the aware UTC datetime of stored time text."""
    # fromisoformat reads the stored form (…T…Z) ten times faster than strptime.
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: the statements that take the database to `version`."""

    version: int
    description: str
    statements: tuple[str, ...]


# A migration, once released, never changes: a later change is a new migration. The GLOB
# pattern below is part of migration 1 for that reason, not a setting.
_UTC = (
    "GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]"
    ".[0-9][0-9][0-9][0-9][0-9][0-9]Z'"
)

_EXTENDED_NEEDS_CONSENT = "an extended ticket needs an agree consent of its customer, given before"

_VERSION_1 = Migration(
    1,
    "customers, conversation state, tickets, messages, consents, questions, time entries",
    (
        f"""
        CREATE TABLE customers (
            id           INTEGER PRIMARY KEY,  -- the Telegram user id
            name         TEXT,
            username     TEXT,
            language     TEXT NOT NULL CHECK (language IN ('de', 'en')),
            created_at   TEXT NOT NULL CHECK (created_at {_UTC}),
            forgotten_at TEXT CHECK (forgotten_at {_UTC})
        ) STRICT
        """,
        f"""
        CREATE TABLE conversation_states (
            customer_id INTEGER PRIMARY KEY REFERENCES customers (id),
            state       TEXT NOT NULL CHECK (json_valid(state) AND json_type(state) = 'object'),
            updated_at  TEXT NOT NULL CHECK (updated_at {_UTC})
        ) STRICT
        """,
        f"""
        CREATE TABLE consents (
            id                INTEGER PRIMARY KEY,
            customer_id       INTEGER NOT NULL REFERENCES customers (id),
            ticket_number     INTEGER REFERENCES tickets (number),  -- asked to raise this ticket
            decision          TEXT NOT NULL CHECK (decision IN ('agree', 'decline')),
            decided_at        TEXT NOT NULL CHECK (decided_at {_UTC}),
            rate              TEXT NOT NULL CHECK (rate <> ''),
            currency          TEXT NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
            increment_minutes INTEGER NOT NULL CHECK (increment_minutes >= 1),
            text              TEXT NOT NULL CHECK (text <> ''),
            template          TEXT NOT NULL CHECK (template <> ''),
            template_version  TEXT NOT NULL CHECK (template_version <> ''),
            text_sha256       TEXT NOT NULL CHECK (length(text_sha256) = 64)
        ) STRICT
        """,
        f"""
        CREATE TABLE tickets (
            number          INTEGER PRIMARY KEY AUTOINCREMENT,
            customer_id     INTEGER NOT NULL REFERENCES customers (id),
            status          TEXT NOT NULL DEFAULT 'open'
                            CHECK (status IN ('open', 'claimed', 'waiting', 'closed')),
            tier            TEXT NOT NULL CHECK (tier IN ('standard', 'extended')),
            category        TEXT NOT NULL DEFAULT '',
            request         TEXT NOT NULL,
            transcript      TEXT NOT NULL DEFAULT '[]'
                            CHECK (json_valid(transcript) AND json_type(transcript) = 'array'),
            customer_ref    TEXT,
            consent_id      INTEGER UNIQUE REFERENCES consents (id),
            sla_due_at      TEXT NOT NULL CHECK (sla_due_at {_UTC}),
            agent_id        INTEGER,
            minutes_logged  INTEGER NOT NULL DEFAULT 0 CHECK (minutes_logged >= 0),
            billed_minutes  INTEGER CHECK (billed_minutes >= 0),  -- logged after the consent
            billed_units    INTEGER CHECK (billed_units >= 0),
            billed_amount   TEXT,
            billed_currency TEXT,
            created_at      TEXT NOT NULL CHECK (created_at {_UTC}),
            updated_at      TEXT NOT NULL CHECK (updated_at {_UTC}),
            closed_at       TEXT CHECK (closed_at {_UTC}),
            erased_at       TEXT CHECK (erased_at {_UTC}),
            CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
            CHECK ((status = 'closed') = (billed_units IS NOT NULL)),
            CHECK ((billed_units IS NULL) = (billed_minutes IS NULL)),
            CHECK ((billed_units IS NULL) = (billed_amount IS NULL)),
            CHECK ((billed_units IS NULL) = (billed_currency IS NULL)),
            CHECK (status NOT IN ('claimed', 'waiting') OR agent_id IS NOT NULL),
            -- Only extended tickets are billed; a standard ticket's bill is 0 units.
            CHECK (billed_units IS NULL OR billed_units = 0 OR tier = 'extended')
        ) STRICT
        """,
        # Ticket numbers start at 1001: short enough to read out, never confused with a count.
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('tickets', 1000)",
        f"""
        CREATE TABLE ticket_messages (
            id            INTEGER PRIMARY KEY,
            ticket_number INTEGER NOT NULL REFERENCES tickets (number),
            author_kind   TEXT NOT NULL CHECK (author_kind IN ('customer', 'agent', 'bot', 'note')),
            author_id     INTEGER,
            text          TEXT NOT NULL,
            attachment    TEXT CHECK (
                attachment IS NULL
                OR (json_valid(attachment) AND json_type(attachment) = 'object')
            ),
            created_at    TEXT NOT NULL CHECK (created_at {_UTC}),
            erased_at     TEXT CHECK (erased_at {_UTC})
        ) STRICT
        """,
        f"""
        CREATE TABLE questions (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER REFERENCES customers (id),
            asked_at    TEXT NOT NULL CHECK (asked_at {_UTC}),
            question    TEXT NOT NULL,
            language    TEXT NOT NULL CHECK (language IN ('de', 'en')),
            decision    TEXT NOT NULL CHECK (decision <> ''),
            candidates  TEXT NOT NULL DEFAULT '[]'
                        CHECK (json_valid(candidates) AND json_type(candidates) = 'array'),
            feedback    TEXT,
            erased_at   TEXT CHECK (erased_at {_UTC})
        ) STRICT
        """,
        f"""
        CREATE TABLE time_entries (
            id            INTEGER PRIMARY KEY,
            ticket_number INTEGER NOT NULL REFERENCES tickets (number),
            agent_id      INTEGER,
            minutes       INTEGER NOT NULL CHECK (minutes > 0),
            logged_at     TEXT NOT NULL CHECK (logged_at {_UTC})
        ) STRICT
        """,
        "CREATE INDEX tickets_by_customer ON tickets (customer_id, status)",
        "CREATE INDEX tickets_by_status ON tickets (status, number)",
        "CREATE INDEX consents_by_customer ON consents (customer_id)",
        "CREATE INDEX consents_by_ticket ON consents (ticket_number)",
        "CREATE INDEX messages_by_ticket ON ticket_messages (ticket_number, id)",
        "CREATE INDEX questions_by_customer ON questions (customer_id)",
        "CREATE INDEX time_entries_by_ticket ON time_entries (ticket_number)",
        # The consent invariant, held by the database itself whatever code writes to it:
        # no extended ticket without an agree consent of the same customer given before it.
        # A consent asked to raise one ticket authorises that ticket only (and, through the
        # UNIQUE consent_id, one consent authorises at most one ticket).
        f"""
        CREATE TRIGGER tickets_extended_needs_consent_on_insert
        BEFORE INSERT ON tickets
        WHEN NEW.tier = 'extended' AND NOT EXISTS (
            SELECT 1 FROM consents AS c
            WHERE c.id = NEW.consent_id
              AND c.customer_id = NEW.customer_id
              AND c.decision = 'agree'
              AND c.decided_at <= NEW.created_at
              AND c.ticket_number IS NULL
        )
        BEGIN
            SELECT RAISE(ABORT, '{_EXTENDED_NEEDS_CONSENT} the ticket');
        END
        """,
        f"""
        CREATE TRIGGER tickets_extended_needs_consent_on_update
        BEFORE UPDATE OF tier, consent_id, customer_id ON tickets
        WHEN NEW.tier = 'extended' AND NOT EXISTS (
            SELECT 1 FROM consents AS c
            WHERE c.id = NEW.consent_id
              AND c.customer_id = NEW.customer_id
              AND c.decision = 'agree'
              AND c.decided_at <= NEW.updated_at
              AND (c.ticket_number IS NULL OR c.ticket_number = NEW.number)
        )
        BEGIN
            SELECT RAISE(ABORT, '{_EXTENDED_NEEDS_CONSENT} the change');
        END
        """,
        """
        CREATE TRIGGER consents_are_kept
        BEFORE DELETE ON consents
        BEGIN
            SELECT RAISE(ABORT, 'consents are records of what a customer agreed to: never deleted');
        END
        """,
        """
        CREATE TRIGGER consents_are_unchangeable
        BEFORE UPDATE ON consents
        BEGIN
            SELECT RAISE(ABORT, 'consents are records of what a customer agreed to: never changed');
        END
        """,
        """
        CREATE TRIGGER tickets_are_kept
        BEFORE DELETE ON tickets
        BEGIN
            SELECT RAISE(ABORT, 'tickets are kept for billing: close a ticket, never delete it');
        END
        """,
        """
        CREATE TRIGGER closed_tickets_keep_their_bill
        BEFORE UPDATE OF tier, consent_id, customer_id, minutes_logged,
            billed_minutes, billed_units, billed_amount, billed_currency ON tickets
        WHEN OLD.status = 'closed' AND NEW.status = 'closed'
        BEGIN
            SELECT RAISE(ABORT, 'a closed ticket keeps its tier and bill: reopen it first');
        END
        """,
        """
        CREATE TRIGGER tickets_follow_the_status_machine
        BEFORE UPDATE OF status ON tickets
        WHEN NEW.status <> OLD.status AND OLD.status || '>' || NEW.status NOT IN (
            'open>claimed', 'open>closed',
            'claimed>waiting', 'claimed>closed',
            'waiting>claimed', 'waiting>closed',
            'closed>open'
        )
        BEGIN
            SELECT RAISE(ABORT, 'ticket status change not allowed by the status machine');
        END
        """,
    ),
)

_VERSION_2 = Migration(
    2,
    "where each ticket lives on the staff side; customers the bot cannot reach",
    (
        """
        CREATE TABLE staff_threads (
            ticket_number   INTEGER PRIMARY KEY REFERENCES tickets (number),
            chat_id         INTEGER NOT NULL,
            thread_id       INTEGER,           -- the forum topic; NULL in a plain group
            card_message_id INTEGER NOT NULL
        ) STRICT
        """,
        "CREATE UNIQUE INDEX staff_threads_by_topic ON staff_threads (chat_id, thread_id)"
        " WHERE thread_id IS NOT NULL",
        """
        CREATE TABLE staff_messages (
            chat_id       INTEGER NOT NULL,
            message_id    INTEGER NOT NULL,
            ticket_number INTEGER NOT NULL REFERENCES tickets (number),
            PRIMARY KEY (chat_id, message_id)
        ) STRICT
        """,
        f"ALTER TABLE customers ADD COLUMN unreachable_at TEXT CHECK (unreachable_at {_UTC})",
    ),
)

_VERSION_3 = Migration(
    3,
    "the outbox of deliveries; when a ticket's topic was last reminded of its due time",
    (
        f"""
        CREATE TABLE outbox (
            id           INTEGER PRIMARY KEY,
            destination  TEXT NOT NULL CHECK (destination <> ''),  -- delivered in id order
            payload      TEXT NOT NULL CHECK (json_valid(payload)),
            created_at   TEXT NOT NULL CHECK (created_at {_UTC}),
            not_before   TEXT NOT NULL CHECK (not_before {_UTC}),
            attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            progress     TEXT NOT NULL DEFAULT '{{}}' CHECK (json_valid(progress)),
            last_error   TEXT,
            delivered_at TEXT CHECK (delivered_at {_UTC}),
            failed_at    TEXT CHECK (failed_at {_UTC})
        ) STRICT
        """,
        "CREATE INDEX outbox_waiting ON outbox (destination, id)"
        " WHERE delivered_at IS NULL AND failed_at IS NULL",
        f"ALTER TABLE tickets ADD COLUMN reminded_at TEXT CHECK (reminded_at {_UTC})",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_VERSION_1, _VERSION_2, _VERSION_3)


def schema_version(connection: sqlite3.Connection) -> int:
    """Return the schema version recorded in the database (0 for a new file)."""
    row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(
    connection: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS, name: str = ""
) -> tuple[int, int]:
    """Apply the pending migrations in one transaction; return the versions before and after."""
    _check_sequence(migrations)
    latest = migrations[-1].version if migrations else 0
    label = name or "database"
    before = _check_not_newer(connection, latest, label)
    if before == latest:
        return before, latest
    # IMMEDIATE takes the write lock first, so two processes opening a new file at once
    # cannot both migrate it: the second waits, then finds nothing left to do.
    connection.execute("BEGIN IMMEDIATE")
    try:
        current = _check_not_newer(connection, latest, label)
        for migration in migrations:
            if migration.version > current:
                for statement in migration.statements:
                    connection.execute(statement)
        # PRAGMA takes no parameters; the version is an int from the list above.
        connection.execute(f"PRAGMA user_version = {latest:d}")
        problems = connection.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise SchemaError(f"{label}: foreign keys broken after migration: {problems[:3]}")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return before, latest


def _check_not_newer(connection: sqlite3.Connection, latest: int, label: str) -> int:
    current = schema_version(connection)
    if current > latest:
        raise SchemaError(
            f"{label}: schema version {current} is newer than this triagebot knows"
            f" ({latest}); upgrade triagebot to use it"
        )
    return current


def _check_sequence(migrations: Sequence[Migration]) -> None:
    versions = [migration.version for migration in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3... in order, got {versions}")
