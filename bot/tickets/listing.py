"""Plain-text views of tickets for staff at the command line (`triagebot queue`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.content.model import Tier
from bot.tickets.model import Consent, Customer, Ticket, TicketMessage, TimeEntry
from bot.tickets.outbox import OutboxItem

PREVIEW_CHARACTERS = 48


def ticket_line(ticket: Ticket, customer: Customer | None, zone: ZoneInfo) -> str:
    """Return one line for the queue list: number, status, tier, who, when, due, what."""
    return "  ".join(
        (
            f"{ticket.number:>5}",
            f"{ticket.status.value:<7}",
            f"{ticket.tier.value:<8}",
            _who(ticket.customer_id, customer),
            _local(ticket.created_at, zone),
            f"due {_local(ticket.sla_due, zone)}",
            preview(ticket.request) or "(request erased)",
        )
    )


def ticket_report(
    ticket: Ticket,
    *,
    customer: Customer | None,
    messages: Sequence[TicketMessage],
    consents: Sequence[Consent],
    time_entries: Sequence[TimeEntry],
    zone: ZoneInfo,
) -> str:
    """Return everything about one ticket, for `queue show`."""
    lines = [
        f"Ticket {ticket.number} · {ticket.tier.value} · {ticket.status.value}",
        f"Customer:    {_who(ticket.customer_id, customer)}"
        + (f", language {customer.language.value}" if customer else ""),
        f"Created:     {_local(ticket.created_at, zone)}",
        f"SLA due:     {_local(ticket.sla_due, zone)}",
        f"Agent:       {ticket.agent_id if ticket.agent_id is not None else '-'}",
        f"Category:    {ticket.category or '-'}",
        f"Reference:   {ticket.customer_ref or '-'}",
    ]
    if ticket.closed_at:
        lines.append(f"Closed:      {_local(ticket.closed_at, zone)}")
    if ticket.erased_at:
        lines.append(f"Erased:      {_local(ticket.erased_at, zone)} (the customer's data)")
    lines += ["", "Request:", *_indented(ticket.request or "(erased)")]
    lines += ["", "Transcript:"]
    lines += [
        f"  {index}. {step.question!r} -> {step.decision or '?'}"
        + (f": {', '.join(step.offered)}" if step.offered else "")
        + (f" (feedback: {step.feedback})" if step.feedback else "")
        for index, step in enumerate(ticket.transcript, start=1)
    ] or ["  (none)"]
    lines += ["", "Messages:"]
    lines += [line for message in messages for line in _message(message, zone)] or ["  (none)"]
    lines += ["", "Consent:"]
    lines += [line for consent in consents for line in _consent(consent)] or [
        "  none" + (" (standard support is free)" if ticket.tier is Tier.STANDARD else "")
    ]
    lines += ["", *_time_and_billing(ticket, time_entries)]
    return "\n".join(line.rstrip() for line in lines)


def closed_line(ticket: Ticket) -> str:
    """Return the one-line result of closing a ticket: time logged and the bill."""
    summary = f"ticket {ticket.number} closed: {ticket.minutes_logged} minutes logged"
    if ticket.bill is None or ticket.tier is Tier.STANDARD:
        return f"{summary}, standard support, not billed"
    bill = ticket.bill
    free = ticket.minutes_logged - bill.minutes
    before = f" ({free} before the customer agreed, not billed)" if free else ""
    return f"{summary}{before}, {bill.units} units billed, {bill.display_amount} {bill.currency}"


def preview(text: str) -> str:
    """Return the first words of a text on one line, cut at a word with an ellipsis."""
    words = " ".join(text.split())
    if len(words) <= PREVIEW_CHARACTERS:
        return words
    cut = words[:PREVIEW_CHARACTERS].rsplit(" ", 1)[0]
    return f"{cut}…"


def _who(customer_id: int, customer: Customer | None) -> str:
    if customer is None or (customer.name is None and customer.username is None):
        forgotten = customer is not None and customer.forgotten_at is not None
        return f"customer {customer_id}" + (" (forgotten)" if forgotten else "")
    handle = f" (@{customer.username})" if customer.username else ""
    return f"{customer.name or ''}{handle} [{customer_id}]".strip()


def _agent(agent_id: int | None) -> str:
    return "via the command line" if agent_id is None else f"by agent {agent_id}"


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _indented(text: str) -> list[str]:
    return [f"  {line}" for line in text.splitlines()] or ["  "]


def _message(message: TicketMessage, zone: ZoneInfo) -> list[str]:
    author = message.author_kind.value
    if message.author_id is not None:
        author += f" {message.author_id}"
    head = f"  [{_local(message.created_at, zone)}] {author}:"
    if message.erased_at:
        return [f"{head} (erased)"]
    lines = [head, *(f"  {line}" for line in _indented(message.text) if line.strip())]
    if message.attachment:
        kind = message.attachment.get("kind", "file")
        name = message.attachment.get("file_name") or message.attachment.get("file_id", "")
        lines.append(f"    [attachment: {kind} {name}]".rstrip())
    return lines


def _consent(consent: Consent) -> list[str]:
    return [
        f"  #{consent.id} {consent.decision.value} at"
        f" {consent.decided_at:%Y-%m-%d %H:%M:%S} UTC"
        + (f" (to raise ticket {consent.ticket_number})" if consent.ticket_number else ""),
        f"  terms:     {consent.rate} {consent.currency}"
        f" per started {consent.increment_minutes} minutes",
        f"  template:  {consent.template}, version {consent.template_version}",
        f"  sha256:    {consent.text_sha256}",
        "  text shown:",
        *(f"  {line}" for line in _indented(consent.text)),
    ]


def _time_and_billing(ticket: Ticket, entries: Sequence[TimeEntry]) -> list[str]:
    lines = [f"Time logged: {ticket.minutes_logged} minutes"]
    lines += [
        f"  {entry.minutes:>4} min {_agent(entry.agent_id)} at {entry.logged_at:%Y-%m-%d %H:%M} UTC"
        for entry in entries
    ]
    bill = ticket.bill
    if ticket.tier is Tier.STANDARD:
        lines.append("Billing:     none (standard support is free)")
    elif bill is None:
        lines.append("Billing:     computed when the ticket is closed")
    else:
        exact = f" (exactly {bill.amount})" if bill.amount != bill.display_amount else ""
        lines.append(
            f"Billing:     {bill.minutes} minutes since the consent: {bill.units} units"
            f" = {bill.display_amount} {bill.currency}{exact}"
        )
    return lines


def outbox_line(item: OutboxItem, zone: ZoneInfo) -> str:
    """Return one line about an outbox item: state, where to, what, tries, last error."""
    if item.delivered_at is not None:
        state = f"delivered {_local(item.delivered_at, zone)}"
    elif item.failed_at is not None:
        state = f"FAILED {_local(item.failed_at, zone)}"
    else:
        state = f"waiting, next try {_local(item.not_before, zone)}"
    what = item.payload.get("kind", "?")
    template = item.payload.get("message", item.payload.get("card", {})).get("template", "")
    line = (
        f"#{item.id:<5} {item.channel:<8} {item.destination:<22} {what}"
        f"{'/' + template if template else ''}  {state}  tries {item.attempts}"
    )
    return line + (f"  last error: {item.last_error}" if item.last_error else "")
