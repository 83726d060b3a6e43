"""Billing math: per started increment, exact decimals, rounded only for display."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.triage.billing import Bill, Tariff

minutes = st.integers(min_value=0, max_value=100_000)
increments = st.integers(min_value=1, max_value=240)
rates = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False, allow_infinity=False)


def tariff(rate: Decimal | str = "25.00", increment: int = 15) -> Tariff:
    """Return a euro tariff with the given rate and increment."""
    return Tariff(rate, "EUR", increment)


@given(minutes, increments)
def test_units_is_the_smallest_count_of_increments_covering_the_minutes(
    worked: int, increment: int
) -> None:
    """The unit count is the least n with n increments reaching the minutes worked."""
    units = tariff(increment=increment).units(worked)
    assert units * increment >= worked
    assert units == 0 or (units - 1) * increment < worked


@given(minutes, increments, rates)
def test_amount_is_units_times_rate_exactly(worked: int, increment: int, rate: Decimal) -> None:
    """The amount equals units times rate with no rounding at all."""
    bill = tariff(rate, increment).bill(worked)
    assert bill.amount == bill.units * rate
    assert bill.minutes == worked
    assert bill.currency == "EUR"


@given(minutes, minutes, increments, rates)
def test_more_minutes_never_cost_less(a: int, b: int, increment: int, rate: Decimal) -> None:
    """Units and amount never decrease as minutes grow."""
    low, high = sorted((a, b))
    billing = tariff(rate, increment)
    assert billing.units(low) <= billing.units(high)
    assert billing.bill(low).amount <= billing.bill(high).amount


@given(increments, rates)
def test_zero_minutes_bill_nothing(increment: int, rate: Decimal) -> None:
    """No work bills zero units and a zero amount."""
    bill = tariff(rate, increment).bill(0)
    assert bill.units == 0
    assert bill.amount == 0


@pytest.mark.parametrize(
    ("worked", "units"), [(0, 0), (1, 1), (14, 1), (15, 1), (16, 2), (20, 2), (30, 2), (31, 3)]
)
def test_a_started_quarter_hour_counts_in_full(worked: int, units: int) -> None:
    """At a 15-minute increment every started quarter hour is one unit."""
    assert tariff().units(worked) == units


def test_close_after_20_minutes_bills_two_units_of_the_rate() -> None:
    """The spec's example: /close 20 at 25.00 per quarter hour bills 2 units, 50.00."""
    assert tariff("25.00", 15).bill(20) == Bill(20, 2, Decimal("50.00"), "EUR")


def test_rate_given_as_decimal_equals_rate_given_as_string() -> None:
    """A Decimal rate and the same rate as a string make the same tariff."""
    assert tariff(Decimal("25.00")) == tariff("25.00")


def test_odd_rates_stay_exact_and_round_only_for_display() -> None:
    """A rate of 0.333 keeps every digit in the amount and rounds half up only on display."""
    bill = tariff("0.333").bill(16)
    assert bill.amount == Decimal("0.666")
    assert str(bill.amount) == "0.666"
    assert bill.display_amount == Decimal("0.67")


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("0.005", "0.01"), ("0.004", "0.00"), ("2.675", "2.68"), ("50", "50.00"), ("0", "0.00")],
)
def test_display_amount_rounds_half_up_to_cents(amount: str, shown: str) -> None:
    """Display rounding is half up to two places, whatever the amount's exponent."""
    bill = Bill(1, 1, Decimal(amount), "EUR")
    assert str(bill.display_amount) == shown
    assert bill.amount == Decimal(amount)


def test_amounts_beyond_the_default_precision_stay_exact() -> None:
    """A rate with more digits than the default 28-digit context is multiplied exactly."""
    bill = tariff("1234567890.1234567890123456789", 1).bill(99_999)
    assert str(bill.amount) == "123455554444455.5554444455555443211"


def test_negative_minutes_are_rejected() -> None:
    """Negative minutes raise a ValueError naming the value."""
    with pytest.raises(ValueError, match="minutes must not be negative, got -1"):
        tariff().bill(-1)


@pytest.mark.parametrize("rate", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_rates_are_rejected(rate: str) -> None:
    """NaN and infinite rates raise a ValueError."""
    with pytest.raises(ValueError, match="rate must be a finite number"):
        tariff(rate)


@pytest.mark.parametrize("rate", ["-0.01", "-25", "-0"])
def test_negative_rates_are_rejected(rate: str) -> None:
    """Negative rates raise a ValueError."""
    with pytest.raises(ValueError, match="rate must not be negative"):
        tariff(rate)


@pytest.mark.parametrize("rate", ["25,00", "", "abc", "25 EUR"])
def test_rates_that_are_not_decimal_numbers_are_rejected(rate: str) -> None:
    """A string that is not a decimal number raises a ValueError quoting it."""
    with pytest.raises(ValueError, match="is not a decimal number"):
        tariff(rate)


def test_float_rates_are_rejected() -> None:
    """A float rate raises a TypeError, since floats cannot hold cents exactly."""
    with pytest.raises(TypeError, match="not float"):
        Tariff(25.0, "EUR", 15)  # type: ignore[arg-type]


def test_a_zero_rate_is_allowed() -> None:
    """A zero rate bills units but no money."""
    assert tariff("0").bill(20).amount == 0


@pytest.mark.parametrize("increment", [0, -15])
def test_increments_below_one_minute_are_rejected(increment: int) -> None:
    """An increment under one minute raises a ValueError."""
    with pytest.raises(ValueError, match="increment_minutes must be at least 1"):
        tariff(increment=increment)


@pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "€", "E1R", "ÄUR", ""])
def test_currency_must_be_an_iso_4217_code(currency: str) -> None:
    """Anything but three capital ASCII letters is rejected as a currency."""
    with pytest.raises(ValueError, match="ISO 4217"):
        Tariff("25.00", currency, 15)


def test_tariffs_and_bills_are_immutable() -> None:
    """Tariff and Bill are frozen values."""
    billing = tariff()
    with pytest.raises(AttributeError):
        billing.rate = Decimal(1)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        billing.bill(1).units = 2  # type: ignore[misc]
