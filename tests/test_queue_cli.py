"""`triagebot queue list|show N|close N [MINUTES]` on the database the config names."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import START, Clock

from bot.__main__ import main
from bot.content.model import Lang, Tier
from bot.tickets.model import AuthorKind, ConsentDecision, TicketStatus, TranscriptStep
from bot.tickets.outbox import Outbox
from bot.tickets.store import TicketStore
from bot.triage.billing import Tariff
from bot.triage.decisions import Message, Reply, StaffPost

TARIFF = Tariff("25.00", "EUR", 15)
ANNA = 801
AGENT = 42
NOTICE = "Extended support – billed\nPrice: €25.00 per started quarter hour.\nAgree?"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Write a config whose database lies in a folder next to it."""
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text(
        '[storage]\ndatabase = "data/queue.sqlite3"\n'
        '[billing]\nrate = "25.00"\ncurrency = "EUR"\nincrement_minutes = 15\n'
        '[sla]\ntimezone = "Europe/Berlin"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def queue(config: Path, clock: Clock) -> Path:
    """Fill the config's database through the store: an extended and a standard ticket."""
    with TicketStore.open(config.parent / "data" / "queue.sqlite3", clock=clock) as store:
        store.upsert_customer(ANNA, language=Lang.EN, name="Anna Muster", username="anna")
        consent = store.record_consent(
            ANNA,
            ConsentDecision.AGREE,
            TARIFF,
            text=NOTICE,
            template="cost_notice",
            template_version="en/5e1f",
        )
        clock.advance(minutes=2)
        extended = store.create_ticket(
            ANNA,
            tier=Tier.EXTENDED,
            request="My WordPress site shows a white page since I installed a new theme yesterday",
            due=START + timedelta(hours=8),
            category="Webdesign",
            transcript=(
                TranscriptStep("site white", "suggest", ("website-blank", "php-version"), "none"),
            ),
            customer_ref="example.org",
            consent_id=consent.id,
        )
        store.add_message(
            extended.number,
            AuthorKind.CUSTOMER,
            "Here is a screenshot",
            author_id=ANNA,
            attachment={"kind": "photo", "file_id": "AgADBA"},
        )
        store.add_message(extended.number, AuthorKind.NOTE, "# theme breaks PHP 8", author_id=AGENT)
        store.claim(extended.number, AGENT)
        store.log_time(extended.number, AGENT, 5)
        store.create_ticket(
            ANNA, tier=Tier.STANDARD, request="Mail server rejects my password", due=START
        )
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI; return its exit status, stdout and stderr."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_list_prints_one_line_per_ticket(queue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each line has number, status, tier, customer, created, SLA due and the request's start."""
    status, out, _ = run(capsys, "queue", "list", "--config", str(queue))
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 2
    first, second = lines
    for word in ("1001", "claimed", "extended", "Anna Muster", "@anna", "2026-06-15 10:02 CEST"):
        assert word in first
    assert "due 2026-06-15 18:00 CEST" in first
    assert "My WordPress site shows a white page" in first
    assert first.endswith("…")
    assert second.split()[:3] == ["1002", "open", "standard"]
    assert "Mail server rejects my password" in second


def test_list_filters_by_status(queue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--status shows only tickets in that status, and says so when there are none."""
    _, out, _ = run(capsys, "queue", "list", "--status", "open", "--config", str(queue))
    assert [line.split()[0] for line in out.splitlines()] == ["1002"]
    _, out, _ = run(capsys, "queue", "list", "--status", "closed", "--config", str(queue))
    assert out.strip() == "no closed tickets"


def test_config_may_come_before_the_action(queue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`queue --config FILE list` works as well as `queue list --config FILE`."""
    status, out, _ = run(capsys, "queue", "--config", str(queue), "list")
    assert status == 0
    assert len(out.splitlines()) == 2


def test_show_prints_the_whole_ticket(queue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """show prints customer, request, transcript, messages, consent record, time and billing."""
    status, out, _ = run(capsys, "queue", "show", "1001", "--config", str(queue))
    assert status == 0
    expected = [
        "Ticket 1001 · extended · claimed",
        "Anna Muster (@anna) [801], language en",
        "SLA due:     2026-06-15 18:00 CEST",
        "Agent:       42",
        "Category:    Webdesign",
        "Reference:   example.org",
        "My WordPress site shows a white page since I installed a new theme yesterday",
        "'site white' -> suggest: website-blank, php-version (feedback: none)",
        "customer 801:",
        "Here is a screenshot",
        "[attachment: photo AgADBA]",
        "note 42:",
        "# theme breaks PHP 8",
        "#1 agree at 2026-06-15 08:00:00 UTC",
        "terms:     25.00 EUR per started 15 minutes",
        "template:  cost_notice, version en/5e1f",
        "Time logged: 5 minutes",
        "Billing:     computed when the ticket is closed",
    ]
    for text in expected:
        assert text in out, text
    for line in NOTICE.splitlines():
        assert f"    {line}" in out.splitlines(), line


def test_close_bills_an_extended_ticket(queue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """close N MINUTES logs the minutes, bills all logged time and closes the ticket."""
    status, out, _ = run(capsys, "queue", "close", "1001", "20", "--config", str(queue))
    assert status == 0
    assert out.strip() == "ticket 1001 closed: 25 minutes logged, 2 units billed, 50.00 EUR"
    with TicketStore.open(queue.parent / "data" / "queue.sqlite3") as store:
        ticket = store.ticket(1001)
    assert ticket.status is TicketStatus.CLOSED
    assert ticket.bill is not None
    assert (ticket.minutes_logged, ticket.bill.units, str(ticket.bill.amount)) == (25, 2, "50.00")
    _, out, _ = run(capsys, "queue", "show", "1001", "--config", str(queue))
    assert "Billing:     25 minutes since the consent: 2 units = 50.00 EUR" in out
    assert "20 min via the command line" in out


def test_close_without_minutes_on_a_standard_ticket(
    queue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A standard ticket closes without a bill; minutes default to 0."""
    status, out, _ = run(capsys, "queue", "close", "1002", "--config", str(queue))
    assert status == 0
    assert out.strip() == "ticket 1002 closed: 0 minutes logged, standard support, not billed"


@pytest.mark.parametrize("action", [("show", "4711"), ("close", "4711", "10")])
def test_unknown_ticket_number_exits_2_with_one_line(
    queue: Path, capsys: pytest.CaptureFixture[str], action: tuple[str, ...]
) -> None:
    """A ticket number that does not exist stops with exit 2 and one line naming it."""
    status, out, err = run(capsys, "queue", *action, "--config", str(queue))
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "no ticket 4711" in err


def test_closing_a_closed_ticket_is_refused(
    queue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Closing twice is an error with one line; the first bill stands."""
    run(capsys, "queue", "close", "1001", "20", "--config", str(queue))
    status, _, err = run(capsys, "queue", "close", "1001", "20", "--config", str(queue))
    assert status == 2
    assert err.strip() == "triagebot: cannot close ticket 1001: it is closed"


def test_negative_minutes_are_a_usage_error(
    queue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Minutes below zero are refused by the argument parser."""
    with pytest.raises(SystemExit) as caught:
        main(["queue", "close", "1001", "-5", "--config", str(queue)])
    assert caught.value.code == 2
    assert "minutes" in capsys.readouterr().err


def test_a_missing_database_exits_2_and_is_not_created(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before any conversation there is no database: the CLI says so and creates none."""
    status, _, err = run(capsys, "queue", "list", "--config", str(config))
    assert status == 2
    assert "no database yet" in err
    assert not (config.parent / "data").exists()


def test_outbox_lists_waiting_and_failed_deliveries(
    config: Path, queue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`queue outbox` shows what has not gone out: waiting with its next try, failed with why."""
    assert main(["queue", "outbox", "--config", str(config)]) == 0
    assert "every delivery went out" in capsys.readouterr().out
    with TicketStore.open(config.parent / "data" / "queue.sqlite3") as store:
        outbox = Outbox(store)
        with store.transaction():
            outbox.enqueue([StaffPost(1001, Message("<b>Hi</b>", "customer_message", "v1"))])
            outbox.enqueue([Reply(ANNA, Message("Hallo", "agent_reply", "v1"))])
        waiting, blocked = outbox.waiting()
        outbox.retry(waiting.id, "Timed out", timedelta(minutes=5))
        outbox.fail(blocked.id, "Forbidden: bot was blocked by the user")
    assert main(["queue", "outbox", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "ticket:1001" in lines[0]
    assert "waiting" in lines[0]
    assert "Timed out" in lines[0]
    assert "FAILED" in lines[1]
    assert "blocked by the user" in lines[1]
