"""The monthly billing export: one row per billed extended ticket, or per customer.

Pure functions over the ticket store and a timezone: they read, build frozen rows and
format them; the command line (`triagebot billing export`) does the printing.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import MAX_PREC, Context, Decimal, Inexact, InvalidOperation
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.content.model import Tier
from bot.tickets import rows
from bot.tickets.schema import time_text
from bot.tickets.store import TicketStore

TICKET_COLUMNS = (
    "ticket",
    "customer_id",
    "consent_at",
    "rate",
    "currency",
    "increment_minutes",
    "minutes",
    "units",
    "amount",
    "agents",
)
CUSTOMER_COLUMNS = ("customer_id", "tickets", "minutes", "units", "amount", "currency")
# The columns a table aligns to the right.
_NUMERIC = frozenset(
    {"ticket", "customer_id", "rate", "increment_minutes", "minutes", "units", "amount", "tickets"}
)
COMMAND_LINE_AGENT = "cli"
FIRST_YEAR, LAST_YEAR = 1970, 9998
_MONTH = re.compile(r"(\d{4})-(\d{2})")
# Sums of exact amounts stay exact: enough precision for any sum, and an error otherwise.
_EXACT = Context(prec=MAX_PREC, traps=[Inexact, InvalidOperation])


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month, such as 2026-11."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read YYYY-MM; raise ValueError saying what is wrong."""
        found = _MONTH.fullmatch(text.strip())
        if not found:
            raise ValueError(f"not a month as YYYY-MM: {text!r}")
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12:
            raise ValueError(f"no month {month:02d} in {text!r}: months run from 01 to 12")
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(f"year {year} out of range ({FIRST_YEAR} to {LAST_YEAR})")
        return cls(year, month)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Return the month's first instant and the next month's, as local midnights in UTC."""
        following = Month(self.year + self.month // 12, self.month % 12 + 1)
        return (
            datetime(self.year, self.month, 1, tzinfo=zone).astimezone(UTC),
            datetime(following.year, following.month, 1, tzinfo=zone).astimezone(UTC),
        )

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class AgentTime:
    """The minutes one agent logged on a ticket; agent None is the command line."""

    agent_id: int | None
    minutes: int

    def __str__(self) -> str:
        agent = COMMAND_LINE_AGENT if self.agent_id is None else str(self.agent_id)
        return f"{agent}:{self.minutes}"


@dataclass(frozen=True, slots=True)
class TicketRow:
    """One billed extended ticket: the consent's terms, the stored bill and who worked on it."""

    ticket: int
    customer_id: int
    consent_at: datetime
    rate: Decimal
    currency: str
    increment_minutes: int
    minutes: int
    units: int
    amount: Decimal
    agents: tuple[AgentTime, ...]

    def cells(self) -> tuple[str, ...]:
        """Return the row as text, in the order of TICKET_COLUMNS."""
        return (
            str(self.ticket),
            str(self.customer_id),
            utc_text(self.consent_at),
            decimal_text(self.rate),
            self.currency,
            str(self.increment_minutes),
            str(self.minutes),
            str(self.units),
            decimal_text(self.amount),
            ",".join(str(agent) for agent in self.agents),
        )


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """A customer's billed tickets of the month in one currency, summed exactly."""

    customer_id: int
    currency: str
    tickets: int
    minutes: int
    units: int
    amount: Decimal

    def cells(self) -> tuple[str, ...]:
        """Return the row as text, in the order of CUSTOMER_COLUMNS."""
        return (
            str(self.customer_id),
            str(self.tickets),
            str(self.minutes),
            str(self.units),
            decimal_text(self.amount),
            self.currency,
        )


ExportRow = TicketRow | CustomerRow


def ticket_rows(store: TicketStore, month: Month, zone: ZoneInfo) -> list[TicketRow]:
    """Return the extended tickets closed in `month` (local time in `zone`), by number.

    Standard tickets are free and left out; a reopened ticket counts only once closed
    again, in the month of its last closing.
    """
    start, end = month.bounds(zone)
    # Stored times are fixed-width UTC text, so comparing the text compares the instants.
    found = store.connection.execute(
        "SELECT * FROM tickets WHERE status = 'closed' AND tier = ?"
        " AND closed_at >= ? AND closed_at < ? ORDER BY number",
        (Tier.EXTENDED.value, time_text(start), time_text(end)),
    ).fetchall()
    result = []
    for row in found:
        ticket = rows.ticket_from(row)
        bill = ticket.bill
        if bill is None or ticket.consent_id is None:  # pragma: no cover -- CHECKs and triggers
            raise ValueError(f"closed extended ticket {ticket.number} has no bill or consent")
        consent = store.consent(ticket.consent_id)
        result.append(
            TicketRow(
                ticket=ticket.number,
                customer_id=ticket.customer_id,
                consent_at=consent.decided_at,
                rate=consent.rate,
                currency=bill.currency,
                increment_minutes=consent.increment_minutes,
                minutes=bill.minutes,
                units=bill.units,
                amount=bill.amount,
                agents=_agents(store, ticket.number),
            )
        )
    return result


def customer_rows(tickets: Iterable[TicketRow]) -> list[CustomerRow]:
    """Sum ticket rows per customer and currency, ordered by customer id, then currency."""
    groups: defaultdict[tuple[int, str], list[TicketRow]] = defaultdict(list)
    for row in tickets:
        groups[row.customer_id, row.currency].append(row)
    return [
        CustomerRow(
            customer_id=customer_id,
            currency=currency,
            tickets=len(group),
            minutes=sum(row.minutes for row in group),
            units=sum(row.units for row in group),
            amount=exact_sum(row.amount for row in group),
        )
        for (customer_id, currency), group in sorted(groups.items())
    ]


def write_csv(stream: TextIO, columns: Sequence[str], export: Sequence[ExportRow]) -> None:
    """Write the rows as RFC 4180 CSV (CRLF line ends) with a header line."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(row.cells() for row in export)


def table(columns: Sequence[str], export: Sequence[ExportRow], month: Month) -> str:
    """Return the rows as an aligned table with a total line, or say there are none."""
    if not export:
        return f"no billed tickets in {month}"
    lines = [tuple(columns), *(row.cells() for row in export)]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    text = [
        "  ".join(
            cell.rjust(width) if column in _NUMERIC else cell.ljust(width)
            for column, cell, width in zip(columns, line, widths, strict=True)
        ).rstrip()
        for line in lines
    ]
    rule = "-" * len(max(text, key=len))
    return "\n".join([text[0], rule, *text[1:], rule, total_line(export)])


def total_line(export: Sequence[ExportRow]) -> str:
    """Return the totals of the rows: tickets, minutes, units and the amount per currency."""
    amounts: defaultdict[str, list[Decimal]] = defaultdict(list)
    for row in export:
        amounts[row.currency].append(row.amount)
    money = ", ".join(
        f"{decimal_text(exact_sum(values))} {currency}"
        for currency, values in sorted(amounts.items())
    )
    tickets = sum(row.tickets if isinstance(row, CustomerRow) else 1 for row in export)
    parts = [
        _count(tickets, "ticket"),
        _count(sum(row.minutes for row in export), "minute"),
        _count(sum(row.units for row in export), "unit"),
        money,
    ]
    customers = {row.customer_id for row in export}
    return f"total: {_count(len(customers), 'customer')}, " + ", ".join(parts)


def exact_sum(amounts: Iterable[Decimal]) -> Decimal:
    """Add decimals without rounding (an error rather than a rounded sum)."""
    total = Decimal(0)
    for amount in amounts:
        total = _EXACT.add(total, amount)
    return total


def decimal_text(value: Decimal) -> str:
    """Return a decimal as plain text with its stored digits: 50.00, never 5.000E+1."""
    return format(value, "f")


def utc_text(moment: datetime) -> str:
    """Return an instant as UTC ISO 8601 to the second: 2026-06-15T08:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _agents(store: TicketStore, number: int) -> tuple[AgentTime, ...]:
    minutes: defaultdict[int | None, int] = defaultdict(int)
    for entry in store.time_entries(number):
        minutes[entry.agent_id] += entry.minutes
    ordered = sorted(minutes, key=lambda agent: (agent is None, agent or 0))
    return tuple(AgentTime(agent, minutes[agent]) for agent in ordered)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
