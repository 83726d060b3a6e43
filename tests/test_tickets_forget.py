"""/forget: a customer's personal data goes; consent and billing records stay, anonymised."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from conftest import START, Clock

from bot.content.model import Lang, Tier
from bot.tickets.model import AuthorKind, ConsentDecision, ScoredEntry, TranscriptStep
from bot.tickets.store import TicketStore
from bot.triage.billing import Tariff

TARIFF = Tariff("25.00", "EUR", 15)
DUE = START + timedelta(hours=8)
ANNA = 701
BERT = 702
AGENT = 42
SECRET = "Zebrafink-Hausnummer-4711"  # a needle to search the raw file for


def fill(store: TicketStore) -> tuple[int, int]:
    """Give Anna a whole history (billed ticket, open ticket, questions, state) and Bert one too."""
    store.upsert_customer(ANNA, language=Lang.DE, name=f"Anna {SECRET}", username="anna_m")
    store.upsert_customer(BERT, language=Lang.EN, name="Bert", username="bert")
    store.put_state(ANNA, {"step": "ticket_open", "draft": SECRET})
    store.log_question(
        ANNA,
        f"Meine Seite {SECRET} ist weiß",
        language=Lang.DE,
        decision="suggest",
        candidates=(ScoredEntry("website-leer", 0.41),),
    )
    store.log_question(BERT, "How do I change my password?", language=Lang.EN, decision="answer")
    agreed = store.record_consent(
        ANNA,
        ConsentDecision.AGREE,
        TARIFF,
        text="Erweiterter Support: 25,00 € je angefangene Viertelstunde.",
        template="cost_notice",
        template_version="de/1",
    )
    billed = store.create_ticket(
        ANNA,
        tier=Tier.EXTENDED,
        request=f"Bitte Theme reparieren, Domain {SECRET}.example",
        due=DUE,
        transcript=(TranscriptStep(f"Seite {SECRET} weiß", "suggest", ("website-leer",)),),
        customer_ref=f"{SECRET}.example",
        consent_id=agreed.id,
    )
    store.add_message(
        billed.number,
        AuthorKind.CUSTOMER,
        f"Passwort ist {SECRET}",
        author_id=ANNA,
        attachment={"kind": "document", "file_id": "BQAD", "file_name": f"{SECRET}.txt"},
    )
    store.add_message(billed.number, AuthorKind.AGENT, "Erledigt.", author_id=AGENT)
    store.add_message(billed.number, AuthorKind.NOTE, "# war ein Plugin", author_id=AGENT)
    store.close_ticket(billed.number, 20, TARIFF, agent_id=AGENT)
    still_open = store.create_ticket(ANNA, tier=Tier.STANDARD, request=f"Mail {SECRET}", due=DUE)
    store.add_message(still_open.number, AuthorKind.CUSTOMER, "Hallo?", author_id=ANNA)
    berts = store.create_ticket(BERT, tier=Tier.STANDARD, request="Mail is down", due=DUE)
    store.add_message(berts.number, AuthorKind.CUSTOMER, "Any news?", author_id=BERT)
    return billed.number, still_open.number


def test_forget_erases_the_personal_data(store: TicketStore, clock: Clock) -> None:
    """State, name, username, question text, customer messages and requests are erased."""
    billed, still_open = fill(store)
    clock.advance(days=30)
    store.forget_customer(ANNA)
    anna = store.customer(ANNA)
    assert anna is not None
    assert (anna.name, anna.username, anna.forgotten_at) == (None, None, clock.now)
    assert store.get_state(ANNA) is None
    annas_question = store.questions()[0]
    assert (annas_question.question, annas_question.customer_id) == ("", None)
    assert annas_question.erased_at == clock.now
    for number in (billed, still_open):
        ticket = store.ticket(number)
        assert (ticket.request, ticket.transcript, ticket.customer_ref) == ("", (), None)
        assert ticket.erased_at == clock.now
        for message in store.messages(number):
            if message.author_kind is AuthorKind.CUSTOMER:
                assert (message.text, message.attachment) == ("", None)
                assert message.erased_at == clock.now


def test_forget_keeps_consent_and_billing_records(store: TicketStore) -> None:
    """The consent (with the exact text shown) and the bill of the closed ticket remain."""
    billed, _ = fill(store)
    consents_before = store.consents_of_customer(ANNA)
    store.forget_customer(ANNA)
    assert store.consents_of_customer(ANNA) == consents_before
    ticket = store.ticket(billed)
    assert ticket.bill is not None
    assert (ticket.tier, ticket.minutes_logged, ticket.bill.units) == (Tier.EXTENDED, 20, 2)
    assert ticket.bill.amount == Decimal("50.00")
    assert ticket.customer_id == ANNA
    assert [e.minutes for e in store.time_entries(billed)] == [20]


def test_forget_keeps_what_staff_wrote_and_the_answer_statistics(store: TicketStore) -> None:
    """Agent replies and notes stay; the erased question keeps its decision and scores."""
    billed, _ = fill(store)
    store.forget_customer(ANNA)
    staff = [m.text for m in store.messages(billed) if m.author_kind is not AuthorKind.CUSTOMER]
    assert staff == ["Erledigt.", "# war ein Plugin"]
    question = store.questions()[0]
    assert (question.decision, question.candidates) == (
        "suggest",
        (ScoredEntry("website-leer", 0.41),),
    )


def test_forget_leaves_other_customers_alone(store: TicketStore) -> None:
    """Bert's name, question, ticket and message are untouched by Anna's /forget."""
    fill(store)
    before = (store.customer(BERT), store.open_tickets(BERT), store.questions()[1])
    store.forget_customer(ANNA)
    assert (store.customer(BERT), store.open_tickets(BERT), store.questions()[1]) == before
    berts_ticket = store.open_tickets(BERT)[0]
    assert [m.text for m in store.messages(berts_ticket.number)] == ["Any news?"]


def test_forget_summarises_what_was_erased_and_kept(store: TicketStore) -> None:
    """The summary counts the erased items and the records that had to be kept."""
    fill(store)
    summary = store.forget_customer(ANNA)
    assert summary.known
    assert summary.profile_erased
    assert summary.conversation_erased
    assert (summary.questions_erased, summary.messages_erased, summary.requests_erased) == (1, 2, 2)
    assert (summary.consents_kept, summary.tickets_kept, summary.billed_tickets_kept) == (1, 2, 1)


def test_forgetting_twice_erases_nothing_new(store: TicketStore) -> None:
    """A second /forget finds nothing more to erase and still reports what is kept."""
    fill(store)
    store.forget_customer(ANNA)
    again = store.forget_customer(ANNA)
    assert not again.profile_erased
    assert not again.conversation_erased
    assert (again.questions_erased, again.messages_erased, again.requests_erased) == (0, 0, 0)
    assert again.consents_kept == 1


def test_forgetting_an_unknown_customer_is_harmless(store: TicketStore) -> None:
    """Someone the bot never saw can /forget too: nothing to erase, nothing kept."""
    summary = store.forget_customer(99)
    assert not summary.known
    assert summary.tickets_kept == 0


def test_erased_text_is_gone_from_the_file(database: Path, clock: Clock) -> None:
    """After /forget, the erased words are in neither the database file nor its WAL."""
    with TicketStore.open(database, clock=clock) as store:
        fill(store)
        store.forget_customer(ANNA)
        files = [database, database.with_name(database.name + "-wal")]
        contents = b"".join(path.read_bytes() for path in files if path.exists())
        assert SECRET.encode() not in contents


def test_erasure_survives_a_restart(database: Path, clock: Clock) -> None:
    """Reopening the file after /forget shows the erased fields still erased."""
    with TicketStore.open(database, clock=clock) as store:
        billed, _ = fill(store)
        store.forget_customer(ANNA)
    with TicketStore.open(database, clock=clock) as store:
        customer = store.customer(ANNA)
        assert customer is not None
        assert customer.name is None
        assert store.ticket(billed).request == ""
