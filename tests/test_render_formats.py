"""Money, dates and durations in each customer's locale."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.formats import Formats

DE = Formats.create("de", "EUR", "Europe/Berlin")
EN = Formats.create("en", "EUR", "Europe/Berlin")


@pytest.mark.parametrize(
    ("formats", "value", "expected"),
    [
        (DE, Decimal("25"), "25,00 €"),
        (EN, Decimal("25"), "€25.00"),
        (DE, Decimal("25.00"), "25,00 €"),
        (EN, "25.00", "€25.00"),
        (DE, 0, "0,00 €"),
        (DE, Decimal("1234.5"), "1.234,50 €"),
        (EN, Decimal("1234.5"), "€1,234.50"),
        (DE, Decimal("0.125"), "0,13 €"),
        (EN, Decimal("0.005"), "€0.01"),
        (EN, Decimal("-12.5"), "-€12.50"),
    ],
)
def test_money_is_exact_in_the_locale(formats: Formats, value: Decimal, expected: str) -> None:
    """Amounts print as the spec writes them, rounded half-up to cents only for display."""
    assert formats.money(value) == expected


def test_money_takes_another_currency() -> None:
    """A stored consent keeps its own currency."""
    assert DE.money(Decimal("30"), "CHF") == "30,00 CHF"
    assert EN.money(Decimal("30"), "USD") == "US$30.00"


def test_money_refuses_floats() -> None:
    """Floats are not exact; money takes Decimal, int or str only."""
    with pytest.raises(TypeError):
        DE.money(25.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DE.money(True)


@given(st.decimals(min_value=0, max_value=10**6, places=2))
def test_money_keeps_every_cent(value: Decimal) -> None:
    """A two-place amount round-trips through the German format unchanged."""
    text = DE.money(value)
    assert text.endswith(" €")
    assert Decimal(text.removesuffix(" €").replace(".", "").replace(",", ".")) == value


def test_datetime_is_shown_in_the_configured_timezone() -> None:
    """Moments are shown in local time with the zone, winter and summer."""
    winter = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)
    assert DE.datetime(winter) == "Mo., 30. Nov. 2026, 10:00 MEZ"
    assert EN.datetime(winter) == "Mon 30 Nov 2026, 10:00 CET"
    assert DE.datetime(summer) == "Mi., 1. Juli 2026, 11:00 MESZ"
    assert EN.datetime(summer) == "Wed 1 Jul 2026, 11:00 CEST"


def test_a_naive_datetime_counts_as_utc() -> None:
    """Timestamps stored without a zone are UTC."""
    assert DE.datetime(dt.datetime(2026, 11, 30, 9, 0)) == "Mo., 30. Nov. 2026, 10:00 MEZ"


def test_date_uses_the_local_day() -> None:
    """Late UTC evening is already the next day in Berlin."""
    late = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)
    assert DE.date(late) == "Di., 1. Dez. 2026"
    assert EN.date(dt.date(2026, 11, 30)) == "Mon 30 Nov 2026"


def test_other_timezones() -> None:
    """The configured zone decides the shown time."""
    utc = Formats.create("en", "EUR", "UTC")
    moment = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    assert utc.datetime(moment) == "Mon 30 Nov 2026, 09:00 UTC"


@pytest.mark.parametrize(
    ("formats", "value", "expected"),
    [
        (DE, 1, "1 Minute"),
        (DE, 15, "15 Minuten"),
        (DE, 1000, "1.000 Minuten"),
        (EN, 1, "1 minute"),
        (EN, 15, "15 minutes"),
    ],
)
def test_minutes_in_words(formats: Formats, value: int, expected: str) -> None:
    """Durations use the language's plural."""
    assert formats.minutes(value) == expected


def test_bad_settings_are_refused() -> None:
    """Unknown language, currency or timezone fail when the formats are made."""
    with pytest.raises(ValueError, match="language"):
        Formats.create("fr", "EUR", "UTC")
    with pytest.raises(ValueError, match="currency"):
        Formats.create("de", "€", "UTC")
    with pytest.raises(ValueError, match="timezone"):
        Formats.create("de", "EUR", "Nowhere/Else")
