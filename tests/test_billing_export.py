"""`triagebot billing export`: the billed extended tickets of a month, exact, as CSV or table."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Clock

from bot.__main__ import main
from bot.content.model import Lang, Tier
from bot.tickets.billing_export import (
    CUSTOMER_COLUMNS,
    TICKET_COLUMNS,
    AgentTime,
    CustomerRow,
    Month,
    TicketRow,
    customer_rows,
    exact_sum,
    table,
    ticket_rows,
    write_csv,
)
from bot.tickets.model import ConsentDecision, Ticket
from bot.tickets.store import TicketStore
from bot.triage.billing import Tariff

EUR = Tariff("25.00", "EUR", 15)
CHF = Tariff("30.00", "CHF", 10)
EIGHTH_CENT = Tariff("0.125", "EUR", 1)
BERLIN = ZoneInfo("Europe/Berlin")
NOVEMBER = Month(2026, 11)
ANNA, BEN = 801, 802
ALICE, BOB = 900, 901
NOTICE = "Extended support – billed\nPrice: €25.00 per started quarter hour.\nAgree?"


def at(text: str) -> datetime:
    """Return the UTC instant of an ISO text such as 2026-11-10T10:00."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def extended(
    store: TicketStore,
    clock: Clock,
    customer: int,
    closed: datetime,
    *,
    work: tuple[tuple[int | None, int], ...] = (),
    tariff: Tariff = EUR,
) -> Ticket:
    """Agree, open an extended ticket, log the work and close it at `closed`."""
    clock.now = closed - timedelta(hours=2)
    store.upsert_customer(customer, language=Lang.EN, name=None, username=None)
    consent = store.record_consent(
        customer,
        ConsentDecision.AGREE,
        tariff,
        text=NOTICE,
        template="cost_notice",
        template_version="en/5e1f",
    )
    clock.advance(minutes=1)
    ticket = store.create_ticket(
        customer,
        tier=Tier.EXTENDED,
        request="Restore my site",
        due=clock.now + timedelta(hours=8),
        consent_id=consent.id,
    )
    for agent, minutes in work:
        clock.advance(minutes=1)
        store.log_time(ticket.number, agent, minutes)
    clock.now = closed
    return store.close_ticket(ticket.number, 0, tariff)


def standard(store: TicketStore, clock: Clock, customer: int, closed: datetime) -> Ticket:
    """Open a free standard ticket, log time on it and close it at `closed`."""
    clock.now = closed - timedelta(hours=1)
    store.upsert_customer(customer, language=Lang.EN, name=None, username=None)
    ticket = store.create_ticket(customer, tier=Tier.STANDARD, request="Password?", due=closed)
    clock.now = closed
    return store.close_ticket(ticket.number, 10, EUR, agent_id=ALICE)


def fill(store: TicketStore, clock: Clock) -> None:
    """Tickets around November 2026 in Berlin: billed, free, in December, reopened."""
    extended(store, clock, ANNA, at("2026-11-10T10:00"), work=((BOB, 8), (ALICE, 12)))  # 1001
    standard(store, clock, ANNA, at("2026-11-11T10:00"))  # 1002
    extended(store, clock, BEN, at("2026-11-20T10:00"))  # 1003: 0 minutes
    extended(store, clock, ANNA, at("2026-11-30T23:30"), work=((ALICE, 5),))  # 1004: December
    extended(store, clock, ANNA, at("2026-11-25T09:00"), work=((None, 25),), tariff=CHF)  # 1005
    reopened = extended(store, clock, BEN, at("2026-11-26T09:00"), work=((ALICE, 30),))  # 1006
    store.reopen(reopened.number)


@pytest.fixture
def filled(store: TicketStore, clock: Clock) -> TicketStore:
    """Return the conftest store with the tickets of `fill`."""
    fill(store, clock)
    return store


def test_rows_carry_the_consent_terms_the_exact_bill_and_the_agents(filled: TicketStore) -> None:
    """Each billed ticket of the month is a row with its consent's terms and its stored bill."""
    rows = ticket_rows(filled, NOVEMBER, BERLIN)
    assert [row.ticket for row in rows] == [1001, 1003, 1005]
    first = rows[0]
    assert first == TicketRow(
        ticket=1001,
        customer_id=ANNA,
        consent_at=at("2026-11-10T08:00"),
        rate=Decimal("25.00"),
        currency="EUR",
        increment_minutes=15,
        minutes=20,
        units=2,
        amount=Decimal("50.00"),
        agents=(AgentTime(ALICE, 12), AgentTime(BOB, 8)),
    )
    assert first.cells() == (
        "1001",
        "801",
        "2026-11-10T08:00:00Z",
        "25.00",
        "EUR",
        "15",
        "20",
        "2",
        "50.00",
        "900:12,901:8",
    )
    assert rows[1].cells()[6:] == ("0", "0", "0.00", "")
    assert rows[2].cells()[3:] == ("30.00", "CHF", "10", "25", "3", "90.00", "cli:25")


def test_command_line_time_sorts_after_the_agents(store: TicketStore, clock: Clock) -> None:
    """Minutes of one agent are summed; the command line (no agent) is `cli`, listed last."""
    work = ((None, 5), (BOB, 3), (ALICE, 4), (BOB, 2))
    extended(store, clock, ANNA, at("2026-11-10T10:00"), work=work)
    (row,) = ticket_rows(store, NOVEMBER, BERLIN)
    assert row.cells()[-1] == "900:4,901:5,cli:5"
    assert (row.minutes, row.units, row.amount) == (14, 1, Decimal("25.00"))


def test_amounts_below_a_cent_stay_exact(store: TicketStore, clock: Clock) -> None:
    """A rate with sub-cent digits gives the exact stored amount, not one rounded to cents."""
    extended(store, clock, ANNA, at("2026-11-10T10:00"), work=((ALICE, 3),), tariff=EIGHTH_CENT)
    (row,) = ticket_rows(store, NOVEMBER, BERLIN)
    assert row.cells()[3] == "0.125"
    assert row.cells()[8] == "0.375"


def test_months_end_at_local_midnight(filled: TicketStore) -> None:
    """Closed 2026-11-30T23:30Z is December in Berlin but November in UTC."""
    december = ticket_rows(filled, Month(2026, 12), BERLIN)
    assert [row.ticket for row in december] == [1004]
    in_utc = ticket_rows(filled, NOVEMBER, ZoneInfo("UTC"))
    assert [row.ticket for row in in_utc] == [1001, 1003, 1004, 1005]


def test_a_ticket_closed_just_after_local_midnight_starts_the_month(
    store: TicketStore, clock: Clock
) -> None:
    """Closed 2026-10-31T23:30Z (00:30 in Berlin) is November there, October in UTC."""
    extended(store, clock, ANNA, at("2026-10-31T23:30"), work=((ALICE, 1),))
    assert [row.ticket for row in ticket_rows(store, NOVEMBER, BERLIN)] == [1001]
    assert ticket_rows(store, Month(2026, 10), BERLIN) == []
    assert [row.ticket for row in ticket_rows(store, Month(2026, 10), ZoneInfo("UTC"))] == [1001]


def test_standard_and_reopened_tickets_are_not_billed(filled: TicketStore, clock: Clock) -> None:
    """Standard tickets (free) and reopened tickets not closed again are left out."""
    numbers = [row.ticket for row in ticket_rows(filled, NOVEMBER, BERLIN)]
    assert 1002 not in numbers
    assert 1006 not in numbers
    clock.now = at("2026-12-02T09:00")
    filled.close_ticket(1006, 5, EUR, agent_id=BOB)
    (row,) = [row for row in ticket_rows(filled, Month(2026, 12), BERLIN) if row.ticket == 1006]
    assert (row.minutes, row.units, row.amount) == (35, 3, Decimal("75.00"))
    assert row.cells()[-1] == "900:30,901:5"


def test_by_customer_sums_exactly_per_customer_and_currency(filled: TicketStore) -> None:
    """One row per customer and currency, with exact sums of the tickets' amounts."""
    rows = customer_rows(ticket_rows(filled, NOVEMBER, BERLIN))
    assert rows == [
        CustomerRow(ANNA, "CHF", 1, 25, 3, Decimal("90.00")),
        CustomerRow(ANNA, "EUR", 1, 20, 2, Decimal("50.00")),
        CustomerRow(BEN, "EUR", 1, 0, 0, Decimal("0.00")),
    ]
    assert exact_sum([Decimal("0.1"), Decimal("0.2"), Decimal("1E+30")]) == Decimal(
        "1000000000000000000000000000000.3"
    )


def test_customer_rows_add_several_tickets(store: TicketStore, clock: Clock) -> None:
    """Two tickets of one customer in one currency make one row with summed figures."""
    extended(store, clock, ANNA, at("2026-11-03T10:00"), work=((ALICE, 20),))
    extended(store, clock, ANNA, at("2026-11-04T10:00"), work=((BOB, 16),), tariff=EIGHTH_CENT)
    assert customer_rows(ticket_rows(store, NOVEMBER, BERLIN)) == [
        CustomerRow(ANNA, "EUR", 2, 36, 18, Decimal("52.000"))
    ]


def test_csv_parses_back(filled: TicketStore) -> None:
    """The CSV has the header and one record per row, with CRLF line ends."""
    rows = ticket_rows(filled, NOVEMBER, BERLIN)
    stream = io.StringIO(newline="")
    write_csv(stream, TICKET_COLUMNS, rows)
    text = stream.getvalue()
    assert text.startswith(",".join(TICKET_COLUMNS) + "\r\n")
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [record["ticket"] for record in records] == ["1001", "1003", "1005"]
    assert records[0]["agents"] == "900:12,901:8"
    assert records[0]["amount"] == "50.00"


def test_table_aligns_and_totals(filled: TicketStore) -> None:
    """The table has a header, aligned rows and a total line per currency."""
    rows = customer_rows(ticket_rows(filled, NOVEMBER, BERLIN))
    lines = table(CUSTOMER_COLUMNS, rows, NOVEMBER).splitlines()
    assert lines[0].split() == list(CUSTOMER_COLUMNS)
    assert lines[2].split() == ["801", "1", "25", "3", "90.00", "CHF"]
    assert lines[2].index("CHF") == lines[0].index("currency")
    assert lines[2].index("90.00") + 5 == lines[0].index("amount") + 6
    assert lines[-1] == "total: 2 customers, 3 tickets, 45 minutes, 5 units, 90.00 CHF, 50.00 EUR"
    assert table(CUSTOMER_COLUMNS, [], NOVEMBER) == "no billed tickets in 2026-11"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "11/2026", "", "0999-01"])
def test_month_parse_refuses_what_is_not_a_month(text: str) -> None:
    """Only YYYY-MM with a month from 01 to 12 (and a sensible year) is a month."""
    with pytest.raises(ValueError, match=r"month|year"):
        Month.parse(text)


def test_month_bounds_are_local_midnights() -> None:
    """November in Berlin runs from 31 Oct 23:00 UTC to 30 Nov 23:00 UTC; December wraps."""
    assert Month.parse("2026-11").bounds(BERLIN) == (at("2026-10-31T23:00"), at("2026-11-30T23:00"))
    assert Month(2026, 12).bounds(ZoneInfo("UTC"))[1] == at("2027-01-01T00:00")
    assert str(Month(2026, 3)) == "2026-03"


# The command line


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Write a config with a Berlin timezone and a database path next to it."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[storage]\ndatabase = "data/billing.sqlite3"\n[sla]\ntimezone = "Europe/Berlin"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def billed(config: Path, clock: Clock) -> Path:
    """Fill the config's database with the tickets of `fill`; return the config."""
    with TicketStore.open(config.parent / "data" / "billing.sqlite3", clock=clock) as store:
        fill(store, clock)
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI; return its exit status, stdout and stderr."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_writes_csv_to_stdout(billed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default is CSV on stdout, one record per billed ticket of the month."""
    status, out, err = run(
        capsys, "billing", "export", "--month", "2026-11", "--config", str(billed)
    )
    assert (status, err) == (0, "")
    records = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [record["ticket"] for record in records] == ["1001", "1003", "1005"]
    expected = "1001 801 2026-11-10T08:00:00Z 25.00 EUR 15 20 2 50.00 900:12,901:8".split()
    assert records[0] == dict(zip(TICKET_COLUMNS, expected, strict=True))


def test_cli_by_customer_to_a_file(
    billed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--by-customer --output writes the per-customer CSV into the file, nothing on stdout."""
    output = tmp_path / "november.csv"
    status, out, _ = run(
        capsys,
        "billing",
        "--config",
        str(billed),
        "export",
        "--month",
        "2026-11",
        "--by-customer",
        "--output",
        str(output),
    )
    assert (status, out) == (0, "")
    data = output.read_bytes().decode("utf-8")
    assert data.splitlines()[0] == ",".join(CUSTOMER_COLUMNS)
    assert data.count("\r\n") == 4
    records = list(csv.DictReader(io.StringIO(data, newline="")))
    assert [(r["customer_id"], r["currency"], r["amount"]) for r in records] == [
        ("801", "CHF", "90.00"),
        ("801", "EUR", "50.00"),
        ("802", "EUR", "0.00"),
    ]


def test_cli_table_has_a_total_line(billed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format table prints the aligned rows and the totals."""
    status, out, _ = run(
        capsys,
        "billing",
        "export",
        "--month",
        "2026-12",
        "--format",
        "table",
        "--config",
        str(billed),
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == list(TICKET_COLUMNS)
    assert lines[2].split() == "1004 801 2026-11-30T21:30:00Z 25.00 EUR 15 5 1 25.00 900:5".split()
    assert lines[-1] == "total: 1 customer, 1 ticket, 5 minutes, 1 unit, 25.00 EUR"


@pytest.mark.parametrize(
    ("form", "expected"),
    [("csv", ",".join(TICKET_COLUMNS) + "\r\n"), ("table", "no billed tickets in 2026-09\n")],
)
def test_cli_month_without_billed_tickets(
    billed: Path, capsys: pytest.CaptureFixture[str], form: str, expected: str
) -> None:
    """A month with nothing billed gives the header only, or says so, and exits 0."""
    status, out, _ = run(
        capsys, "billing", "export", "--month", "2026-09", "--format", form, "--config", str(billed)
    )
    assert (status, out) == (0, expected)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "november"])
def test_cli_bad_month_exits_2(
    billed: Path, capsys: pytest.CaptureFixture[str], month: str
) -> None:
    """A month that is not YYYY-MM is a usage error naming the option."""
    with pytest.raises(SystemExit) as caught:
        main(["billing", "export", "--month", month, "--config", str(billed)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --month" in err
    assert month in err


def test_cli_without_a_database_exits_2(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No database yet: one line on stderr, exit 2, and no file is created."""
    output = config.parent / "out.csv"
    status, out, err = run(
        capsys,
        "billing",
        "export",
        "--month",
        "2026-11",
        "--output",
        str(output),
        "--config",
        str(config),
    )
    assert (status, out) == (2, "")
    assert err.count("\n") == 1
    assert "no database yet" in err
    assert not output.exists()
    assert not (config.parent / "data").exists()


def test_cli_unwritable_output_exits_2(billed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An output file in a folder that does not exist is one line on stderr and exit 2."""
    output = billed.parent / "missing" / "out.csv"
    status, _, err = run(
        capsys,
        "billing",
        "export",
        "--month",
        "2026-11",
        "--output",
        str(output),
        "--config",
        str(billed),
    )
    assert status == 2
    assert err.strip() == f"triagebot: {output}: cannot write: No such file or directory"
