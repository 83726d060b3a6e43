"""The SLA clock: business hours, public holidays and first-response due times."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from bot.content.model import Tier

# Enough to cross any real holiday season; only a misconfiguration stays closed longer.
MAX_CLOSED_DAYS = 366


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When support works: weekdays (0 = Monday), daily hours and public holidays."""

    timezone: str
    weekdays: frozenset[int]
    opens: time
    closes: time
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", _zone(self.timezone))
        object.__setattr__(self, "weekdays", _check_weekdays(self.weekdays))
        _check_hours(self.opens, self.closes)
        _check_holidays(self.holiday_country, self.holiday_subdivision)

    def is_business_day(self, day: date) -> bool:
        """Return whether `day` is a working weekday and not a public holiday."""
        return day.weekday() in self.weekdays and day not in self._holidays(day.year)

    def is_open(self, at: datetime) -> bool:
        """Return whether support works at the instant `at`."""
        instant = _utc(at, "at")
        day = instant.astimezone(self._zone).date()
        if not self.is_business_day(day):
            return False
        opening, closing = self._window(day)
        return opening <= instant < closing

    def next_opening(self, at: datetime) -> datetime:
        """Return `at` in UTC if support works then, else the UTC instant it next opens."""
        instant = _utc(at, "at")
        opening, _ = self._next_window(instant)
        return max(opening, instant)

    def due(self, start: datetime, minutes: int) -> datetime:
        """Return the first UTC instant by which `minutes` of business time have passed."""
        cursor = _utc(start, "start")
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise TypeError(f"minutes must be an int, not {minutes!r}")
        if minutes < 0:
            raise ValueError(f"minutes must not be negative, got {minutes}")
        remaining = timedelta(minutes=minutes)
        # Zero minutes are due at once, even when closed: that keeps due() additive.
        while remaining:
            opening, closing = self._next_window(cursor)
            begin = max(opening, cursor)
            if remaining <= closing - begin:
                return begin + remaining
            remaining -= closing - begin
            cursor = closing
        return cursor

    def _holidays(self, year: int) -> frozenset[date]:
        if self.holiday_country is None:
            return frozenset()
        return _holiday_dates(self.holiday_country, self.holiday_subdivision, year)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        # Arithmetic happens in UTC: subtracting two aware datetimes that share a tzinfo
        # compares wall clocks and would be an hour off across a DST change.
        # An hour that does not exist (the spring-forward gap) resolves to the later wall
        # clock, so a window inside the gap can come out empty, never negative.
        opening = datetime.combine(day, self.opens, self._zone).astimezone(UTC)
        closing = datetime.combine(day, self.closes, self._zone).astimezone(UTC)
        return opening, max(opening, closing)

    def _next_window(self, instant: datetime) -> tuple[datetime, datetime]:
        day = instant.astimezone(self._zone).date()
        for offset in range(MAX_CLOSED_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.is_business_day(candidate):
                opening, closing = self._window(candidate)
                if closing > instant:
                    return opening, closing
        raise ValueError(f"business hours stay closed for more than {MAX_CLOSED_DAYS} days")


@dataclass(frozen=True, slots=True)
class FirstResponse:
    """The first-response target per support tier, in business minutes."""

    standard_minutes: int
    extended_minutes: int

    def __post_init__(self) -> None:
        for name in ("standard_minutes", "extended_minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {value!r}")
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")

    def minutes(self, tier: Tier | str) -> int:
        """Return the first-response target in business minutes for `tier`."""
        match _tier(tier):
            case Tier.STANDARD:
                return self.standard_minutes
            case Tier.EXTENDED:
                return self.extended_minutes

    def due(self, hours: BusinessHours, start: datetime, tier: Tier | str) -> datetime:
        """Return the UTC instant a first response to a `tier` ticket opened at `start` is due."""
        return hours.due(start, self.minutes(tier))


def _tier(tier: Tier | str) -> Tier:
    try:
        return Tier(tier)
    except ValueError:
        choices = " or ".join(repr(t.value) for t in Tier)
        raise ValueError(f"tier must be {choices}, not {tier!r}") from None


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown timezone {name!r}") from None


def _check_weekdays(weekdays: frozenset[int]) -> frozenset[int]:
    days = frozenset(weekdays)
    if not days:
        raise ValueError("weekdays must name at least one day (0 = Monday ... 6 = Sunday)")
    if not days <= frozenset(range(7)):
        raise ValueError(f"weekdays must be 0 (Monday) to 6 (Sunday), got {sorted(days)}")
    return days


def _check_hours(opens: time, closes: time) -> None:
    if opens.tzinfo is not None or closes.tzinfo is not None:
        raise ValueError("opens and closes are wall-clock times in the timezone: no tzinfo")
    if not opens < closes:
        raise ValueError(f"opens ({opens}) must be before closes ({closes})")


def _check_holidays(country: str | None, subdivision: str | None) -> None:
    if country is None:
        if subdivision is not None:
            raise ValueError(f"holiday subdivision {subdivision!r} needs a holiday country")
        return
    if country not in holidays.list_supported_countries():
        raise ValueError(f"unknown holiday country {country!r}")
    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        raise ValueError(
            f"unknown holiday subdivision {subdivision!r} for country {country!r}"
        ) from None


@functools.lru_cache(maxsize=64)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


@dataclass(frozen=True, slots=True)
class Reminders:
    """When the staff side is reminded: overdue tickets every few minutes, and a daily overview."""

    every_minutes: int = 60
    daily_overview: time = time(8, 30)
