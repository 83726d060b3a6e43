"""The SLA clock: business hours, holidays, DST and first-response due times."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.content.model import Tier
from bot.tickets.sla import BusinessHours, FirstResponse

BERLIN = ZoneInfo("Europe/Berlin")
WORKDAYS = frozenset(range(5))


def office(country: str | None = "DE", subdivision: str | None = None) -> BusinessHours:
    """Return Berlin business hours, Monday to Friday 08:00-18:00."""
    return BusinessHours("Europe/Berlin", WORKDAYS, time(8), time(18), country, subdivision)


def berlin(day: str, clock: str) -> datetime:
    """Return the Berlin wall-clock instant of an ISO date and an HH:MM time."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=BERLIN)


def utc(day: str, clock: str) -> datetime:
    """Return the UTC instant of an ISO date and an HH:MM time."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)


def test_minutes_inside_business_hours_count_one_to_one() -> None:
    """A Monday 10:00 start plus 60 minutes is due at 11:00 the same day."""
    assert office().due(berlin("2026-06-15", "10:00"), 60) == berlin("2026-06-15", "11:00")


def test_due_is_returned_in_utc() -> None:
    """The due instant carries the UTC timezone, whatever the start's zone was."""
    due = office().due(berlin("2026-06-15", "10:00"), 60)
    assert due.tzinfo is UTC
    assert due == utc("2026-06-15", "09:00")


def test_start_in_another_zone_means_the_same_instant() -> None:
    """A start given in UTC gives the same due time as the same instant in Berlin time."""
    hours = office()
    assert hours.due(utc("2026-06-15", "08:00"), 90) == hours.due(berlin("2026-06-15", "10:00"), 90)


def test_time_after_closing_carries_over_the_weekend() -> None:
    """Friday 17:30 plus 60 minutes with 08:00-18:00 hours is due Monday 08:30."""
    assert office().due(berlin("2026-06-19", "17:30"), 60) == berlin("2026-06-22", "08:30")


def test_a_start_on_saturday_counts_from_monday_opening() -> None:
    """A ticket opened on Saturday starts counting at Monday 08:00."""
    assert office().due(berlin("2026-06-20", "11:00"), 45) == berlin("2026-06-22", "08:45")


def test_a_start_before_opening_counts_from_opening() -> None:
    """A ticket opened at 06:00 on a weekday starts counting at 08:00."""
    assert office().due(berlin("2026-06-15", "06:00"), 30) == berlin("2026-06-15", "08:30")


def test_a_target_can_end_exactly_at_closing() -> None:
    """Work that fills the day to the minute is due at closing, not the next morning."""
    assert office().due(berlin("2026-06-15", "17:00"), 60) == berlin("2026-06-15", "18:00")


def test_a_long_target_spans_several_days() -> None:
    """Twenty business hours from Friday 12:00 are 6 on Friday, 10 on Monday, 4 on Tuesday."""
    assert office().due(berlin("2026-06-19", "12:00"), 20 * 60) == berlin("2026-06-23", "12:00")


def test_zero_minutes_are_due_at_the_start_even_when_closed() -> None:
    """A zero target is due at once, so due() stays additive."""
    start = berlin("2026-06-20", "11:00")
    assert office().due(start, 0) == start


def test_a_national_holiday_is_skipped() -> None:
    """Labour Day, Friday 2026-05-01, does not count: Thursday 17:30 + 60 is Monday 08:30."""
    start = berlin("2026-04-30", "17:30")
    assert office().due(start, 60) == berlin("2026-05-04", "08:30")
    assert office(country=None).due(start, 60) == berlin("2026-05-01", "08:30")


def test_christmas_is_skipped() -> None:
    """Christmas Day 2026 (a Friday) does not count, Christmas Eve is a working day."""
    hours = office()
    assert hours.due(berlin("2026-12-24", "17:30"), 60) == berlin("2026-12-28", "08:30")
    assert hours.is_open(berlin("2026-12-24", "10:00"))
    assert not hours.is_open(berlin("2026-12-25", "10:00"))


def test_a_regional_holiday_counts_only_in_its_subdivision() -> None:
    """Women's Day, Monday 2027-03-08, is closed in Berlin (BE) but open elsewhere in DE."""
    start = berlin("2027-03-05", "17:30")
    assert office(subdivision="BE").due(start, 60) == berlin("2027-03-09", "08:30")
    assert office().due(start, 60) == berlin("2027-03-08", "08:30")
    assert not office(subdivision="BE").is_open(berlin("2027-03-08", "10:00"))
    assert office(subdivision="BY").is_open(berlin("2027-03-08", "10:00"))


def test_spring_forward_shifts_the_utc_due_time_by_an_hour() -> None:
    """Across the March DST change, Monday 08:30 Berlin is 06:30 UTC, not 07:30."""
    assert office().due(berlin("2026-03-20", "17:30"), 60) == utc("2026-03-23", "07:30")
    assert office().due(berlin("2026-03-27", "17:30"), 60) == utc("2026-03-30", "06:30")


def test_fall_back_shifts_the_utc_due_time_by_an_hour() -> None:
    """Across the October DST change, Monday 08:30 Berlin is 07:30 UTC, not 06:30."""
    assert office().due(berlin("2026-10-16", "17:30"), 60) == utc("2026-10-19", "06:30")
    assert office().due(berlin("2026-10-23", "17:30"), 60) == utc("2026-10-26", "07:30")


def test_business_time_is_elapsed_time_on_a_dst_night() -> None:
    """Wall-clock hours 00:00-06:00 hold five real hours in March and seven in October."""
    night = BusinessHours("Europe/Berlin", frozenset(range(7)), time(0), time(6), None, None)
    spring = berlin("2026-03-29", "00:00")
    assert night.due(spring, 300) == utc("2026-03-29", "04:00")
    assert night.due(spring, 301) == utc("2026-03-29", "22:01")
    autumn = berlin("2026-10-25", "00:00")
    assert night.due(autumn, 420) == utc("2026-10-25", "05:00")
    assert night.due(autumn, 421) == utc("2026-10-25", "23:01")


def test_opening_hours_inside_the_spring_gap_do_not_break_the_clock() -> None:
    """Hours opening in the missing DST hour open when it ends, and may be empty that day."""
    short = BusinessHours(
        "Europe/Berlin", frozenset(range(7)), time(2, 30), time(3, 15), None, None
    )
    assert short.due(berlin("2026-03-28", "12:00"), 10) == berlin("2026-03-30", "02:40")
    long = BusinessHours("Europe/Berlin", frozenset(range(7)), time(2, 30), time(4), None, None)
    assert long.next_opening(berlin("2026-03-29", "00:00")) == berlin("2026-03-29", "03:30")
    assert long.due(berlin("2026-03-29", "00:00"), 30) == berlin("2026-03-29", "04:00")


def test_is_open_includes_opening_and_excludes_closing() -> None:
    """Business hours are the half-open interval from opening to closing."""
    hours = office()
    assert hours.is_open(berlin("2026-06-15", "08:00"))
    assert hours.is_open(berlin("2026-06-15", "17:59"))
    assert not hours.is_open(berlin("2026-06-15", "18:00"))
    assert not hours.is_open(berlin("2026-06-15", "07:59"))
    assert not hours.is_open(berlin("2026-06-20", "10:00"))


def test_next_opening_is_now_when_open_and_the_next_morning_when_closed() -> None:
    """next_opening returns the instant itself while open, else the next opening in UTC."""
    hours = office()
    assert hours.next_opening(berlin("2026-06-15", "10:00")) == berlin("2026-06-15", "10:00")
    assert hours.next_opening(berlin("2026-06-15", "06:00")) == berlin("2026-06-15", "08:00")
    assert hours.next_opening(berlin("2026-06-19", "18:00")) == berlin("2026-06-22", "08:00")
    assert hours.next_opening(berlin("2026-04-30", "19:00")) == berlin("2026-05-04", "08:00")
    assert hours.next_opening(berlin("2026-06-20", "10:00")).tzinfo is UTC


def test_naive_datetimes_are_rejected() -> None:
    """due, is_open and next_opening refuse datetimes without a timezone."""
    hours = office()
    naive = datetime(2026, 6, 15, 10)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        hours.due(naive, 60)
    with pytest.raises(ValueError, match="at must be timezone-aware"):
        hours.is_open(naive)
    with pytest.raises(ValueError, match="at must be timezone-aware"):
        hours.next_opening(naive)


def test_negative_minutes_are_rejected() -> None:
    """A negative target raises a ValueError."""
    with pytest.raises(ValueError, match="minutes must not be negative"):
        office().due(berlin("2026-06-15", "10:00"), -1)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Berlin", "", "../etc/passwd"])
def test_an_unknown_timezone_is_rejected_by_name(name: str) -> None:
    """An unknown timezone raises a ValueError that names it."""
    with pytest.raises(ValueError, match=f"unknown timezone {name!r}"):
        BusinessHours(name, WORKDAYS, time(8), time(18), None, None)


@pytest.mark.parametrize(("opens", "closes"), [(time(18), time(8)), (time(9), time(9))])
def test_opening_must_come_before_closing(opens: time, closes: time) -> None:
    """Hours that close before or when they open raise a ValueError."""
    with pytest.raises(ValueError, match="must be before closes"):
        BusinessHours("Europe/Berlin", WORKDAYS, opens, closes, None, None)


def test_opening_times_with_a_timezone_are_rejected() -> None:
    """Opening and closing times are wall clock in the configured zone and carry no tzinfo."""
    with pytest.raises(ValueError, match="no tzinfo"):
        BusinessHours("Europe/Berlin", WORKDAYS, time(8, tzinfo=UTC), time(18), None, None)


@pytest.mark.parametrize("weekdays", [frozenset(), frozenset({0, 7}), frozenset({-1})])
def test_weekdays_must_be_a_non_empty_set_of_monday_to_sunday(weekdays: frozenset[int]) -> None:
    """An empty set or a day outside 0-6 raises a ValueError."""
    with pytest.raises(ValueError, match="weekdays"):
        BusinessHours("Europe/Berlin", weekdays, time(8), time(18), None, None)


def test_an_unknown_holiday_country_is_rejected() -> None:
    """A country the holidays package does not know raises a ValueError naming it."""
    with pytest.raises(ValueError, match="unknown holiday country 'XX'"):
        office(country="XX")


def test_an_unknown_holiday_subdivision_is_rejected() -> None:
    """A subdivision the country does not have raises a ValueError naming both."""
    with pytest.raises(ValueError, match="unknown holiday subdivision 'ZZ' for country 'DE'"):
        office(subdivision="ZZ")


def test_a_subdivision_needs_a_country() -> None:
    """A holiday subdivision without a country raises a ValueError."""
    with pytest.raises(ValueError, match="needs a holiday country"):
        office(country=None, subdivision="BE")


def test_business_hours_are_comparable_values() -> None:
    """Equal settings make equal, hashable business hours."""
    assert office(subdivision="BE") == office(subdivision="BE")
    assert hash(office()) == hash(office())
    assert office() != office(country=None)


def test_first_response_target_follows_the_tier() -> None:
    """The target is chosen by tier, given as an enum or as its string."""
    targets = FirstResponse(standard_minutes=240, extended_minutes=60)
    assert targets.minutes(Tier.STANDARD) == targets.minutes("standard") == 240
    assert targets.minutes(Tier.EXTENDED) == targets.minutes("extended") == 60


def test_first_response_due_counts_business_time() -> None:
    """A standard ticket on Friday 17:00 with a 4-hour target is due Monday 11:00."""
    targets = FirstResponse(standard_minutes=240, extended_minutes=60)
    start = berlin("2026-06-19", "17:00")
    assert targets.due(office(), start, "standard") == berlin("2026-06-22", "11:00")
    assert targets.due(office(), start, Tier.EXTENDED) == berlin("2026-06-19", "18:00")


def test_an_unknown_tier_is_rejected() -> None:
    """A tier that is neither standard nor extended raises a ValueError naming it."""
    with pytest.raises(ValueError, match="tier must be 'standard' or 'extended', not 'premium'"):
        FirstResponse(240, 60).minutes("premium")


def test_negative_first_response_targets_are_rejected() -> None:
    """A negative target raises a ValueError naming the field."""
    with pytest.raises(ValueError, match="extended_minutes must not be negative"):
        FirstResponse(240, -1)


zones = st.sampled_from([BERLIN, UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")])
starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=zones,
    allow_imaginary=False,
)
targets = st.integers(min_value=0, max_value=6_000)
# Built once, outside the examples, so loading the holiday calendars does not eat deadlines.
BERLIN_OFFICE = office(subdivision="BE")


@given(starts, targets, targets)
def test_due_is_additive(start: datetime, a: int, b: int) -> None:
    """Counting a then b business minutes ends where counting a + b does."""
    hours = BERLIN_OFFICE
    assert hours.due(start, a + b) == hours.due(hours.due(start, a), b)


@given(starts, targets)
def test_due_is_never_before_the_start(start: datetime, minutes: int) -> None:
    """The due time is at or after the start, and strictly after it for a positive target."""
    due = BERLIN_OFFICE.due(start, minutes)
    assert due >= start
    assert minutes == 0 or due > start


@given(starts, st.integers(min_value=1, max_value=6_000))
def test_the_last_counted_moment_is_inside_business_hours(start: datetime, minutes: int) -> None:
    """Just before a positive target falls due, support is open."""
    hours = BERLIN_OFFICE
    assert hours.is_open(hours.due(start, minutes) - timedelta(microseconds=1))


@given(starts, targets, targets)
def test_due_grows_with_the_target(start: datetime, a: int, b: int) -> None:
    """A larger target is never due earlier than a smaller one."""
    low, high = sorted((a, b))
    hours = BERLIN_OFFICE
    assert hours.due(start, low) <= hours.due(start, high)
