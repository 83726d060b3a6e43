"""The outbox: decisions stored in the caller's transaction, delivered in order per destination."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from chat import NOW, Customer, shipped_engine
from conftest import Clock

from bot.app import build_classifier
from bot.config import Config
from bot.content.model import Tier
from bot.render import Catalogue
from bot.tickets.outbox import Outbox, OutboxItem
from bot.tickets.store import TicketStore
from bot.triage.conversation import Conversation, Policy
from bot.triage.decisions import (
    Button,
    ButtonAnswer,
    Decision,
    Message,
    Reply,
    StaffPost,
    TicketOpened,
    TopicStatus,
    from_json,
    to_json,
)
from bot.triage.desk import Agent, Desk
from bot.triage.events import Attachment

MAIL_FAULT = "Ich möchte mit einem Mitarbeiter sprechen: euer Mailserver ist seit heute down"
LOCKED_OUT = "Ich habe mich mit iptables aus meinem Server ausgesperrt"
AGENT = Agent(77, "Bernd")
HELLO = Message("Hallo <b>Anna</b> – schön, dass Sie da sind 👋", "greeting", "3")
FILE = Attachment("document", "file-9", "Logauszug", 55, 4242)


def reply(customer_id: int = 4242, text: str = "Hallo") -> Reply:
    """Return a plain reply to a customer."""
    return Reply(customer_id, Message(text, "greeting", "1"))


def opened(number: int, category: str = "mail") -> TicketOpened:
    """Return a new-ticket decision."""
    card = Message(f"Ticket {number}", "ticket_card", "1")
    return TicketOpened(number, Tier.STANDARD, category, f"#{number} Mail", card)


def post(number: int, text: str = "Notiz") -> StaffPost:
    """Return a post into a ticket's thread."""
    return StaffPost(number, Message(text, "claimed", "1"))


def rows(store: TicketStore) -> list[tuple[str, dict[str, Any]]]:
    """Return every outbox row as destination and payload, in id order."""
    found = store.connection.execute("SELECT destination, payload FROM outbox ORDER BY id")
    return [(destination, json.loads(payload)) for destination, payload in found]


def queued(store: TicketStore, since: int = 0) -> list[Decision]:
    """Return the telegram decisions stored after row `since`, read back from JSON."""
    found = store.connection.execute(
        "SELECT payload FROM outbox WHERE id > ? ORDER BY id", (since,)
    )
    payloads = [json.loads(payload) for (payload,) in found]
    return [from_json(payload) for payload in payloads if payload["channel"] == "telegram"]


def stored(decisions: list[Decision]) -> list[Decision]:
    """Return decisions as they read back from the outbox (button answers are not stored)."""
    return [from_json(to_json(d)) for d in decisions if not isinstance(d, ButtonAnswer)]


def last_id(store: TicketStore) -> int:
    """Return the id of the newest outbox row (0 if none)."""
    row = store.connection.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
    return int(row[0])


def ids(items: list[OutboxItem]) -> list[int]:
    """Return the items' ids."""
    return [item.id for item in items]


@pytest.fixture
def outbox(store: TicketStore, clock: Clock) -> Outbox:
    return Outbox(store, clock=clock)


# Decisions as JSON


@pytest.mark.parametrize(
    "decision",
    [
        Reply(
            4242,
            HELLO,
            ((Button("Ja", "c:y"), Button("Nein", "c:n")), (Button("Zurück", "m"),)),
            FILE,
        ),
        Reply(4242, HELLO),
        Reply(4242, HELLO, attachment=Attachment("photo", "f-1", "", 12)),
        TicketOpened(
            1001,
            Tier.EXTENDED,
            "server",
            "#1001 iptables",
            Message("<b>Ticket 1001</b>", "ticket_card", "2"),
            ((Button("Übernehmen", "t:claim:1001"),),),
        ),
        StaffPost(1001, Message("Bernd übernimmt", "claimed", "1")),
        StaffPost(1001, Message("", "customer_file", "1"), FILE),
        TopicStatus(1001, closed=True),
        TopicStatus(1001, closed=False),
    ],
    ids=lambda decision: type(decision).__name__,
)
def test_decisions_round_trip_through_json(decision: Decision) -> None:
    """Every stored kind of decision reads back equal from its JSON text."""
    assert from_json(json.loads(json.dumps(to_json(decision)))) == decision


def test_a_button_answer_is_never_stored(outbox: Outbox, store: TicketStore) -> None:
    """A button answer refuses to become JSON, and enqueueing one stores nothing."""
    answer = ButtonAnswer(4242, Message("Erledigt", "done", "1"))
    with pytest.raises(ValueError, match="never stored"):
        to_json(answer)
    with pytest.raises(ValueError, match="never stored"):
        outbox.enqueue([reply(), answer])
    assert rows(store) == []


def test_unknown_kinds_are_refused() -> None:
    """JSON of a kind no decision has is an error, not a guess."""
    with pytest.raises(ValueError, match="unknown decision kind"):
        from_json({"kind": "carrier_pigeon"})


def test_items_carry_destination_channel_and_payload(outbox: Outbox, clock: Clock) -> None:
    """An enqueued decision becomes a waiting telegram item for its destination, due now."""
    outbox.enqueue([reply(), opened(7)])
    first, second = outbox.waiting()
    assert (first.destination, first.channel) == ("customer:4242", "telegram")
    assert (second.destination, second.channel) == ("ticket:7", "telegram")
    assert from_json(first.payload) == reply()
    assert first.created_at == first.not_before == clock.now
    assert (first.attempts, first.progress, first.last_error) == (0, {}, None)
    assert first.delivered_at is None
    assert first.failed_at is None


# Transactions


def test_enqueue_joins_the_callers_transaction(outbox: Outbox, store: TicketStore) -> None:
    """An error after enqueueing inside the caller's transaction leaves no rows."""

    def change() -> None:
        with store.transaction():
            outbox.enqueue([reply(), opened(1), post(1)])
            outbox.notice(-100, "Überblick")
            assert len(rows(store)) == 4
            raise RuntimeError("something later in the same change failed")

    with pytest.raises(RuntimeError, match="later"):
        change()
    assert rows(store) == []
    assert outbox.waiting() == []


def test_enqueue_alone_commits(outbox: Outbox, store: TicketStore) -> None:
    """Outside a transaction, enqueue commits its rows by itself."""
    outbox.enqueue([reply()])
    other = TicketStore.open(store.path)
    try:
        assert [destination for destination, _ in rows(other)] == ["customer:4242"]
    finally:
        other.close()


# What is due


def test_one_item_per_destination_oldest_first(outbox: Outbox) -> None:
    """due() offers the oldest waiting item of each destination, in id order."""
    outbox.enqueue([reply(1, "a"), reply(2, "b"), reply(1, "c"), opened(5), reply(2, "d")])
    waiting = outbox.waiting()
    due = outbox.due()
    assert [item.destination for item in due] == ["customer:1", "customer:2", "ticket:5"]
    assert ids(due) == [waiting[0].id, waiting[1].id, waiting[3].id]


def test_a_later_item_waits_for_the_earlier(outbox: Outbox) -> None:
    """The next item of a destination is due only once the one before is delivered or failed."""
    outbox.enqueue([reply(1, "a"), reply(1, "b"), reply(1, "c")])
    first, second, third = outbox.waiting()
    assert ids(outbox.due()) == [first.id]
    outbox.delivered(first.id)
    assert ids(outbox.due()) == [second.id]
    outbox.fail(second.id, "chat not found")
    assert ids(outbox.due()) == [third.id]
    outbox.delivered(third.id)
    assert outbox.due() == []
    assert outbox.waiting() == []


def test_backoff_blocks_its_destination_only(outbox: Outbox, clock: Clock) -> None:
    """An item retrying later holds back its destination's later items, not other destinations."""
    outbox.enqueue([reply(1, "a"), reply(1, "b"), reply(2, "c")])
    first, second, other = outbox.waiting()
    outbox.retry(first.id, "timed out", timedelta(seconds=30))
    assert ids(outbox.due()) == [other.id]
    retried = outbox.item(first.id)
    assert (retried.attempts, retried.last_error) == (1, "timed out")
    assert retried.not_before == clock.now + timedelta(seconds=30)
    clock.advance(seconds=29)
    assert ids(outbox.due()) == [other.id]
    clock.advance(seconds=1)
    assert ids(outbox.due()) == [first.id, other.id]
    outbox.delivered(first.id)
    assert outbox.item(first.id).last_error is None
    assert ids(outbox.due()) == [second.id, other.id]


def test_next_due_is_when_a_blocked_destination_frees(outbox: Outbox, clock: Clock) -> None:
    """next_due() says when the head of a destination in backoff falls due, not its followers'."""
    outbox.enqueue([reply(1, "a"), reply(1, "b")])
    first, _ = outbox.waiting()
    outbox.retry(first.id, "timed out", timedelta(seconds=30))
    assert outbox.due() == []
    assert outbox.next_due() == clock.now + timedelta(seconds=30)
    outbox.enqueue([reply(2, "c")])
    assert outbox.next_due() == clock.now


def test_notices_come_before_tickets(outbox: Outbox) -> None:
    """A notice (a digest) is offered before older tickets, which it sums up."""
    outbox.enqueue([opened(1), opened(2), reply(3)])
    notice = outbox.notice(-100, "Drei neue Tickets")
    due = outbox.due()
    assert ids(due)[0] == notice
    assert due[0].destination == "staff:-100"
    assert due[0].payload == {
        "channel": "telegram",
        "kind": "notice",
        "chat_id": -100,
        "text": "Drei neue Tickets",
    }
    assert [item.destination for item in due[1:]] == ["ticket:1", "ticket:2", "customer:3"]


def test_failed_items_stay_visible_and_block_nothing(outbox: Outbox, clock: Clock) -> None:
    """A failed item stays in failed() with its error, and its destination moves on."""
    outbox.enqueue([post(1, "a"), post(1, "b"), reply(2)])
    first, second, _ = outbox.waiting()
    outbox.fail(first.id, "message thread not found")
    [failed] = outbox.failed()
    assert failed.id == first.id
    assert failed.failed_at == clock.now
    assert (failed.attempts, failed.last_error) == (1, "message thread not found")
    assert second.id in ids(outbox.due())
    assert first.id not in ids(outbox.waiting())
    assert ids(outbox.waiting("ticket:")) == [second.id]


def test_progress_is_kept_for_the_next_try(outbox: Outbox) -> None:
    """Saved progress reads back with the item, and survives a retry."""
    outbox.enqueue([reply()])
    [item] = outbox.waiting()
    outbox.save_progress(item.id, {"part0": 501})
    outbox.retry(item.id, "network", timedelta(0))
    assert outbox.item(item.id).progress == {"part0": 501}
    with pytest.raises(KeyError):
        outbox.item(item.id + 100)


# Sinks


def test_sinks_copy_staff_side_decisions(store: TicketStore, clock: Clock) -> None:
    """With an e-mail sink, new tickets and thread posts also wait for e-mail; replies don't."""
    outbox = Outbox(store, sinks=["email"], clock=clock)
    outbox.enqueue([reply(4242), opened(7), post(7), TopicStatus(7, closed=True)])
    found = [(item.destination, item.channel, item.payload["kind"]) for item in outbox.waiting()]
    assert found == [
        ("customer:4242", "telegram", "reply"),
        ("ticket:7", "telegram", "ticket_opened"),
        ("email:ticket:7", "email", "ticket_opened"),
        ("ticket:7", "telegram", "staff_post"),
        ("email:ticket:7", "email", "staff_post"),
        ("ticket:7", "telegram", "topic_status"),
    ]
    # The sink's thread is a destination of its own: it does not wait for telegram's.
    assert {item.destination for item in outbox.due()} == {
        "customer:4242",
        "ticket:7",
        "email:ticket:7",
    }


# Through the conversation core and the desk


@pytest.fixture
def core(store: TicketStore, outbox: Outbox) -> Conversation:
    """Return a conversation core on the shipped content that queues into the outbox."""
    config = Config()
    engine = shipped_engine()
    policy = Policy(
        config.tariff, config.business_hours, config.first_response, config.staff_language
    )
    texts = Catalogue(config.tariff.currency, config.business_hours.timezone)
    return Conversation(
        store, engine, build_classifier(engine), texts, policy, outbox=outbox, clock=lambda: NOW
    )


@pytest.fixture
def anna(core: Conversation) -> Customer:
    return Customer(core)


@pytest.fixture
def desk(core: Conversation) -> Desk:
    return Desk(core)


def test_a_turn_queues_all_its_decisions(anna: Customer, store: TicketStore) -> None:
    """A turn that opens a ticket queues the customer's confirmation and the new ticket."""
    decisions = anna.say(MAIL_FAULT)
    [ticket] = store.tickets()
    assert [type(d).__name__ for d in decisions] == ["Reply", "TicketOpened"]
    assert queued(store) == stored(decisions)
    assert [destination for destination, _ in rows(store)] == [
        "customer:4242",
        f"ticket:{ticket.number}",
    ]


def test_every_turn_queues_what_it_returns(anna: Customer, store: TicketStore) -> None:
    """Across a conversation, the outbox holds exactly the decisions returned, in order."""
    sent: list[Decision] = []
    sent += anna.say("Hallo")
    sent += anna.say(LOCKED_OUT)
    sent += anna.command("support")
    sent += anna.press("Ja")
    sent += anna.send_file("photo", "Fehlermeldung")
    assert store.tickets()[-1].tier is Tier.EXTENDED
    assert queued(store) == stored(sent)


def test_a_turn_is_queued_in_the_tickets_transaction(
    anna: Customer, store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If queueing fails, the ticket the turn opened is not kept either."""

    def broken(decisions: object) -> None:
        raise RuntimeError("disk full")

    assert anna.conversation.outbox is not None
    monkeypatch.setattr(anna.conversation.outbox, "enqueue", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        anna.say(MAIL_FAULT)
    assert store.tickets() == []
    assert rows(store) == []


ACTIONS: dict[str, Callable[[Desk, int], list[Decision]]] = {
    "claim": lambda desk, number: desk.claim(number, AGENT),
    "reply": lambda desk, number: desk.reply(number, AGENT, "Wir schauen uns das an."),
    "reply_with_file": lambda desk, number: desk.reply(
        number, AGENT, "", Attachment("photo", "f-9", "", 12, -100)
    ),
    "log_time": lambda desk, number: desk.log_time(number, AGENT, 15),
    "close": lambda desk, number: desk.close(number, AGENT, 20),
    "reopen": lambda desk, number: desk.reopen(number, AGENT),
    "tier_up": lambda desk, number: desk.set_tier(number, AGENT, Tier.EXTENDED),
    "tier_down": lambda desk, number: desk.set_tier(number, AGENT, Tier.STANDARD),
    "tier_same": lambda desk, number: desk.set_tier(number, AGENT, Tier.STANDARD),
    "post": lambda desk, number: desk.post(number, "staff_usage", text="/time braucht Minuten"),
    "note": lambda desk, number: desk.note(number, AGENT, "intern"),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_every_desk_action_queues_what_it_returns(
    action: str, anna: Customer, desk: Desk, store: TicketStore
) -> None:
    """Each desk action puts exactly the decisions it returns into the outbox."""
    if action == "tier_down":  # an extended ticket
        anna.say(LOCKED_OUT)
        anna.command("support")
        anna.press("Ja")
    else:
        anna.say(MAIL_FAULT)
    number = store.tickets()[-1].number
    if action == "reopen":
        desk.close(number, AGENT)
    before = last_id(store)
    returned = ACTIONS[action](desk, number)
    assert queued(store, since=before) == stored(returned)
    assert bool(returned) is (action != "note")


def test_a_failed_desk_action_queues_nothing(
    anna: Customer, desk: Desk, store: TicketStore
) -> None:
    """A refused action (a second claim) leaves no rows behind."""
    anna.say(MAIL_FAULT)
    number = store.tickets()[-1].number
    desk.claim(number, AGENT)
    before = last_id(store)
    with pytest.raises(Exception, match="already claimed"):
        desk.claim(number, Agent(78, "Clara"))
    assert last_id(store) == before


def test_a_failure_in_a_turn_leaves_nothing_behind(
    anna: Customer, store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the consent undoes consent, ticket, state change and outbox rows alike."""
    anna.say(LOCKED_OUT)
    anna.command("support")
    state = store.get_state(anna.person.id)
    before = last_id(store)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(store, "create_ticket", broken)
    with pytest.raises(RuntimeError, match="disk is full"):
        anna.press("Ja")
    assert store.consents_of_customer(anna.person.id) == []
    assert store.tickets() == []
    assert store.get_state(anna.person.id) == state
    assert last_id(store) == before
    monkeypatch.undo()
    # Pressing again works: the turn starts from the same state.
    sent = anna.press("Ja")
    assert any(isinstance(d, TicketOpened) for d in sent)
    assert len(store.consents_of_customer(anna.person.id)) == 1
    assert queued(store, since=before) == stored(sent)


# Replies ready to go out at once


def test_a_reply_first_in_line_is_collected(outbox: Outbox) -> None:
    """Inside `collecting`, a reply with nothing before it for its customer is handed back."""
    with outbox.collecting() as ready:
        outbox.enqueue([reply(4242, "eins"), opened(1001)])
    assert [(item.destination, item.payload["message"]["text"]) for item in ready] == [
        ("customer:4242", "eins")
    ]
    (item,) = ready
    assert item == outbox.item(item.id)  # the same item a round would read


def test_a_reply_behind_another_is_left_to_a_round(outbox: Outbox) -> None:
    """A reply queued behind a waiting one for the same customer must keep its place."""
    outbox.enqueue([reply(4242, "eins")])
    with outbox.collecting() as ready:
        outbox.enqueue([reply(4242, "zwei"), reply(7, "für jemand anderen")])
    assert [item.payload["message"]["text"] for item in ready] == ["für jemand anderen"]
    with outbox.collecting() as ready:
        outbox.enqueue([reply(8, "a"), reply(8, "b")])
    assert [item.payload["message"]["text"] for item in ready] == ["a"]


def test_nothing_is_collected_outside_the_context(outbox: Outbox) -> None:
    """Queueing elsewhere (a desk action, a job) collects nothing for a later `collecting`."""
    outbox.enqueue([reply(4242, "eins")])
    outbox.delivered(last_id(outbox._store))
    with outbox.collecting() as ready:
        pass
    assert ready == []


def test_delivered_marks_go_in_one_statement_with_the_last_progress(
    outbox: Outbox, store: TicketStore
) -> None:
    """`delivered_many` marks items and keeps a final progress where one is given, in one
    statement and no BEGIN/COMMIT (SQLite takes the write lock and commits in one step)."""
    outbox.enqueue([reply(1, "a"), reply(2, "b"), reply(3, "c")])
    first, second, third = outbox.waiting()
    outbox.save_progress(second.id, {"part0": 5})
    statements: list[str] = []
    store.connection.raw.set_trace_callback(statements.append)
    outbox.delivered_many([(first.id, {"part0": 9}), (second.id, None)])
    store.connection.raw.set_trace_callback(None)
    assert [s.split()[0] for s in statements if not s.startswith("PRAGMA")] == ["UPDATE"]
    assert outbox.waiting() == [third]
    assert outbox.item(first.id).progress == {"part0": 9}
    assert outbox.item(second.id).progress == {"part0": 5}
    assert outbox.item(first.id).delivered_at is not None
