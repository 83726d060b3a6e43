"""Numbers, money, dates and durations written the way each language writes them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, get_currency_precision
from babel.units import format_unit

_LOCALES = {"de": "de_DE", "en": "en_GB"}

_DATETIME = {"de": "EEE, d. MMM y, HH:mm z", "en": "EEE d MMM y, HH:mm z"}
_DATE = {"de": "EEE, d. MMM y", "en": "EEE d MMM y"}

# Babel separates amount and symbol with a no-break space; the product spec (and every
# price the content quotes) writes a plain space, so prices read and compare the same.
_NARROW_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})


@dataclass(frozen=True, slots=True)
class Formats:
    """Locale-aware formatting for one language, one currency and one timezone."""

    language: str
    locale: Locale
    currency: str
    zone: ZoneInfo

    @classmethod
    def create(cls, language: str, currency: str, timezone: str) -> Formats:
        """Return the formats for a language ("de"/"en"), an ISO currency and an IANA zone."""
        if language not in _LOCALES:
            raise ValueError(f"unsupported language {language!r} (known: de, en)")
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code like EUR, not {currency!r}")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {timezone!r}") from None
        return cls(language, Locale.parse(_LOCALES[language]), currency, zone)

    def money(self, value: Decimal | int | str, currency: str | None = None) -> str:
        """Return an exact amount rounded half-up to the currency's cents: `25,00 €`, `€25.00`."""
        if isinstance(value, bool | float):
            raise TypeError(f"money needs a Decimal, int or str, not {type(value).__name__}")
        code = currency or self.currency
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValueError(f"money needs a finite amount, not {value!r}")
        cents = Decimal(1).scaleb(-get_currency_precision(code))
        rounded = amount.quantize(cents, rounding=ROUND_HALF_UP)
        text = format_currency(rounded, code, locale=self.locale)
        return text.translate(_NARROW_SPACES)

    def datetime(self, value: dt.datetime) -> str:
        """Return a moment in the configured timezone; a naive value is taken as UTC."""
        moment = _aware(value).astimezone(self.zone)
        text = format_datetime(moment, _DATETIME[self.language], locale=self.locale)
        return text.translate(_NARROW_SPACES)

    def date(self, value: dt.date) -> str:
        """Return a calendar day; a datetime is first moved into the configured timezone."""
        day = (
            _aware(value).astimezone(self.zone).date() if isinstance(value, dt.datetime) else value
        )
        return format_date(day, _DATE[self.language], locale=self.locale)

    def minutes(self, value: int) -> str:
        """Return a number of minutes in words: `15 Minuten`, `1 minute`."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"minutes needs an int, not {type(value).__name__}")
        text = format_unit(value, "duration-minute", length="long", locale=self.locale)
        return text.translate(_NARROW_SPACES)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
