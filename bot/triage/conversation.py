"""The customer conversation as a state machine: events in, decisions out.

Every event is handled under the customer's lock and in one store transaction, so a
restart continues where the customer was, and two messages of one customer that arrive
together never open two tickets.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bot.content.model import Entry, Lang, Tier
from bot.matching.decision import Decision as Match
from bot.matching.decision import Kind
from bot.matching.engine import MatchingEngine
from bot.matching.text import detect_language
from bot.tickets.model import (
    AuthorKind,
    ConsentDecision,
    ScoredEntry,
    Ticket,
    TicketStatus,
    TranscriptStep,
)
from bot.tickets.protocol import ConversationStore
from bot.tickets.sla import BusinessHours, FirstResponse
from bot.triage.billing import Tariff
from bot.triage.classifier import Classifier, Verdict
from bot.triage.decisions import (
    Button,
    ButtonAnswer,
    Decision,
    Outbox,
    Reply,
    Text,
    Texts,
    TopicStatus,
)
from bot.triage.events import (
    Attachment,
    ButtonPressed,
    CustomerCommand,
    CustomerEvent,
    CustomerFile,
    CustomerOther,
    CustomerText,
    Person,
)
from bot.triage.intents import (
    asks_for_human,
    customer_reference,
    describes_problem,
    language_of_client,
)
from bot.triage.staff_view import StaffView, link
from bot.triage.state import Handoff, LastQuestion, Notice, State, Step

CUSTOMER_BUTTON = "c:"
STAFF_BUTTON = "s:"
LOGGED_CANDIDATES = 5
ALTERNATIVES = 3
ALTERNATIVE_MIN_SCORE = 0.2
TICKETS_SHOWN = 10
# Agree (billed) first, decline second: the order PRODUCT.md §5 fixes.
CONSENT_BUTTONS = [[("consent_agree", "agree")], [("consent_decline", "decline")]]
# Steps in which a text is not a question (a description, or an answer to a pending offer).
_NOT_QUESTIONS = frozenset({Step.DESCRIPTION.value, Step.TIER.value, Step.CONSENT.value})

Clock = Callable[[], datetime]
# Buttons to show, in rows: (label key, action) or (label key, action, label values).
ButtonSpec = tuple[str, str] | tuple[str, str, dict[str, Any]]
ButtonRows = Sequence[Sequence[ButtonSpec]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Policy:
    """The support terms the conversation applies: price, business hours, response times."""

    tariff: Tariff
    hours: BusinessHours
    first_response: FirstResponse
    staff_lang: Lang = Lang.DE


@dataclass(slots=True)
class _Turn:
    """One event being handled: the customer, their state, and what to send."""

    person: Person
    state: State
    recorded_lang: Lang  # the customer's language as the store has it
    decisions: list[Decision] = field(default_factory=list)
    buttons: dict[str, str] | None = None
    forget: bool = False
    # A question matched before the transaction began: (the text, its decision).
    matched: tuple[str, Match] | None = None

    @property
    def lang(self) -> Lang:
        return self.state.lang

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def clear_buttons(self) -> None:
        self.buttons = {}


class Conversation:
    """Handle customer events and staff requests that concern the customer's chat."""

    def __init__(
        self,
        store: ConversationStore,
        engine: MatchingEngine,
        classifier: Classifier,
        texts: Texts,
        policy: Policy,
        *,
        outbox: Outbox | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.texts = texts
        self.policy = policy
        self._engine = engine
        self._classifier = classifier
        self._clock = clock
        self.staff_view = StaffView(store, texts, policy.staff_lang, lambda: self._engine.content)
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def engine(self) -> MatchingEngine:
        """Return the matching engine questions are answered with."""
        return self._engine

    def use_engine(self, engine: MatchingEngine, classifier: Classifier) -> None:
        """Answer from now on with a new engine (after the content changed)."""
        self._engine, self._classifier = engine, classifier

    @contextmanager
    def customer_lock(self, customer_id: int) -> Iterator[None]:
        """Hold the customer's lock: their events are handled one at a time."""
        with self._locks_guard:
            lock = self._locks.setdefault(customer_id, threading.Lock())
        with lock:
            yield

    def handle(self, event: CustomerEvent) -> list[Decision]:
        """Handle one customer event and return what to send."""
        person = event.person
        with self.customer_lock(person.id):
            matched = self._match_early(event)
            # Nothing in a turn catches a store error: one failure undoes the whole turn.
            with self.store.transaction(all_or_nothing=True):
                turn = self._begin(person, wrote=True)
                turn.matched = matched
                self._dispatch(turn, event)
                if not turn.forget:
                    self._save(turn)
                self.queue(turn.decisions)
            if turn.forget:
                with self.store.transaction():
                    self._forget(turn)
        return turn.decisions

    def _match_early(self, event: CustomerEvent) -> tuple[str, Match] | None:
        """Match a text that will be taken as a question before the transaction begins.

        Matching is the slow part of a turn, and a write transaction held through it keeps
        every other writer of the database (the dispatcher recording deliveries, another
        process) waiting. The checks mirror `_text` on what is saved now; the transaction
        decides again, and uses the match only for the same text (matching depends on the
        text alone).
        """
        if not isinstance(event, CustomerText):
            return None
        text = event.text.strip()
        if not text or asks_for_human(text):
            return None
        step, open_ticket = self.store.glance(event.person.id, "step")
        if step in _NOT_QUESTIONS or open_ticket:
            return None
        return text, self._engine.decide(text)

    def queue(self, decisions: list[Decision]) -> None:
        """Put decisions in the outbox (inside the caller's transaction), if there is one.

        Button answers are not queued: they belong to the button press happening now.
        """
        if self.outbox is not None:
            self.outbox.enqueue([d for d in decisions if not isinstance(d, ButtonAnswer)])

    def ask_to_raise(self, ticket: Ticket, also: Sequence[Decision] = ()) -> list[Decision]:
        """Show the customer of a standard ticket the price and ask them to agree to extended.

        The ticket stays standard until they agree; the caller holds no customer lock.
        `also` are the caller's decisions to queue in the same transaction.
        """
        with self.customer_lock(ticket.customer_id), self.store.transaction():
            customer = self.store.customer(ticket.customer_id)
            person = Person(ticket.customer_id)
            if customer is not None:
                person = Person(customer.id, customer.name, customer.username)
            turn = self._begin(person)
            handoff = Handoff(
                tier=Tier.EXTENDED, request=ticket.request, raise_ticket=ticket.number
            )
            self._cost_notice(turn, handoff)
            self._save(turn)
            decisions = [*also, *turn.decisions]
            self.queue(decisions)
        return decisions

    # Turn set-up and saving

    def _begin(self, person: Person, *, wrote: bool = False) -> _Turn:
        saved = self.store.get_state(person.id)
        if saved is None:
            state = State(lang=language_of_client(person.language_code) or Lang.DE)
        else:
            state = State.from_json(saved.data)
        self.store.upsert_customer(
            person.id,
            language=state.lang,
            name=person.name,
            username=person.username,
            wrote=wrote,
        )
        return _Turn(person, state, recorded_lang=state.lang)

    def _save(self, turn: _Turn) -> None:
        if turn.buttons is not None:
            turn.update(buttons=turn.buttons)
        if turn.lang is not turn.recorded_lang:
            self.store.upsert_customer(
                turn.person.id,
                language=turn.lang,
                name=turn.person.name,
                username=turn.person.username,
            )
        self.store.put_state(turn.person.id, turn.state.to_json())

    def _forget(self, turn: _Turn) -> None:
        summary = self.store.forget_customer(turn.person.id)
        kept = summary.consents_kept + summary.billed_tickets_kept
        before = len(turn.decisions)
        self._reply(turn, "forget_done", kept_records=kept)
        self.queue(turn.decisions[before:])

    # Dispatch

    def _dispatch(self, turn: _Turn, event: CustomerEvent) -> None:
        match event:
            case CustomerText(text=text):
                self._text(turn, text.strip())
            case CustomerCommand(command=command, argument=argument):
                self._command(turn, command.lower(), argument.strip())
            case ButtonPressed(data=data):
                self._button_pressed(turn, data)
            case CustomerFile(attachment=attachment):
                self._file(turn, attachment)
            case CustomerOther():
                self._reply(turn, "unsupported_message")

    def _text(self, turn: _Turn, text: str) -> None:
        if not text:
            self._reply(turn, "unsupported_message")
            return
        if not turn.state.lang_chosen:
            turn.update(lang=detect_language(text) or turn.lang)
        if turn.state.step is Step.DESCRIPTION and turn.state.handoff is not None:
            self._proceed(turn, replace(turn.state.handoff, request=text))
            return
        if turn.state.step in (Step.TIER, Step.CONSENT):
            self._remind(turn)
            return
        ticket = self._open_ticket(turn)
        if ticket is not None:
            self._to_ticket(turn, ticket, text, None)
        elif asks_for_human(text):
            self._start_handoff(turn, text if describes_problem(text) else "")
        else:
            self._question(turn, text)

    def _file(self, turn: _Turn, attachment: Attachment) -> None:
        ticket = self._open_ticket(turn)
        if ticket is None:
            self._reply(turn, "unsupported_message")
        else:
            self._to_ticket(turn, ticket, attachment.caption, attachment)

    def _command(self, turn: _Turn, command: str, argument: str) -> None:
        match command:
            case "start":
                self._start(turn)
            case "help":
                self._reply(turn, "help")
            case "language":
                self._reply(
                    turn,
                    "language_choose",
                    buttons=[[("language_de", "lang:de"), ("language_en", "lang:en")]],
                )
            case "support":
                self._start_handoff(turn, argument if describes_problem(argument) else "")
            case "tickets":
                self._tickets(turn)
            case "cancel":
                self._cancel(turn)
            case "forget":
                self._withdraw_open_tickets(turn)
                turn.forget = True
            case _:
                self._reply(turn, "help")

    def _button_pressed(self, turn: _Turn, data: str) -> None:
        token = data.removeprefix(CUSTOMER_BUTTON)
        action = turn.state.buttons.get(token) if data.startswith(CUSTOMER_BUTTON) else None
        if action is None:
            self._expired(turn)
            return
        name, _, value = action.partition(":")
        match name:
            case "helped" | "didnt_help" | "none":
                self._feedback(turn, name)
            case "pick":
                self._pick(turn, value)
            case "rephrase":
                self._reply(turn, "rephrase")
            case "support":
                self._start_handoff(turn, "")
            case "tickets":
                self._tickets(turn)
            case "language":
                self._command(turn, "language", "")
            case "lang":
                turn.update(lang=Lang(value), lang_chosen=True)
                turn.clear_buttons()
                self._reply(turn, "language_set")
            case "tier" if turn.state.step is Step.TIER and turn.state.handoff:
                turn.clear_buttons()
                self._proceed(turn, replace(turn.state.handoff, tier=Tier(value)))
            case "agree" | "decline" if turn.state.step is Step.CONSENT and turn.state.handoff:
                turn.clear_buttons()
                self._decide_on_price(turn, turn.state.handoff, ConsentDecision(name))
            case _:
                self._expired(turn)

    def _expired(self, turn: _Turn) -> None:
        message = self.texts.render(turn.lang, "button_expired")
        turn.decisions.append(ButtonAnswer(turn.person.id, message))

    # Questions and answers

    def _question(self, turn: _Turn, text: str) -> None:
        if turn.matched is not None and turn.matched[0] == text:
            decision = turn.matched[1]
        else:
            decision = self._engine.decide(text)
        logged = self.store.log_question(
            turn.person.id,
            text,
            language=turn.lang,
            decision=decision.kind.value,
            candidates=[
                ScoredEntry(c.entry.id, c.score)
                for c in decision.ranking.candidates[:LOGGED_CANDIDATES]
            ],
        )
        offered = tuple(self._localised(c.entry, turn.lang) for c in decision.offered)
        ids = tuple(entry.id for entry in offered)
        turn.update(last=LastQuestion(logged.id, text, ids), step=Step.IDLE, handoff=None)
        turn.state = turn.state.with_step(TranscriptStep(text, decision.kind.value, ids))
        if decision.kind is Kind.ANSWER:
            self._answer(turn, offered[0])
        elif decision.kind is Kind.SUGGEST:
            self._reply(
                turn,
                "suggest",
                suggestions=[link(entry) for entry in offered],
                buttons=[
                    *(
                        [("suggestion", f"pick:{entry.id}", {"title": entry.title})]
                        for entry in offered
                    ),
                    [("none_of_these", "none")],
                ],
            )
        else:
            self._reply(
                turn, "abstain", buttons=[[("rephrase", "rephrase")], [("support", "support")]]
            )

    def _answer(self, turn: _Turn, entry: Entry) -> None:
        self._reply(
            turn,
            "answer",
            title=entry.title,
            summary=entry.summary or entry.body,
            url=entry.url,
            entry_lang=entry.lang.value,
            buttons=[
                [("helped", "helped"), ("didnt_help", "didnt_help")],
                [("support", "support")],
            ],
        )

    def _pick(self, turn: _Turn, entry_id: str) -> None:
        entry = self._engine.content.by_id.get(entry_id)
        last = turn.state.last
        if entry is None or last is None:
            self._expired(turn)
            return
        self.store.set_feedback(last.log_id, f"picked:{entry_id}")
        turn.update(last=replace(last, offered=(entry_id,)))
        turn.state = turn.state.with_feedback(f"picked:{entry_id}")
        self._answer(turn, self._localised(entry, turn.lang))

    def _feedback(self, turn: _Turn, feedback: str) -> None:
        last = turn.state.last
        if last is not None:
            self.store.set_feedback(last.log_id, feedback)
            turn.state = turn.state.with_feedback(feedback)
        if feedback == "helped":
            self._reply(turn, "helped")
        else:
            self._reply(
                turn, "didnt_help", buttons=[[("rephrase", "rephrase")], [("support", "support")]]
            )

    def _localised(self, entry: Entry, lang: Lang) -> Entry:
        if entry.lang is lang or entry.translation is None:
            return entry
        return self._engine.content.by_id.get(entry.translation, entry)

    # Handoff: tier, price and consent, description, ticket

    def _start_handoff(self, turn: _Turn, request: str) -> None:
        ticket = self._open_ticket(turn)
        if ticket is not None:
            self._reply(turn, "ticket_open", number=ticket.number)
            return
        last = turn.state.last
        request = request or (last.text if last else "")
        # The entry the customer was answered with (or picked) tells the tier by itself.
        answered = None
        if last is not None and len(last.offered) == 1:
            answered = self._engine.content.by_id.get(last.offered[0])
        category = answered.category if answered else ""
        tier: Tier | None = None
        if answered is not None and answered.tier is Tier.EXTENDED:
            tier = Tier.EXTENDED
        elif request:
            verdict = self._classifier.classify(request).verdict
            tier = None if verdict is Verdict.UNCLEAR else Tier(verdict.value)
        self._proceed(turn, Handoff(tier=tier, request=request, category=category))

    def _proceed(self, turn: _Turn, handoff: Handoff) -> None:
        if handoff.tier is None:
            turn.update(step=Step.TIER, handoff=handoff)
            self._reply(
                turn,
                "ask_tier",
                buttons=[[("tier_fault", "tier:standard")], [("tier_own", "tier:extended")]],
            )
        elif handoff.tier is Tier.EXTENDED and handoff.consent_id is None:
            self._cost_notice(turn, handoff)
        elif not handoff.request:
            turn.update(step=Step.DESCRIPTION, handoff=handoff)
            self._reply(turn, "ask_description", tier=handoff.tier.value)
        else:
            self._open(turn, handoff.tier, handoff)

    def _cost_notice(self, turn: _Turn, handoff: Handoff) -> None:
        tariff = self.policy.tariff
        text = self.texts.render(
            turn.lang, "cost_notice", rate=tariff.rate, increment=tariff.increment_minutes
        )
        notice = Notice(
            text.text,
            text.template,
            text.version,
            str(tariff.rate),
            tariff.currency,
            tariff.increment_minutes,
        )
        turn.update(step=Step.CONSENT, handoff=replace(handoff, notice=notice))
        self._send(turn, text, CONSENT_BUTTONS)

    def _remind(self, turn: _Turn) -> None:
        self._reply(turn, "choose_button")
        handoff = turn.state.handoff
        if turn.state.step is Step.CONSENT and handoff is not None and handoff.notice:
            self._send(turn, handoff.notice, CONSENT_BUTTONS)
        elif handoff is not None:
            self._proceed(turn, handoff)
        else:
            turn.update(step=Step.IDLE)

    def _decide_on_price(self, turn: _Turn, handoff: Handoff, decision: ConsentDecision) -> None:
        notice = handoff.notice
        if notice is None:
            self._expired(turn)
            return
        consent = self.store.record_consent(
            turn.person.id,
            decision,
            notice.tariff,
            text=notice.text,
            template=notice.template,
            template_version=notice.version,
            ticket_number=handoff.raise_ticket,
        )
        if decision is ConsentDecision.DECLINE:
            turn.update(step=Step.IDLE, handoff=None)
            if handoff.raise_ticket is not None:
                self._staff(handoff.raise_ticket, "consent_declined_staff", turn.decisions)
            self._reply(turn, "consent_declined", alternatives=self._alternatives(turn, handoff))
        elif handoff.raise_ticket is not None:
            turn.update(step=Step.IDLE, handoff=None)
            self.store.set_tier(handoff.raise_ticket, Tier.EXTENDED, consent_id=consent.id)
            self._staff(handoff.raise_ticket, "tier_changed", turn.decisions, tier="extended")
            self._reply(turn, "consent_given", number=handoff.raise_ticket)
        else:
            self._proceed(turn, replace(handoff, consent_id=consent.id))

    def _alternatives(self, turn: _Turn, handoff: Handoff) -> list[dict[str, str]]:
        if not handoff.request:
            return []
        ranking = self._engine.rank(handoff.request)
        entries: dict[str, Entry] = {}
        for candidate in ranking.candidates:
            if candidate.score < ALTERNATIVE_MIN_SCORE or len(entries) == ALTERNATIVES:
                break
            entry = self._localised(candidate.entry, turn.lang)
            entries.setdefault(entry.id, entry)
        return [link(entry) for entry in entries.values()]

    def _open(self, turn: _Turn, tier: Tier, handoff: Handoff) -> None:
        now = self._clock()
        due = self.policy.first_response.due(self.policy.hours, now, tier)
        transcript = turn.state.transcript
        ticket = self.store.create_ticket(
            turn.person.id,
            tier=tier,
            request=handoff.request,
            due=due,
            category=handoff.category,
            transcript=transcript,
            customer_ref=customer_reference(handoff.request, *(s.question for s in transcript)),
            consent_id=handoff.consent_id,
        )
        turn.update(step=Step.IDLE, handoff=None, last=None, transcript=())
        turn.clear_buttons()
        self._reply(
            turn, "ticket_created", number=ticket.number, first_response_due=due, tier=tier.value
        )
        turn.decisions.append(self.staff_view.ticket_opened(ticket))

    # Tickets from the customer's side

    def _open_ticket(self, turn: _Turn) -> Ticket | None:
        tickets = self.store.open_tickets(turn.person.id)
        return tickets[-1] if tickets else None

    def _to_ticket(
        self, turn: _Turn, ticket: Ticket, text: str, attachment: Attachment | None
    ) -> None:
        thread = self.store.messages(ticket.number)
        self.store.add_message(
            ticket.number,
            AuthorKind.CUSTOMER,
            text,
            author_id=turn.person.id,
            attachment=None if attachment is None else attachment.to_json(),
        )
        if ticket.status is TicketStatus.WAITING and ticket.agent_id is not None:
            self.store.claim(ticket.number, ticket.agent_id)
        self._staff(
            ticket.number,
            "customer_message",
            turn.decisions,
            file=attachment,
            text=text,
            attachment=attachment.kind if attachment else "",
        )
        # One acknowledgement per run of customer messages, not one per message.
        if not thread or thread[-1].author_kind is not AuthorKind.CUSTOMER:
            self._reply(turn, "ticket_message_received", number=ticket.number)

    def _tickets(self, turn: _Turn) -> None:
        tickets = self.store.tickets_of_customer(turn.person.id, TICKETS_SHOWN)
        self._reply(
            turn,
            "tickets_list",
            tickets=[
                {
                    "number": t.number,
                    "status": t.status.value,
                    "tier": t.tier.value,
                    "subject": t.request,
                    "opened": t.created_at,
                }
                for t in tickets
            ],
        )

    def _cancel(self, turn: _Turn) -> None:
        if turn.state.step is not Step.IDLE:
            turn.update(step=Step.IDLE, handoff=None)
            turn.clear_buttons()
            self._reply(turn, "cancel_done", number=None)
        elif withdrawn := self._withdraw_open_tickets(turn):
            for number in withdrawn:
                self._reply(turn, "cancel_done", number=number)
        else:
            self._reply(turn, "nothing_to_cancel")

    def _withdraw_open_tickets(self, turn: _Turn) -> list[int]:
        withdrawn = []
        for ticket in self.store.open_tickets(turn.person.id):
            self.store.close_ticket(ticket.number, 0, self.policy.tariff)
            self._staff(ticket.number, "ticket_withdrawn", turn.decisions)
            turn.decisions.append(TopicStatus(ticket.number, closed=True))
            withdrawn.append(ticket.number)
        return withdrawn

    def _start(self, turn: _Turn) -> None:
        if not turn.state.lang_chosen:
            turn.update(lang=language_of_client(turn.person.language_code) or turn.lang)
        turn.update(step=Step.IDLE, handoff=None)
        self._reply(
            turn,
            "greeting",
            name=turn.person.name or "",
            buttons=[
                [("support", "support"), ("my_tickets", "tickets")],
                [("language", "language")],
            ],
        )

    # Sending

    def _reply(
        self,
        turn: _Turn,
        template: str,
        /,
        *,
        buttons: ButtonRows = (),
        **values: object,
    ) -> None:
        self._send(turn, self.texts.render(turn.lang, template, **values), buttons)

    def _send(
        self,
        turn: _Turn,
        message: Text,
        buttons: ButtonRows,
    ) -> None:
        keyboard = tuple(tuple(self._button(turn, *spec) for spec in row) for row in buttons)
        turn.decisions.append(Reply(turn.person.id, message, keyboard))

    def _button(
        self, turn: _Turn, key: str, action: str, label_values: dict[str, Any] | None = None
    ) -> Button:
        if turn.buttons is None:
            turn.buttons = {}
        token = secrets.token_urlsafe(6)
        turn.buttons[token] = action
        return Button(
            self.texts.button(turn.lang, key, **(label_values or {})), f"{CUSTOMER_BUTTON}{token}"
        )

    def _staff(
        self,
        number: int,
        name: str,
        decisions: list[Decision],
        *,
        file: Attachment | None = None,
        **values: object,
    ) -> None:
        decisions.append(self.staff_view.post(number, name, file=file, **values))
