"""Agents' actions on tickets: claim, reply, note, time, tier, close with billing, reopen."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from chat import Customer, conversation, replies, reply_text

from bot.content.model import Tier
from bot.tickets.errors import StoreError
from bot.tickets.model import AuthorKind, ConsentDecision, TicketStatus
from bot.tickets.store import TicketStore
from bot.triage.decisions import Reply, StaffPost, TopicStatus
from bot.triage.desk import Agent, Desk
from bot.triage.events import Attachment

MAIL_FAULT = "Ich möchte mit einem Mitarbeiter sprechen: euer Mailserver ist seit heute down"
AGENT = Agent(77, "Bernd")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    with TicketStore.open(tmp_path / "triagebot.sqlite3") as opened:
        yield opened


@pytest.fixture
def anna(store: TicketStore) -> Customer:
    return Customer(conversation(store))


@pytest.fixture
def desk(anna: Customer) -> Desk:
    return Desk(anna.conversation)


@pytest.fixture
def number(anna: Customer, store: TicketStore) -> int:
    anna.say(MAIL_FAULT)
    return store.tickets()[-1].number


def staff_texts(decisions: list[object]) -> list[str]:
    return [d.message.text for d in decisions if isinstance(d, StaffPost)]


def test_claim_assigns_and_tells_the_thread(desk: Desk, store: TicketStore, number: int) -> None:
    """Claiming assigns the agent and posts who handles it; a second claim is refused."""
    assert "Bernd" in staff_texts(desk.claim(number, AGENT))[0]
    assert store.ticket(number).agent_id == AGENT.id
    with pytest.raises(StoreError, match="already claimed"):
        desk.claim(number, Agent(78, "Clara"))


def test_a_reply_reaches_the_customer_and_waits_for_them(
    desk: Desk, store: TicketStore, number: int, anna: Customer
) -> None:
    """An agent's reply goes to the customer in their language; their answer claims it anew."""
    [reply] = desk.reply(number, AGENT, "Wir schauen uns das an.")
    assert isinstance(reply, Reply)
    assert reply.customer_id == anna.person.id
    assert "Wir schauen uns das an." in reply.message.text
    assert reply.message.template == "agent_reply"
    assert store.ticket(number).status is TicketStatus.WAITING
    anna.say("Danke!")
    assert store.ticket(number).status is TicketStatus.CLAIMED
    kinds = [m.author_kind for m in store.messages(number)]
    assert kinds == [AuthorKind.AGENT, AuthorKind.CUSTOMER]


def test_a_file_from_the_agent_is_copied_to_the_customer(desk: Desk, number: int) -> None:
    """An agent's photo travels with the reply so the adapter can copy it."""
    [reply] = desk.reply(number, AGENT, "", Attachment("photo", "f-9", "", 12))
    assert isinstance(reply, Reply)
    assert reply.attachment == Attachment("photo", "f-9", "", 12)


def test_notes_stay_internal(desk: Desk, store: TicketStore, number: int) -> None:
    """A note is stored as internal and nothing is sent to anyone."""
    assert desk.note(number, AGENT, "# Kunde ist VIP") == []
    assert store.messages(number)[-1].author_kind is AuthorKind.NOTE


def test_time_adds_up(desk: Desk, store: TicketStore, number: int) -> None:
    """/time adds minutes and posts the running total."""
    desk.log_time(number, AGENT, 10)
    [post] = staff_texts(desk.log_time(number, AGENT, 25))
    assert "35" in post
    assert store.ticket(number).minutes_logged == 35


def test_closing_an_extended_ticket_bills_started_quarter_hours(
    anna: Customer, desk: Desk, store: TicketStore
) -> None:
    """/close 20 at a 15-minute increment bills 2 units = 50,00 €; customer and topic told."""
    anna.say("Ich habe mich mit iptables aus meinem Server ausgesperrt")
    anna.command("support")
    anna.press("Ja")
    number = store.tickets()[-1].number
    decisions = desk.close(number, AGENT, 20)
    ticket = store.ticket(number)
    assert ticket.bill is not None
    assert ticket.bill.units == 2
    assert ticket.bill.amount == Decimal("50.00")
    [summary] = staff_texts(decisions)
    assert "50,00 €" in summary
    assert "2 Viertelstunden" in summary
    assert replies(decisions) == ["ticket_closed_customer"]
    assert "50,00 €" in reply_text(decisions)
    assert TopicStatus(number, closed=True) in decisions


def test_closing_a_standard_ticket_is_free(desk: Desk, store: TicketStore, number: int) -> None:
    """A standard ticket closes without a charge."""
    decisions = desk.close(number, AGENT, 45)
    assert store.ticket(number).bill.units == 0  # type: ignore[union-attr]
    assert "kostenlos" in reply_text(decisions) or "Standard" in reply_text(decisions)


def test_reopen_opens_ticket_and_topic(desk: Desk, store: TicketStore, number: int) -> None:
    """/reopen opens a closed ticket, its topic, and tells the customer."""
    desk.close(number, AGENT)
    decisions = desk.reopen(number, AGENT)
    assert store.ticket(number).status is TicketStatus.OPEN
    assert TopicStatus(number, closed=False) in decisions
    assert replies(decisions) == ["ticket_reopened_customer"]
    with pytest.raises(StoreError):
        desk.reopen(number, AGENT)


def test_raising_the_tier_asks_the_customer_first(
    anna: Customer, desk: Desk, store: TicketStore, number: int
) -> None:
    """/tier extended shows the customer the price; the ticket changes only on agree."""
    decisions = desk.set_tier(number, AGENT, Tier.EXTENDED)
    assert replies(decisions) == ["cost_notice"]
    assert store.ticket(number).tier is Tier.STANDARD
    anna.decisions.extend(decisions)
    sent = anna.press("Ja")
    assert replies(sent) == ["consent_given"]
    ticket = store.ticket(number)
    assert ticket.tier is Tier.EXTENDED
    consent = store.consent(ticket.consent_id)  # type: ignore[arg-type]
    assert consent.decision is ConsentDecision.AGREE
    assert consent.ticket_number == number
    assert any("erweitert" in text.lower() for text in staff_texts(sent))


def test_a_declined_raise_keeps_the_ticket_free(
    anna: Customer, desk: Desk, store: TicketStore, number: int
) -> None:
    """If the customer declines, the ticket stays standard and staff are told."""
    anna.decisions.extend(desk.set_tier(number, AGENT, Tier.EXTENDED))
    sent = anna.press("Nein")
    assert store.ticket(number).tier is Tier.STANDARD
    assert [p.message.template for p in sent if isinstance(p, StaffPost)] == [
        "consent_declined_staff"
    ]


def test_lowering_the_tier_tells_the_customer(
    anna: Customer, desk: Desk, store: TicketStore
) -> None:
    """/tier standard on an extended ticket makes it free and says so."""
    anna.say("Ich habe mich mit iptables aus meinem Server ausgesperrt")
    anna.command("support")
    anna.press("Ja")
    number = store.tickets()[-1].number
    decisions = desk.set_tier(number, AGENT, Tier.STANDARD)
    assert store.ticket(number).tier is Tier.STANDARD
    assert replies(decisions) == ["tier_lowered"]


def test_closed_tickets_refuse_replies(desk: Desk, number: int) -> None:
    """Replying to a closed ticket is an error with a hint, not a silent send."""
    desk.close(number, AGENT)
    with pytest.raises(StoreError, match="reopen"):
        desk.reply(number, AGENT, "Hallo?")
