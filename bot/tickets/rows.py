"""Turning database rows into the store's records."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal

from bot.content.model import Lang, Tier
from bot.tickets import jsontext
from bot.tickets.model import (
    AuthorKind,
    Consent,
    ConsentDecision,
    Customer,
    LoggedQuestion,
    ScoredEntry,
    Ticket,
    TicketMessage,
    TicketStatus,
    TimeEntry,
    TranscriptStep,
)
from bot.tickets.schema import parse_time
from bot.triage.billing import Bill


def optional_time(text: str | None) -> datetime | None:
    """Return the datetime of nullable stored time text."""
    return None if text is None else parse_time(text)


def customer_from(row: sqlite3.Row) -> Customer:
    """Return the customer of a `customers` row."""
    return Customer(
        id=row["id"],
        name=row["name"],
        username=row["username"],
        language=Lang(row["language"]),
        created_at=parse_time(row["created_at"]),
        forgotten_at=optional_time(row["forgotten_at"]),
    )


def consent_from(row: sqlite3.Row) -> Consent:
    """Return the consent of a `consents` row."""
    return Consent(
        id=row["id"],
        customer_id=row["customer_id"],
        decision=ConsentDecision(row["decision"]),
        decided_at=parse_time(row["decided_at"]),
        rate=Decimal(row["rate"]),
        currency=row["currency"],
        increment_minutes=row["increment_minutes"],
        text=row["text"],
        template=row["template"],
        template_version=row["template_version"],
        text_sha256=row["text_sha256"],
        ticket_number=row["ticket_number"],
    )


def ticket_from(row: sqlite3.Row) -> Ticket:
    """Return the ticket of a `tickets` row, with its bill once closed."""
    bill = None
    if row["billed_units"] is not None:
        bill = Bill(
            row["billed_minutes"],
            row["billed_units"],
            Decimal(row["billed_amount"]),
            row["billed_currency"],
        )
    return Ticket(
        number=row["number"],
        customer_id=row["customer_id"],
        status=TicketStatus(row["status"]),
        tier=Tier(row["tier"]),
        category=row["category"],
        request=row["request"],
        transcript=tuple(
            TranscriptStep.from_json(item) for item in jsontext.loads(row["transcript"])
        ),
        customer_ref=row["customer_ref"],
        consent_id=row["consent_id"],
        sla_due=parse_time(row["sla_due_at"]),
        agent_id=row["agent_id"],
        minutes_logged=row["minutes_logged"],
        bill=bill,
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
        closed_at=optional_time(row["closed_at"]),
        erased_at=optional_time(row["erased_at"]),
    )


def message_from(row: sqlite3.Row) -> TicketMessage:
    """Return the message of a `ticket_messages` row."""
    attachment = row["attachment"]
    return TicketMessage(
        id=row["id"],
        ticket_number=row["ticket_number"],
        author_kind=AuthorKind(row["author_kind"]),
        author_id=row["author_id"],
        text=row["text"],
        attachment=None if attachment is None else jsontext.loads(attachment),
        created_at=parse_time(row["created_at"]),
        erased_at=optional_time(row["erased_at"]),
    )


def question_from(row: sqlite3.Row) -> LoggedQuestion:
    """Return the logged question of a `questions` row."""
    return LoggedQuestion(
        id=row["id"],
        customer_id=row["customer_id"],
        asked_at=parse_time(row["asked_at"]),
        question=row["question"],
        language=Lang(row["language"]),
        decision=row["decision"],
        candidates=tuple(
            ScoredEntry(str(item["id"]), float(item["score"]))
            for item in jsontext.loads(row["candidates"])
        ),
        feedback=row["feedback"],
        erased_at=optional_time(row["erased_at"]),
    )


def time_entry_from(row: sqlite3.Row) -> TimeEntry:
    """Return the time entry of a `time_entries` row."""
    return TimeEntry(
        id=row["id"],
        ticket_number=row["ticket_number"],
        agent_id=row["agent_id"],
        minutes=row["minutes"],
        logged_at=parse_time(row["logged_at"]),
    )
