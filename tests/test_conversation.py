"""The customer conversation, scripted in German and English on a real SQLite file."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat import Customer, conversation, replies, reply_text, to_staff

from bot.config import Config
from bot.content.model import Lang, Tier
from bot.tickets.model import ConsentDecision, TicketStatus
from bot.tickets.store import TicketStore
from bot.triage.billing import Tariff
from bot.triage.conversation import Conversation
from bot.triage.decisions import Reply, StaffPost, TicketOpened, TopicStatus

FIREWALL_DE = "Ich habe mich mit iptables aus meinem Server ausgesperrt"
DELETED_EN = "I deleted all my emails by accident, can you restore them?"
MAIL_FAULT_DE = (
    "Ich möchte mit einem Mitarbeiter sprechen: euer Mailserver nimmt seit heute früh"
    " keine Mails mehr an, bei euch ist wohl eine Störung"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    with TicketStore.open(tmp_path / "triagebot.sqlite3") as opened:
        yield opened


@pytest.fixture
def bot(store: TicketStore) -> Conversation:
    return conversation(store)


@pytest.fixture
def anna(bot: Conversation) -> Customer:
    return Customer(bot)


@pytest.fixture
def john(bot: Conversation) -> Customer:
    return Customer(bot, customer_id=5151, language_code="en")


# Greeting, answers, suggestions, honesty


def test_start_greets_in_the_client_language_with_buttons(anna: Customer, john: Customer) -> None:
    """/start greets by name in the client's language and offers support, tickets, language."""
    de, en = anna.command("start"), john.command("start")
    assert replies(de) == ["greeting"]
    assert "Hallo Anna" in reply_text(de)
    assert replies(en) == ["greeting"]
    assert "Hello Anna" in reply_text(en)
    assert len([b for row in anna.latest_buttons() for b in row]) == 3


def test_a_clear_question_gets_the_answer_with_its_link(anna: Customer, store: TicketStore) -> None:
    """A confident match answers with the entry's link and helped/didn't help/support buttons."""
    sent = anna.say("Wie ändere ich mein Passwort im Kundencenter?")
    assert replies(sent) == ["answer"]
    assert "https://help.example-hoster.de/kundencenter/passwort-aendern" in reply_text(sent)
    labels = [button.label for row in anna.latest_buttons() for button in row]  # type: ignore[attr-defined]
    assert labels == ["👍 Hat geholfen", "👎 Hat nicht geholfen", "🙋 Mit dem Support sprechen"]
    logged = store.questions()[-1]
    assert logged.decision == "answer"
    assert logged.candidates[0].id == "kundencenter-passwort-aendern"
    assert len(logged.candidates) >= 3


def test_an_english_question_is_answered_in_english(john: Customer) -> None:
    """The English entry of a translation pair answers an English question."""
    sent = john.say("How do I change my customer center password?")
    assert replies(sent) == ["answer"]
    assert "/en/customer-center/change-password" in reply_text(sent)
    assert "Did this help?" in reply_text(sent)


def test_feedback_is_recorded_in_the_question_log(anna: Customer, store: TicketStore) -> None:
    """'Helped' and 'didn't help' are stored with the logged question."""
    anna.say("Wie ändere ich mein Passwort im Kundencenter?")
    assert replies(anna.press("Hat geholfen")) == ["helped"]
    assert store.questions()[-1].feedback == "helped"
    anna.say("Wie ändere ich mein Passwort im Kundencenter?")
    sent = anna.press("nicht geholfen")
    assert replies(sent) == ["didnt_help"]
    assert store.questions()[-1].feedback == "didnt_help"
    assert replies(anna.press("Anders formulieren")) == ["rephrase"]


def test_an_unsure_match_offers_choices_and_a_pick_answers(
    anna: Customer, store: TicketStore
) -> None:
    """A vague question gets 2-3 suggestions plus 'none of these'; picking one answers it."""
    sent = anna.say("email einrichten")
    assert replies(sent) == ["suggest"]
    rows = anna.latest_buttons()
    assert 3 <= len(rows) <= 4
    assert rows[-1][0].label == "Nichts davon"
    first = rows[0][0].label  # type: ignore[attr-defined]
    sent = anna.press(first)
    assert replies(sent) == ["answer"]
    assert first in reply_text(sent)
    assert store.questions()[-1].feedback is not None
    assert store.questions()[-1].feedback.startswith("picked:")  # type: ignore[union-attr]


def test_none_of_these_offers_rephrase_or_support(anna: Customer) -> None:
    """'None of these' is honest: rephrase or talk to support."""
    anna.say("email einrichten")
    assert replies(anna.press("Nichts davon")) == ["didnt_help"]


def test_out_of_scope_is_an_honest_i_dont_know(anna: Customer, store: TicketStore) -> None:
    """Nothing fits: the bot says so and offers rephrasing or support, and logs the abstain."""
    sent = anna.say("Was kostet ein Döner in Berlin?")
    assert replies(sent) == ["abstain"]
    assert store.questions()[-1].decision == "abstain"


# Extended support: price, consent, ticket


def test_extended_request_shows_the_price_before_anything_reaches_staff(
    anna: Customer, store: TicketStore
) -> None:
    """Extended help: cost notice with the rate and two buttons, agree first; nothing queued."""
    anna.say(FIREWALL_DE)
    sent = anna.command("support")
    assert replies(sent) == ["cost_notice"]
    text = reply_text(sent)
    assert "25,00 €" in text
    assert "angefangene" in text
    assert "Viertelstunde" in text
    rows = anna.latest_buttons()
    assert [[b.label for b in row] for row in rows] == [  # type: ignore[attr-defined]
        ["✅ Ja, kostenpflichtig beauftragen"],
        ["Nein, danke"],
    ]
    assert to_staff(sent) == []
    assert store.tickets() == []


def test_agree_records_the_exact_notice_and_opens_an_extended_ticket(
    anna: Customer, store: TicketStore, bot: Conversation
) -> None:
    """Agreeing stores the consent (text, hash, template version, terms), then the ticket."""
    anna.say(FIREWALL_DE)
    notice = next(d for d in anna.command("support") if isinstance(d, Reply)).message
    sent = anna.press("Ja")
    assert replies(sent) == ["ticket_created"]
    [consent] = store.consents_of_customer(anna.person.id)
    assert consent.decision is ConsentDecision.AGREE
    assert consent.text == notice.text
    assert consent.text_sha256 == hashlib.sha256(notice.text.encode()).hexdigest()
    assert (consent.template, consent.template_version) == ("cost_notice", notice.version)
    assert consent.tariff == Tariff("25.00", "EUR", 15)
    [ticket] = store.tickets()
    assert ticket.tier is Tier.EXTENDED
    assert ticket.consent_id == consent.id
    assert ticket.request == FIREWALL_DE
    assert consent.decided_at <= ticket.created_at
    [opened] = [d for d in sent if isinstance(d, TicketOpened)]
    assert FIREWALL_DE in opened.card.text
    assert "1001" in opened.topic
    assert str(ticket.number) in reply_text(sent)


def test_english_extended_flow_in_english(john: Customer, store: TicketStore) -> None:
    """English customers see the price as €25.00 and get an extended ticket after agreeing."""
    john.say(DELETED_EN)
    sent = john.command("support")
    assert "€25.00" in reply_text(sent)
    assert "per started quarter hour" in reply_text(sent)
    assert replies(john.press("Yes")) == ["ticket_created"]
    assert store.tickets()[0].tier is Tier.EXTENDED


def test_decline_records_it_offers_free_guides_and_opens_nothing(
    anna: Customer, store: TicketStore
) -> None:
    """'No thanks' ends with free alternatives (links), records the decline, queues nothing."""
    anna.say(FIREWALL_DE)
    anna.command("support")
    sent = anna.press("Nein")
    assert replies(sent) == ["consent_declined"]
    assert "https://help.example-hoster.de/" in reply_text(sent)
    assert [c.decision for c in store.consents_of_customer(anna.person.id)] == [
        ConsentDecision.DECLINE
    ]
    assert store.tickets() == []
    assert to_staff(sent) == []


def test_a_consent_button_works_once(anna: Customer, store: TicketStore) -> None:
    """Pressing agree twice (or after declining) records one decision and one ticket."""
    anna.say(FIREWALL_DE)
    anna.command("support")
    agree = anna.button("Ja")
    anna.press_data(agree)
    assert replies(anna.press_data(agree)) == ["button_expired"]
    assert len(store.consents_of_customer(anna.person.id)) == 1
    assert len(store.tickets()) == 1


def test_forged_button_data_does_nothing(anna: Customer, store: TicketStore) -> None:
    """Callback data that the bot did not hand out get 'this button has expired'."""
    anna.say(FIREWALL_DE)
    anna.command("support")
    for forged in ("c:agree", "agree", "s:claim:1001", "c:" + "A" * 8, ""):
        assert replies(anna.press_data(forged)) == ["button_expired"]
    assert store.consents_of_customer(anna.person.id) == []
    assert store.tickets() == []


def test_text_during_the_price_question_repeats_it(anna: Customer) -> None:
    """Typing instead of pressing shows the same notice again; 'ja' typed is not consent."""
    anna.say(FIREWALL_DE)
    first = reply_text(anna.command("support"))
    sent = anna.say("ja")
    assert replies(sent) == ["choose_button", "cost_notice"]
    assert first in reply_text(sent)
    assert anna.conversation.store.consents_of_customer(anna.person.id) == []


# Standard support and unclear requests


def test_a_fault_of_our_service_goes_to_staff_without_a_price(
    anna: Customer, store: TicketStore
) -> None:
    """Asking for a person about our mail server's fault opens a free ticket at once."""
    sent = anna.say(MAIL_FAULT_DE)
    assert replies(sent) == ["ticket_created"]
    assert "cost_notice" not in replies(anna.decisions)
    [ticket] = store.tickets()
    assert ticket.tier is Tier.STANDARD
    assert ticket.consent_id is None
    assert ticket.request == MAIL_FAULT_DE
    assert any(isinstance(d, TicketOpened) for d in sent)


def test_support_without_context_asks_which_case_it_is(anna: Customer, store: TicketStore) -> None:
    """Unclear: one question with a free and a billed button; free → description → ticket."""
    sent = anna.command("support")
    assert replies(sent) == ["ask_tier"]
    labels = [b.label for row in anna.latest_buttons() for b in row]  # type: ignore[attr-defined]
    assert "kostenlos" in labels[0]
    assert "kostenpflichtig" in labels[1]
    assert replies(anna.press("kostenlos")) == ["ask_description"]
    sent = anna.say("Die Webseite example.de zeigt seit einer Stunde einen 502 Fehler")
    assert replies(sent) == ["ticket_created"]
    [ticket] = store.tickets()
    assert ticket.tier is Tier.STANDARD
    assert ticket.customer_ref == "example.de"


def test_unclear_then_own_setup_asks_for_consent_first(anna: Customer, store: TicketStore) -> None:
    """Choosing 'help with my own setup' leads to the cost notice, then the description."""
    anna.command("support")
    assert replies(anna.press("Einrichtung")) == ["cost_notice"]
    assert replies(anna.press("Ja")) == ["ask_description"]
    anna.say("Mein WordPress-Theme zerschießt das Layout auf dem Handy, Kundennummer 12345")
    [ticket] = store.tickets()
    assert ticket.tier is Tier.EXTENDED
    assert ticket.customer_ref == "12345"


def test_a_human_request_without_details_uses_the_last_question(
    anna: Customer, store: TicketStore
) -> None:
    """'Mitarbeiter bitte' after a question escalates that question (here: ask which case)."""
    anna.say("Die Webseite ist seit heute morgen sehr langsam")
    assert replies(anna.say("Mitarbeiter bitte")) == ["ask_tier"]
    assert replies(anna.press("kostenlos")) == ["ticket_created"]
    [ticket] = store.tickets()
    assert ticket.request == "Die Webseite ist seit heute morgen sehr langsam"
    assert [step.question for step in ticket.transcript] == [ticket.request]


# While a ticket is open


def opened_ticket(anna: Customer) -> int:
    anna.say(MAIL_FAULT_DE)
    return anna.conversation.store.tickets()[-1].number


def test_messages_while_a_ticket_is_open_go_to_the_ticket(
    anna: Customer, store: TicketStore
) -> None:
    """Follow-ups are added to the ticket and posted to its thread, not matched."""
    number = opened_ticket(anna)
    first = anna.say("Fehlermeldung: 550 relay denied")
    assert replies(first) == ["ticket_message_received"]
    [post] = [d for d in first if isinstance(d, StaffPost)]
    assert post.ticket_number == number
    assert "550 relay denied" in post.message.text
    second = anna.say("Und seit 10 Uhr auch beim Senden")
    assert replies(second) == []  # one acknowledgement per run of messages
    assert [m.text for m in store.messages(number)] == [
        "Fehlermeldung: 550 relay denied",
        "Und seit 10 Uhr auch beim Senden",
    ]
    assert store.questions() == []  # a request for a person and follow-ups are not matched


def test_files_go_to_the_open_ticket(anna: Customer, store: TicketStore) -> None:
    """A photo while a ticket is open reaches the thread with its file id; without, a hint."""
    assert replies(anna.send_file()) == ["unsupported_message"]
    number = opened_ticket(anna)
    sent = anna.send_file("photo", caption="Screenshot")
    [post] = [d for d in sent if isinstance(d, StaffPost)]
    assert post.attachment is not None
    assert post.attachment.file_id == "file-1"
    [message] = store.messages(number)
    assert message.attachment == {
        "kind": "photo",
        "file_id": "file-1",
        "message_id": 77,
        "chat_id": anna.person.id,
    }
    assert replies(anna.send_other("sticker")) == ["unsupported_message"]


def test_support_with_an_open_ticket_points_to_it(anna: Customer) -> None:
    """Asking for support again does not open a second ticket."""
    number = opened_ticket(anna)
    sent = anna.command("support")
    assert replies(sent) == ["ticket_open"]
    assert str(number) in reply_text(sent)
    assert len(anna.conversation.store.tickets()) == 1


# Commands


def test_cancel_withdraws_the_open_ticket(anna: Customer, store: TicketStore) -> None:
    """/cancel closes the open ticket, tells staff and closes the topic."""
    number = opened_ticket(anna)
    sent = anna.command("cancel")
    assert replies(sent) == ["cancel_done"]
    assert store.ticket(number).status is TicketStatus.CLOSED
    assert TopicStatus(number, closed=True) in sent
    assert any(isinstance(d, StaffPost) and d.ticket_number == number for d in sent)
    assert replies(anna.command("cancel")) == ["nothing_to_cancel"]


def test_cancel_during_the_handoff_stops_it(anna: Customer, store: TicketStore) -> None:
    """/cancel at the price question records nothing and ends the handoff."""
    anna.say(FIREWALL_DE)
    anna.command("support")
    agree = anna.button("Ja")
    assert replies(anna.command("cancel")) == ["cancel_done"]
    assert replies(anna.press_data(agree)) == ["button_expired"]
    assert store.consents_of_customer(anna.person.id) == []
    assert store.tickets() == []


def test_tickets_lists_the_customers_tickets(anna: Customer) -> None:
    """/tickets shows the customer's tickets with number and status."""
    assert "keine Tickets" in reply_text(anna.command("tickets"))
    number = opened_ticket(anna)
    sent = anna.command("tickets")
    assert replies(sent) == ["tickets_list"]
    assert str(number) in reply_text(sent)


def test_language_choice_sticks(anna: Customer) -> None:
    """/language → English: later German questions are answered in English."""
    assert replies(anna.command("language")) == ["language_choose"]
    assert replies(anna.press("English")) == ["language_set"]
    sent = anna.say("Wie ändere ich mein Passwort im Kundencenter?")
    assert "/en/customer-center/change-password" in reply_text(sent)


def test_help_lists_every_command(anna: Customer) -> None:
    """/help names every command of the menu."""
    text = reply_text(anna.command("help"))
    for command in ("start", "help", "language", "support", "tickets", "cancel", "forget"):
        assert f"/{command}" in text


def test_forget_erases_personal_data_and_keeps_the_consent(
    anna: Customer, store: TicketStore
) -> None:
    """/forget withdraws open tickets, erases name and state, keeps the consent anonymised."""
    anna.say(FIREWALL_DE)
    anna.command("support")
    anna.press("Ja")
    sent = anna.command("forget")
    assert replies(sent) == ["forget_done"]
    assert "Aufbewahren müssen wir" in reply_text(sent)
    customer = store.customer(anna.person.id)
    assert customer is not None
    assert customer.name is None
    assert customer.forgotten_at
    assert store.get_state(anna.person.id) is None
    assert len(store.consents_of_customer(anna.person.id)) == 1
    assert store.tickets()[0].status is TicketStatus.CLOSED
    assert all(q.question == "" for q in store.questions())


# Durability and concurrency


def test_a_restart_continues_the_conversation(tmp_path: Path) -> None:
    """A new core on the same file accepts the agree button shown before the restart."""
    path = tmp_path / "triagebot.sqlite3"
    with TicketStore.open(path) as before:
        anna = Customer(conversation(before))
        anna.say(FIREWALL_DE)
        anna.command("support")
        agree = anna.button("Ja")
    with TicketStore.open(path) as after:
        again = Customer(conversation(after))
        assert replies(again.press_data(agree)) == ["ticket_created"]
        assert after.tickets()[0].tier is Tier.EXTENDED
        assert replies(again.say("Noch ein Detail")) == ["ticket_message_received"]


def test_parallel_presses_of_one_button_open_one_ticket(anna: Customer, store: TicketStore) -> None:
    """Eight threads pressing agree at once: one consent, one ticket, seven expired."""
    anna.say(FIREWALL_DE)
    anna.command("support")
    agree = anna.button("Ja")
    results: list[list[str]] = []
    barrier = threading.Barrier(8)

    def press() -> None:
        barrier.wait()
        results.append(replies(anna.press_data(agree)))

    threads = [threading.Thread(target=press) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [["button_expired"]] * 7 + [["ticket_created"]]
    assert len(store.tickets()) == 1
    assert len(store.consents_of_customer(anna.person.id)) == 1


def test_parallel_support_requests_open_one_ticket(store: TicketStore) -> None:
    """The same fault report sent eight times at once opens one ticket; the rest join it."""
    bot = conversation(store)
    customer = Customer(bot)
    barrier = threading.Barrier(8)

    def send() -> None:
        barrier.wait()
        customer.say(MAIL_FAULT_DE)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [ticket] = store.tickets()
    assert len(store.messages(ticket.number)) == 7
    assert sum(isinstance(d, TicketOpened) for d in customer.decisions) == 1


def test_staff_language_comes_from_config(store: TicketStore) -> None:
    """[staff] language = en renders the ticket card in English for the staff side."""
    bot = conversation(store, Config(staff_language=Lang.EN))
    sent = Customer(bot).say(MAIL_FAULT_DE)
    [opened] = [d for d in sent if isinstance(d, TicketOpened)]
    assert "Request" in opened.card.text
    assert "not needed (standard support)" in opened.card.text


def test_support_under_an_answer_still_works_after_helped(anna: Customer) -> None:
    """A message without buttons keeps the earlier keyboard: 'support' stays pressable."""
    anna.say("Wie ändere ich mein Passwort im Kundencenter?")
    support = anna.button("Support")
    anna.press("Hat geholfen")
    assert replies(anna.press_data(support)) != ["button_expired"]


# Matching outside the write transaction


def test_questions_are_matched_before_the_transaction_begins(
    bot: Conversation, anna: Customer, store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matching (the slow part) runs with no write lock held; texts that are no question
    (a description asked for, a reply during an open ticket) are not matched at all."""
    seen: list[tuple[str, bool]] = []
    engine = bot.engine
    decide = engine.decide

    def spy(question: str, lang: Lang | None = None) -> Any:
        seen.append((question, store.connection.in_transaction))
        return decide(question, lang)

    monkeypatch.setattr(engine, "decide", spy)
    anna.say("Wie ändere ich mein Passwort im Kundencenter?")
    assert seen == [("Wie ändere ich mein Passwort im Kundencenter?", False)]
    seen.clear()
    anna.command("support")
    anna.say("Mein Mailpostfach nimmt seit heute keine Mails mehr an")  # the description
    anna.say("Es betrifft info@example.de")  # to the open ticket
    assert [question for question, _ in seen if question.startswith(("Mein", "Es "))] == []
