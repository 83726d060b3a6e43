"""Billing for extended support: per started increment, in exact decimals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation

CENT = Decimal("0.01")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class Bill:
    """The billed result of some minutes of work; `amount` is exact."""

    minutes: int
    units: int
    amount: Decimal
    currency: str

    @property
    def display_amount(self) -> Decimal:
        """Return the amount rounded half up to cents, for display only."""
        return _round_to_cents(self.amount)


@dataclass(frozen=True, slots=True, init=False)
class Tariff:
    """A rate per started increment of minutes, in one currency."""

    rate: Decimal
    currency: str
    increment_minutes: int

    def __init__(self, rate: Decimal | str, currency: str, increment_minutes: int) -> None:
        object.__setattr__(self, "rate", _parse_rate(rate))
        object.__setattr__(self, "currency", _check_currency(currency))
        object.__setattr__(self, "increment_minutes", _check_increment(increment_minutes))

    def units(self, minutes: int) -> int:
        """Return the number of started increments in `minutes`."""
        _check_minutes(minutes)
        return -(-minutes // self.increment_minutes)

    def bill(self, minutes: int) -> Bill:
        """Return the bill for `minutes` of work: every started increment counts in full."""
        units = self.units(minutes)
        return Bill(minutes, units, _exact_product(self.rate, units), self.currency)


def _parse_rate(rate: object) -> Decimal:
    # A float would already have lost the cents (0.1 is not 1/10), so only exact inputs pass.
    if isinstance(rate, str):
        try:
            value = Decimal(rate)
        except InvalidOperation:
            raise ValueError(f"rate {rate!r} is not a decimal number") from None
    elif isinstance(rate, Decimal):
        value = rate
    else:
        raise TypeError(f"rate must be a Decimal or a decimal string, not {type(rate).__name__}")
    if not value.is_finite():
        raise ValueError(f"rate must be a finite number, not {value}")
    if value.is_signed():
        raise ValueError(f"rate must not be negative, got {value}")
    return value


def _check_currency(currency: object) -> str:
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise ValueError(
            f"currency must be an ISO 4217 code of 3 capital letters, not {currency!r}"
        )
    return currency


def _check_increment(increment_minutes: object) -> int:
    if isinstance(increment_minutes, bool) or not isinstance(increment_minutes, int):
        raise TypeError(f"increment_minutes must be an int, not {increment_minutes!r}")
    if increment_minutes < 1:
        raise ValueError(f"increment_minutes must be at least 1, got {increment_minutes}")
    return increment_minutes


def _check_minutes(minutes: object) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise TypeError(f"minutes must be an int, not {minutes!r}")
    if minutes < 0:
        raise ValueError(f"minutes must not be negative, got {minutes}")


def _exact_product(rate: Decimal, units: int) -> Decimal:
    # The default context keeps 28 digits and would round silently; size the precision
    # to the operands and trap Inexact so an amount is exact or an error.
    precision = len(rate.as_tuple().digits) + len(str(units))
    context = Context(prec=precision, traps=[Inexact, InvalidOperation])
    return context.multiply(rate, Decimal(units))


def _round_to_cents(amount: Decimal) -> Decimal:
    precision = max(amount.adjusted(), 0) + 3
    return amount.quantize(CENT, rounding=ROUND_HALF_UP, context=Context(prec=precision))
