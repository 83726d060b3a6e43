"""Flood budgets: sliding windows per group, per private chat and overall, served in order.

The windows are Telegram's (a minute, three seconds, one second) run faster with
`time_scale`, on the real monotonic clock the event loop sleeps by.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.telegram.budget import FloodBudget, Window

GROUP, OTHER_GROUP = -100123, -100456
SLACK = 0.002  # a send is stamped a moment before acquire returns


def budget(time_scale: float) -> FloodBudget:
    """Return Telegram's windows (20 a minute per group), run `time_scale` times faster."""
    return FloodBudget.telegram(20, time_scale=time_scale)


async def send(limits: FloodBudget, chat_id: int, count: int) -> list[float]:
    """Acquire `count` sends to a chat one after the other; return when each was allowed."""
    times = []
    for _ in range(count):
        await limits.acquire(chat_id)
        times.append(time.monotonic())
    return times


def most_in_a_window(times: list[float], period: float) -> int:
    """Return the most sends that fall into any window of `period` seconds."""
    ordered = sorted(times)
    return max(
        sum(1 for other in ordered[index:] if other - start < period - SLACK)
        for index, start in enumerate(ordered)
    )


async def test_a_group_gets_20_sends_a_minute() -> None:
    """A group's first 20 sends go at once; the 21st waits until the first leaves the window."""
    minute = 60.0 / 600  # a tenth of a second
    start = time.monotonic()
    times = await send(budget(600), GROUP, 45)
    assert times[19] - start < minute / 2
    assert minute - SLACK <= times[20] - times[0] < minute * 1.5
    assert most_in_a_window(times, minute) == 20
    assert all(
        later - earlier >= minute - SLACK for earlier, later in zip(times, times[20:], strict=False)
    )


async def test_a_private_chat_gets_3_sends_in_3_seconds() -> None:
    """A private chat takes three sends at once, then one more as each leaves its window."""
    period = 3.0 / 30
    times = await send(budget(30), 4242, 10)
    assert times[2] - times[0] < period / 2
    assert period - SLACK <= times[3] - times[0] < period * 1.5
    assert most_in_a_window(times, period) == 3


async def test_chats_have_budgets_of_their_own() -> None:
    """A full group and a full private chat don't hold back other chats."""
    limits = budget(60)  # a group's minute is a second
    await send(limits, GROUP, 20)
    await send(limits, 4242, 3)
    start = time.monotonic()
    await send(limits, OTHER_GROUP, 20)
    await send(limits, 4343, 3)
    assert time.monotonic() - start < 0.2


async def test_30_sends_a_second_across_all_chats() -> None:
    """Sends to many chats share one budget of 30 a second."""
    second = 1.0 / 10
    limits = budget(10)
    start = time.monotonic()
    times = [stamp for chat in range(1, 76) for stamp in await send(limits, chat, 1)]
    assert times[29] - start < second / 2
    assert second - SLACK <= times[30] - times[0] < second * 1.5
    assert most_in_a_window(times, second) == 30


async def test_a_group_window_counts_when_the_send_goes_out() -> None:
    """A group send held up by the overall budget counts from when it goes out, so a
    group never gets more than its share of any window."""
    # A group may send 2 per 0.2 s; everything together 1 per 0.05 s.
    limits = FloodBudget(
        group=Window(2, 0.2), private=Window(10, 1.0), overall=Window(1, 0.05), time_scale=1
    )
    stamps: list[float] = []

    async def one(chat_id: int) -> None:
        await limits.acquire(chat_id)
        if chat_id == GROUP:
            stamps.append(time.monotonic())

    await one(4242)  # takes the overall slot: the group's sends wait for the next ones
    await asyncio.gather(*(one(GROUP) for _ in range(5)))
    assert len(stamps) == 5
    assert most_in_a_window(stamps, 0.2) == 2


async def test_waiters_are_served_in_arrival_order() -> None:
    """Sends waiting for the same chat are allowed in the order they asked."""
    limits = budget(60)  # three seconds are 50 ms
    order: list[int] = []

    async def one(index: int) -> None:
        await limits.acquire(4242)
        order.append(index)

    tasks = []
    for index in range(12):
        tasks.append(asyncio.create_task(one(index)))
        await asyncio.sleep(0)  # each asks before the next
    await asyncio.gather(*tasks)
    assert order == list(range(12))


async def test_waiters_for_the_overall_budget_keep_their_order() -> None:
    """When the overall budget is spent, sends to different chats go in the order asked."""
    limits = budget(20)
    order: list[int] = []

    async def one(chat_id: int) -> None:
        await limits.acquire(chat_id)
        order.append(chat_id)

    tasks = []
    for chat_id in range(1, 66):
        tasks.append(asyncio.create_task(one(chat_id)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == list(range(1, 66))


async def test_a_cancelled_wait_uses_no_slot() -> None:
    """A send cancelled while it waits for a slot leaves the window as it was."""
    period = 3.0 / 30
    limits = budget(30)
    first = await send(limits, 4242, 3)
    waiting = asyncio.create_task(limits.acquire(4242))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    [fourth] = await send(limits, 4242, 1)
    assert period - SLACK <= fourth - first[0] < period * 1.5


async def test_a_disabled_budget_never_waits() -> None:
    """With flood limits off, a thousand sends to one group go through at once."""
    limits = FloodBudget.telegram(20, enabled=False)
    start = time.monotonic()
    await send(limits, GROUP, 1000)
    await send(limits, 4242, 1000)
    assert time.monotonic() - start < 0.5


async def test_a_send_cancelled_in_the_overall_queue_uses_no_chat_slot() -> None:
    """A send cancelled while it waits for the overall budget leaves its chat's window free."""
    limits = FloodBudget(
        group=Window(1, 60.0), private=Window(1, 60.0), overall=Window(1, 0.05), time_scale=1
    )
    await limits.acquire(4242)  # the overall slot is taken for 50 ms
    waiting = asyncio.create_task(limits.acquire(GROUP))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    async with asyncio.timeout(1):  # not the group's minute
        await limits.acquire(GROUP)
