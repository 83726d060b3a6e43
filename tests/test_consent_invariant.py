"""No extended ticket without a prior agree: random conversations try to break it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from chat import Customer, conversation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.content.model import Tier
from bot.tickets.errors import StoreError
from bot.tickets.model import ConsentDecision
from bot.tickets.store import TicketStore
from bot.triage.decisions import Button, TicketOpened
from bot.triage.desk import Agent, Desk

TEXTS = (
    "Ich habe mich mit iptables aus meinem Server ausgesperrt",
    "I deleted all my emails by accident, can you restore them?",
    "Euer Mailserver ist down, bitte einen Mitarbeiter",
    "Mitarbeiter bitte",
    "ja",
    "yes I agree",
    "Wie ändere ich mein Passwort im Kundencenter?",
    "Mein WordPress-Layout ist kaputt, könnt ihr das fixen?",
)
COMMANDS = ("support", "cancel", "start", "tickets", "language", "forget")
FORGED = ("c:agree", "agree", "c:AAAAAAAA", "s:tier:1001:extended", "c:")

actions = st.one_of(
    st.tuples(st.just("say"), st.sampled_from(TEXTS)),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS)),
    st.tuples(st.just("press"), st.integers(0, 5)),
    st.tuples(st.just("replay"), st.integers(0, 30)),
    st.tuples(st.just("forged"), st.sampled_from(FORGED)),
    st.tuples(st.just("staff"), st.sampled_from(("raise", "lower", "close", "reopen"))),
)


def check_invariant(store: TicketStore) -> None:
    """Assert that every extended ticket has an agree consent of its customer, given before."""
    for ticket in store.tickets():
        if ticket.tier is not Tier.EXTENDED:
            continue
        assert ticket.consent_id is not None, f"extended ticket {ticket.number} lacks consent"
        consent = store.consent(ticket.consent_id)
        assert consent.decision is ConsentDecision.AGREE
        assert consent.customer_id == ticket.customer_id
        assert consent.decided_at <= ticket.updated_at


class Player:
    """Plays one customer and one agent, and remembers every button data ever shown."""

    def __init__(self, store: TicketStore) -> None:
        self.store = store
        self.customer = Customer(conversation(store))
        self.desk = Desk(self.customer.conversation)
        self.agent = Agent(9, "Agent")
        self.seen: list[str] = []

    def act(self, kind: str, value: object) -> list[object]:
        buttons = [b for row in self.customer.latest_buttons() for b in row]
        self.seen.extend(b.data for b in buttons if isinstance(b, Button))
        customer = self.customer
        match kind:
            case "say":
                decisions = customer.say(str(value))
            case "command":
                decisions = customer.command(str(value))
            case "press" if buttons:
                button = buttons[int(str(value)) % len(buttons)]
                decisions = customer.press_data(button.data)  # type: ignore[attr-defined]
            case "replay" if self.seen:
                decisions = customer.press_data(self.seen[int(str(value)) % len(self.seen)])
            case "forged":
                decisions = customer.press_data(str(value))
            case "staff" if self.store.tickets():
                return self.staff(str(value), self.store.tickets()[-1].number)
            case _:
                decisions = []
        return list(decisions)

    def staff(self, action: str, number: int) -> list[object]:
        calls = {
            "raise": lambda: self.desk.set_tier(number, self.agent, Tier.EXTENDED),
            "lower": lambda: self.desk.set_tier(number, self.agent, Tier.STANDARD),
            "close": lambda: self.desk.close(number, self.agent, 20),
            "reopen": lambda: self.desk.reopen(number, self.agent),
        }
        try:
            return list(calls[action]())
        except StoreError:
            return []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=14))
def test_random_conversations_never_open_extended_work_without_agreement(
    steps: list[tuple[str, object]],
) -> None:
    """Whatever customers and staff do, extended tickets rest on an earlier agree consent."""
    with tempfile.TemporaryDirectory() as folder, TicketStore.open(Path(folder) / "t.db") as store:
        player = Player(store)
        for kind, value in steps:
            for decision in player.act(kind, value):
                if isinstance(decision, TicketOpened) and decision.tier is Tier.EXTENDED:
                    assert_own_agreement(store, decision.ticket_number)
            check_invariant(store)


def test_agreeing_before_describing_opens_on_that_agreement(tmp_path: Path) -> None:
    """Agree first, describe after (a step later): the ticket rests on that agree, its own.

    Found by the random conversations: an earlier check wanted the agree in the same step.
    """
    with TicketStore.open(tmp_path / "t.db") as store:
        player = Player(store)
        steps = [("command", "support"), ("press", 1), ("press", 0), ("say", TEXTS[0])]
        opened = [d for kind, value in steps for d in player.act(kind, value)]
        (ticket,) = [d for d in opened if isinstance(d, TicketOpened)]
        assert ticket.tier is Tier.EXTENDED
        assert_own_agreement(store, ticket.ticket_number)


def assert_own_agreement(store: TicketStore, number: int) -> None:
    """Assert that an extended ticket rests on an agree consent given for it, and no other."""
    ticket = store.ticket(number)
    assert ticket.consent_id is not None
    consent = store.consent(ticket.consent_id)
    assert consent.decision is ConsentDecision.AGREE
    assert consent.customer_id == ticket.customer_id
    assert consent.ticket_number in (None, number)  # asked for a new ticket, or for this one
    others = [t.number for t in store.tickets() if t.consent_id == consent.id]
    assert others == [number]  # not a consent reused from another ticket
