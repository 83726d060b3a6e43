"""The consent invariant: no extended ticket without an earlier agree consent of its customer.

Every test here tries to break it one way, through the store's API or around it with plain
SQL, and checks that both the API and the database itself refuse.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from conftest import START, Clock

from bot.content.model import Lang, Tier
from bot.tickets.errors import ConsentError
from bot.tickets.model import Consent, ConsentDecision, Ticket
from bot.tickets.schema import time_text
from bot.tickets.store import TicketStore
from bot.triage.billing import Tariff

TARIFF = Tariff("25.00", "EUR", 15)
DUE = START + timedelta(hours=8)
ANNA = 601
BERT = 602
INVARIANT = "extended ticket needs an agree consent"

# Every extended ticket with no matching consent; empty whenever the invariant holds.
VIOLATIONS = """
SELECT t.number FROM tickets AS t
WHERE t.tier = 'extended' AND NOT EXISTS (
    SELECT 1 FROM consents AS c
    WHERE c.id = t.consent_id AND c.customer_id = t.customer_id
      AND c.decision = 'agree' AND c.decided_at <= t.updated_at
)
"""


@pytest.fixture
def people(store: TicketStore) -> TicketStore:
    """Return the store with two customers, Anna and Bert."""
    store.upsert_customer(ANNA, language=Lang.DE, name="Anna", username="anna")
    store.upsert_customer(BERT, language=Lang.EN, name="Bert", username="bert")
    return store


def consent(
    store: TicketStore,
    customer_id: int = ANNA,
    decision: ConsentDecision = ConsentDecision.AGREE,
    ticket_number: int | None = None,
) -> Consent:
    """Record a consent decision on the cost notice."""
    return store.record_consent(
        customer_id,
        decision,
        TARIFF,
        text="Extended support: 25.00 EUR per started quarter hour. Agree?",
        template="cost_notice",
        template_version="en/1",
        ticket_number=ticket_number,
    )


def extended(store: TicketStore, consent_id: int | None, customer_id: int = ANNA) -> Ticket:
    """Ask the store for an extended ticket on the given consent."""
    return store.create_ticket(
        customer_id, tier=Tier.EXTENDED, request="Fix my firewall", due=DUE, consent_id=consent_id
    )


def standard(store: TicketStore, customer_id: int = ANNA) -> Ticket:
    """Open a standard ticket."""
    return store.create_ticket(customer_id, tier=Tier.STANDARD, request="Mail is down", due=DUE)


def insert_ticket(
    store: TicketStore, *, customer_id: int, consent_id: int | None, created: str, tier: str
) -> None:
    """Insert a ticket row with plain SQL, around the store's checks."""
    store.connection.execute(
        "INSERT INTO tickets"
        " (customer_id, tier, request, consent_id, sla_due_at, created_at, updated_at)"
        " VALUES (?, ?, 'by hand', ?, ?, ?, ?)",
        (customer_id, tier, consent_id, time_text(DUE), created, created),
    )


def assert_invariant_holds(store: TicketStore) -> None:
    """Check the whole database: every extended ticket has an earlier agree of its customer."""
    assert store.connection.execute(VIOLATIONS).fetchall() == []


# Positive controls: the lawful ways still work.


def test_an_agree_consent_given_before_allows_an_extended_ticket(people: TicketStore) -> None:
    """The customer agrees, then the extended ticket is created on that consent."""
    agreed = consent(people)
    ticket = extended(people, agreed.id)
    assert (ticket.tier, ticket.consent_id) == (Tier.EXTENDED, agreed.id)
    assert_invariant_holds(people)


def test_raising_a_ticket_with_a_fresh_agree_consent_works(people: TicketStore) -> None:
    """A standard ticket becomes extended once the customer agrees to pay for it."""
    ticket = standard(people)
    agreed = consent(people, ticket_number=ticket.number)
    raised = people.set_tier(ticket.number, Tier.EXTENDED, consent_id=agreed.id)
    assert (raised.tier, raised.consent_id) == (Tier.EXTENDED, agreed.id)
    assert_invariant_holds(people)


# Through the API


def test_api_extended_ticket_without_consent(people: TicketStore) -> None:
    """create_ticket refuses an extended ticket with no consent id."""
    with pytest.raises(ConsentError, match="needs the customer's agree consent"):
        extended(people, None)
    assert people.tickets() == []


def test_api_extended_ticket_on_a_decline(people: TicketStore) -> None:
    """A decline is not an agreement."""
    declined = consent(people, decision=ConsentDecision.DECLINE)
    with pytest.raises(ConsentError, match="is a decline"):
        extended(people, declined.id)
    assert people.tickets() == []


def test_api_extended_ticket_on_another_customers_consent(people: TicketStore) -> None:
    """Bert's agreement does not let Anna be billed."""
    berts = consent(people, BERT)
    with pytest.raises(ConsentError, match=f"customer {BERT}, not by customer {ANNA}"):
        extended(people, berts.id, ANNA)
    assert people.tickets() == []


def test_api_extended_ticket_on_a_consent_recorded_after_it(
    people: TicketStore, clock: Clock
) -> None:
    """A consent with a later timestamp than the ticket (a clock set back) does not count."""
    later = consent(people)
    clock.advance(minutes=-5)
    with pytest.raises(ConsentError, match="after the ticket"):
        extended(people, later.id)
    assert people.tickets() == []


def test_api_extended_ticket_on_a_consent_that_does_not_exist(people: TicketStore) -> None:
    """A made-up consent id is refused."""
    with pytest.raises(ConsentError, match="does not exist"):
        extended(people, 12345)


def test_api_one_consent_covers_one_ticket(people: TicketStore) -> None:
    """Agreeing once does not open a tab: a second extended ticket needs a new consent."""
    agreed = consent(people)
    first = extended(people, agreed.id)
    with pytest.raises(ConsentError, match=f"already covers ticket {first.number}"):
        extended(people, agreed.id)
    assert len(people.tickets()) == 1


def test_api_a_consent_asked_for_one_ticket_raises_only_that_ticket(people: TicketStore) -> None:
    """The agreement to raise ticket A cannot raise ticket B or open a new one."""
    first, second = standard(people), standard(people)
    for_first = consent(people, ticket_number=first.number)
    with pytest.raises(ConsentError, match=f"for ticket {first.number} only"):
        people.set_tier(second.number, Tier.EXTENDED, consent_id=for_first.id)
    with pytest.raises(ConsentError, match=f"for ticket {first.number} only"):
        extended(people, for_first.id)
    assert_invariant_holds(people)


def test_api_a_standard_ticket_takes_no_consent(people: TicketStore) -> None:
    """A consent attached to a free ticket would be a bill waiting to happen: refused."""
    agreed = consent(people)
    with pytest.raises(ConsentError, match="standard ticket is free"):
        people.create_ticket(ANNA, tier=Tier.STANDARD, request="x", due=DUE, consent_id=agreed.id)


@pytest.mark.parametrize("kind", ["none", "decline", "other customer", "missing"])
def test_api_raising_a_ticket_needs_a_valid_agree_consent(people: TicketStore, kind: str) -> None:
    """set_tier(extended) refuses no consent, a decline, Bert's consent, or a made-up id."""
    ticket = standard(people)
    consent_id = {
        "none": None,
        "decline": consent(people, decision=ConsentDecision.DECLINE).id,
        "other customer": consent(people, BERT).id,
        "missing": 999,
    }[kind]
    with pytest.raises(ConsentError):
        people.set_tier(ticket.number, Tier.EXTENDED, consent_id=consent_id)
    assert people.ticket(ticket.number).tier is Tier.STANDARD


def test_api_consent_for_a_ticket_of_another_customer_is_refused(people: TicketStore) -> None:
    """Bert cannot agree to pay for Anna's ticket."""
    annas = standard(people)
    with pytest.raises(ConsentError, match="belongs to customer"):
        consent(people, BERT, ticket_number=annas.number)


# Around the API, with plain SQL: the database itself refuses.


def test_sql_insert_extended_without_consent(people: TicketStore) -> None:
    """INSERT of an extended ticket with no consent id fails in the database."""
    with pytest.raises(sqlite3.IntegrityError, match=INVARIANT):
        insert_ticket(
            people, customer_id=ANNA, consent_id=None, created=time_text(START), tier="extended"
        )


def test_sql_insert_extended_on_a_decline(people: TicketStore) -> None:
    """INSERT on a decline consent fails in the database."""
    declined = consent(people, decision=ConsentDecision.DECLINE)
    with pytest.raises(sqlite3.IntegrityError, match=INVARIANT):
        insert_ticket(
            people,
            customer_id=ANNA,
            consent_id=declined.id,
            created=time_text(START),
            tier="extended",
        )


def test_sql_insert_extended_on_another_customers_consent(people: TicketStore) -> None:
    """INSERT on Bert's consent for Anna's ticket fails in the database."""
    berts = consent(people, BERT)
    with pytest.raises(sqlite3.IntegrityError, match=INVARIANT):
        insert_ticket(
            people, customer_id=ANNA, consent_id=berts.id, created=time_text(START), tier="extended"
        )


def test_sql_insert_extended_before_its_consent(people: TicketStore) -> None:
    """INSERT of a ticket dated one microsecond before the consent fails in the database."""
    agreed = consent(people)
    earlier = time_text(agreed.decided_at - timedelta(microseconds=1))
    with pytest.raises(sqlite3.IntegrityError, match=INVARIANT):
        insert_ticket(
            people, customer_id=ANNA, consent_id=agreed.id, created=earlier, tier="extended"
        )


def test_sql_insert_extended_with_an_oddly_written_time(people: TicketStore) -> None:
    """A time in another format (which would compare wrongly as text) is refused outright."""
    agreed = consent(people)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        insert_ticket(
            people,
            customer_id=ANNA,
            consent_id=agreed.id,
            created="2099-01-01 00:00",
            tier="extended",
        )


def test_sql_insert_a_second_ticket_on_a_used_consent(people: TicketStore) -> None:
    """One consent cannot authorise two tickets, even by hand."""
    agreed = consent(people)
    extended(people, agreed.id)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        insert_ticket(
            people,
            customer_id=ANNA,
            consent_id=agreed.id,
            created=time_text(START),
            tier="extended",
        )


@pytest.mark.parametrize(
    "change",
    [
        "tier = 'extended'",
        "tier = 'extended', consent_id = :declined",
        "tier = 'extended', consent_id = :berts",
        "tier = 'extended', consent_id = :later",
    ],
)
def test_sql_update_of_tier_without_a_valid_consent(
    people: TicketStore, clock: Clock, change: str
) -> None:
    """UPDATE to extended without consent, on a decline, Bert's, or a later consent fails."""
    ticket = standard(people)
    ids = {
        "declined": consent(people, decision=ConsentDecision.DECLINE).id,
        "berts": consent(people, BERT).id,
    }
    clock.advance(hours=1)
    ids["later"] = consent(people).id  # decided after the ticket's last update
    with pytest.raises(sqlite3.IntegrityError, match=INVARIANT):
        people.connection.execute(
            f"UPDATE tickets SET {change} WHERE number = :number", {**ids, "number": ticket.number}
        )
    assert people.ticket(ticket.number).tier is Tier.STANDARD


@pytest.mark.parametrize(
    "change",
    ["consent_id = NULL", "consent_id = :declined", "consent_id = :berts", "customer_id = :bert"],
)
def test_sql_update_pulls_the_consent_from_under_an_extended_ticket(
    people: TicketStore, change: str
) -> None:
    """Swapping the consent for none, a decline or Bert's, or moving the ticket to Bert, fails."""
    ticket = extended(people, consent(people).id)
    values = {
        "declined": consent(people, decision=ConsentDecision.DECLINE).id,
        "berts": consent(people, BERT).id,
        "bert": BERT,
        "number": ticket.number,
    }
    with pytest.raises(sqlite3.IntegrityError, match=INVARIANT):
        people.connection.execute(f"UPDATE tickets SET {change} WHERE number = :number", values)
    assert people.ticket(ticket.number) == ticket


def test_sql_consents_cannot_be_deleted(people: TicketStore) -> None:
    """A consent, referenced by a ticket or not, cannot be deleted."""
    used = consent(people)
    extended(people, used.id)
    unused = consent(people, decision=ConsentDecision.DECLINE)
    for consent_id in (used.id, unused.id):
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            people.connection.execute("DELETE FROM consents WHERE id = ?", (consent_id,))
    assert len(people.consents_of_customer(ANNA)) == 2


def test_sql_consents_cannot_be_deleted_with_foreign_keys_off(people: TicketStore) -> None:
    """Switching foreign keys off does not help: the trigger still keeps the consent."""
    used = consent(people)
    extended(people, used.id)
    people.connection.execute("PRAGMA foreign_keys = OFF")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        people.connection.execute("DELETE FROM consents")
    people.connection.execute("PRAGMA foreign_keys = ON")
    assert_invariant_holds(people)


def test_sql_a_referenced_consent_is_protected_by_the_foreign_key_too(people: TicketStore) -> None:
    """Without the trigger, the foreign key alone still refuses to delete a used consent."""
    used = consent(people)
    extended(people, used.id)
    people.connection.execute("DROP TRIGGER consents_are_kept")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        people.connection.execute("DELETE FROM consents WHERE id = ?", (used.id,))


@pytest.mark.parametrize(
    "change", ["decision = 'decline'", "customer_id = :bert", "decided_at = :later", "text = 'x'"]
)
def test_sql_consents_cannot_be_rewritten(people: TicketStore, change: str) -> None:
    """A consent cannot be turned into a decline, moved, re-dated or reworded afterwards."""
    used = consent(people)
    extended(people, used.id)
    values = {"bert": BERT, "later": time_text(START + timedelta(days=1)), "id": used.id}
    with pytest.raises(sqlite3.IntegrityError, match="never changed"):
        people.connection.execute(f"UPDATE consents SET {change} WHERE id = :id", values)
    assert people.consent(used.id) == used


def test_every_attempt_together_leaves_the_invariant_intact(
    people: TicketStore, clock: Clock
) -> None:
    """After a barrage of attempts through the API and SQL, the invariant holds everywhere."""
    lawful = extended(people, consent(people).id)
    attempts = [
        lambda: extended(people, None),
        lambda: extended(people, consent(people, decision=ConsentDecision.DECLINE).id),
        lambda: extended(people, consent(people, BERT).id),
        lambda: extended(people, lawful.consent_id),
        lambda: people.set_tier(standard(people).number, Tier.EXTENDED),
        lambda: insert_ticket(
            people, customer_id=BERT, consent_id=None, created=time_text(START), tier="extended"
        ),
        lambda: people.connection.execute("UPDATE tickets SET consent_id = NULL"),
        lambda: people.connection.execute("UPDATE tickets SET tier = 'extended'"),
        lambda: people.connection.execute("DELETE FROM consents"),
        lambda: people.connection.execute("UPDATE consents SET decision = 'decline'"),
    ]
    for attempt in attempts:
        clock.advance(seconds=1)
        with pytest.raises((ConsentError, sqlite3.IntegrityError)):
            attempt()
    assert_invariant_holds(people)
    extended_tickets = [t.number for t in people.tickets() if t.tier is Tier.EXTENDED]
    assert extended_tickets == [lawful.number]


def test_lowering_an_extended_ticket_keeps_its_consent(people: TicketStore) -> None:
    """Going back to standard keeps the link to what the customer agreed to."""
    agreed = consent(people)
    ticket = extended(people, agreed.id)
    lowered = people.set_tier(ticket.number, Tier.STANDARD)
    assert (lowered.tier, lowered.consent_id) == (Tier.STANDARD, agreed.id)
    assert [c.id for c in people.consents_of_ticket(ticket.number)] == [agreed.id]
