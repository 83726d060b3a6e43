"""The conversation state: what the bot remembers about a customer, saved as JSON."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.content.model import Lang, Tier
from bot.tickets.model import TranscriptStep
from bot.triage.billing import Tariff
from bot.triage.state import (
    TRANSCRIPT_LIMIT,
    VERSION,
    Handoff,
    LastQuestion,
    Notice,
    State,
    Step,
)

NOTICE = Notice(
    text="Preis: 25,00 € pro angefangener Viertelstunde",
    template="cost_notice",
    version="3",
    rate="25.00",
    currency="EUR",
    increment_minutes=15,
)

FULL = State(
    lang=Lang.EN,
    lang_chosen=True,
    step=Step.CONSENT,
    buttons={"a1": "tier:extended", "b2": "helped"},
    last=LastQuestion(42, "locked out by iptables", ("server-firewall", "server-rescue")),
    transcript=(
        TranscriptStep("how do I change my password", "answer", ("password",), "helped"),
        TranscriptStep("locked out by iptables", "suggest", ("server-firewall", "server-rescue")),
    ),
    handoff=Handoff(
        tier=Tier.EXTENDED,
        request="locked out by iptables",
        category="Server",
        notice=NOTICE,
        consent_id=7,
        raise_ticket=1001,
    ),
)


def through_json(state: State) -> State:
    """Return the state after a trip through JSON text, as the ticket store keeps it."""
    return State.from_json(json.loads(json.dumps(state.to_json())))


def test_full_state_survives_a_json_round_trip() -> None:
    """Every part of a state (handoff with notice, transcript, buttons, last) comes back equal."""
    again = through_json(FULL)
    assert again == FULL
    assert again.handoff is not None
    assert again.handoff.notice == NOTICE
    assert again.handoff.tier is Tier.EXTENDED
    assert again.step is Step.CONSENT
    assert again.lang is Lang.EN


def test_to_json_writes_the_version_and_plain_values() -> None:
    """The JSON carries the version and enum values as strings, and nothing JSON can't hold."""
    data = FULL.to_json()
    assert data["version"] == VERSION
    assert data["lang"] == "en"
    assert data["step"] == "consent"
    assert data["handoff"]["tier"] == "extended"
    assert data["handoff"]["notice"]["rate"] == "25.00"
    assert json.loads(json.dumps(data)) == data


def test_empty_state_round_trips_with_its_defaults() -> None:
    """A fresh state comes back as a fresh state: German, idle, nothing remembered."""
    again = through_json(State())
    assert again == State()
    assert again.lang is Lang.DE
    assert again.step is Step.IDLE
    assert again.handoff is None
    assert again.last is None


def test_handoff_without_notice_round_trips() -> None:
    """A handoff still waiting for its tier (no tier, no notice) comes back the same."""
    state = State(step=Step.TIER, handoff=Handoff(request="Mein Server ist down"))
    assert through_json(state) == state


@pytest.mark.parametrize("version", [VERSION + 1, 0, None])
def test_unknown_version_starts_afresh_in_the_saved_language(version: int | None) -> None:
    """A state of another version is dropped, except for the customer's language."""
    data = FULL.to_json()
    data["version"] = version
    assert State.from_json(data) == State(lang=Lang.EN)


def test_state_without_version_or_language_is_a_fresh_german_state() -> None:
    """An empty JSON object reads as the default state."""
    assert State.from_json({}) == State()


def test_with_step_keeps_the_latest_questions_up_to_the_limit() -> None:
    """Adding questions beyond TRANSCRIPT_LIMIT drops the oldest ones."""
    state = State()
    for number in range(TRANSCRIPT_LIMIT + 5):
        state = state.with_step(TranscriptStep(f"question {number}"))
    assert len(state.transcript) == TRANSCRIPT_LIMIT
    assert state.transcript[0].question == "question 5"
    assert state.transcript[-1].question == f"question {TRANSCRIPT_LIMIT + 4}"


def test_with_step_returns_a_new_state() -> None:
    """with_step leaves the state it was called on unchanged."""
    state = State()
    longer = state.with_step(TranscriptStep("Wie ändere ich mein Passwort?"))
    assert state.transcript == ()
    assert [step.question for step in longer.transcript] == ["Wie ändere ich mein Passwort?"]


def test_with_feedback_marks_only_the_latest_step() -> None:
    """Feedback goes to the latest question; earlier ones keep theirs."""
    state = State().with_step(TranscriptStep("first", feedback="helped"))
    state = state.with_step(TranscriptStep("second"))
    marked = state.with_feedback("didnt_help")
    assert [step.feedback for step in marked.transcript] == ["helped", "didnt_help"]
    assert state.transcript[-1].feedback is None


def test_with_feedback_on_empty_transcript_is_a_no_op() -> None:
    """Without any question there is nothing to give feedback on: the state stays the same."""
    state = State(lang=Lang.EN)
    assert state.with_feedback("helped") is state


def test_notice_states_its_tariff() -> None:
    """A notice's tariff is the rate, currency and increment it showed, as exact decimals."""
    assert NOTICE.tariff == Tariff(Decimal("25.00"), "EUR", 15)


def test_state_is_frozen() -> None:
    """A state cannot be changed in place; the with_ methods return new ones."""
    with pytest.raises(FrozenInstanceError):
        FULL.step = Step.IDLE  # type: ignore[misc]


_text = st.text(max_size=30)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)
_steps = st.builds(
    TranscriptStep,
    question=_text,
    decision=st.sampled_from(["", "answer", "suggest", "abstain"]),
    offered=st.lists(_ids, max_size=3).map(tuple),
    feedback=st.none() | st.sampled_from(["helped", "didnt_help", "none"]),
)
_notices = st.builds(
    Notice,
    text=_text,
    template=st.just("cost_notice"),
    version=st.from_regex(r"[0-9]{1,3}", fullmatch=True),
    rate=st.decimals(min_value=0, max_value=1000, places=2).map(str),
    currency=st.sampled_from(["EUR", "CHF", "USD"]),
    increment_minutes=st.integers(min_value=1, max_value=60),
)
_handoffs = st.builds(
    Handoff,
    tier=st.none() | st.sampled_from(Tier),
    request=_text,
    category=_text,
    notice=st.none() | _notices,
    consent_id=st.none() | st.integers(min_value=1, max_value=10**9),
    raise_ticket=st.none() | st.integers(min_value=1001, max_value=10**6),
)
_states = st.builds(
    State,
    lang=st.sampled_from(Lang),
    lang_chosen=st.booleans(),
    step=st.sampled_from(Step),
    buttons=st.dictionaries(_ids, _text, max_size=4),
    last=st.none()
    | st.builds(
        LastQuestion,
        log_id=st.integers(min_value=1, max_value=10**9),
        text=_text,
        offered=st.lists(_ids, max_size=3).map(tuple),
    ),
    transcript=st.lists(_steps, max_size=TRANSCRIPT_LIMIT).map(tuple),
    handoff=st.none() | _handoffs,
)


@given(_states)
def test_any_state_survives_a_json_round_trip(state: State) -> None:
    """Whatever the state holds, JSON text brings it back equal."""
    assert through_json(state) == state
