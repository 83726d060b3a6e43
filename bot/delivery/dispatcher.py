"""The dispatcher: delivers outbox items in order per destination, with retries and backoff.

One item at a time runs per destination (a customer's chat, a ticket's thread, a sink's
thread) and per lane (the chat a channel posts into); different lanes run in parallel.
Retries back off exponentially with jitter; a 429 waits exactly what Telegram says.

Two ways in. A round reads what is due from the outbox: after a wake (something was queued),
a failure, or a timer. And the adapter offers a customer's reply straight from the turn that
queued it, when nothing older waits for that customer: the reply goes out without a round
reading the database, and while the turn runs no round touches the customer's items (so one
item never starts twice). Delivered marks of items finishing together are written in one
transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.tickets.outbox import Outbox, OutboxItem

LOG = logging.getLogger(__name__)
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
IDLE_WAIT = 5.0
PARALLEL = 8
DUE_READ = 4 * PARALLEL  # items one round reads: only so many can start at once

SaveProgress = Callable[[dict[str, Any]], Awaitable[None]]
Progress = dict[str, Any] | None


class DeliveryError(Exception):
    """A delivery failed; `retry` says whether to try again, `after` how soon (seconds)."""

    def __init__(self, reason: str, *, retry: bool, after: float | None = None) -> None:
        super().__init__(reason)
        self.retry = retry
        self.after = after


class Channel(Protocol):
    """Delivers one kind of outbox item (Telegram, e-mail, webhook)."""

    def lane(self, item: OutboxItem) -> str:
        """Return what the item occupies while it is delivered (e.g. the chat it posts to)."""
        ...

    async def deliver(self, item: OutboxItem, save: SaveProgress) -> Progress:
        """Deliver the item; raise DeliveryError on failure.

        `save` records progress before the next step; what the last step added is returned
        instead (None if nothing), and recorded with the delivered mark.
        """
        ...


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Return the wait before the next try: doubling from 1 s up to 5 min, ±20 % jitter."""
    # Capped before the power: 2.0 ** attempts overflows after a thousand attempts.
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** min(max(0, attempts), 32))
    jitter: float = (rng or random).uniform(0.8, 1.2)
    return base * jitter


class Dispatcher:
    """Run the outbox: pick what is due, deliver it, record the outcome."""

    def __init__(
        self,
        outbox: Outbox,
        channels: dict[str, Channel],
        *,
        before_round: Callable[[list[OutboxItem]], Awaitable[bool | None]] | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self._outbox = outbox
        self._channels = channels
        self._before_round = before_round
        self._scale = time_scale
        self._wake = asyncio.Event()
        # Whether the outbox may hold due items no delivery has started: a round is needed.
        self._stale = True
        self._busy: set[str] = set()
        # Destinations whose turn is running: their items come by offer, or a later round.
        self._held: Counter[str] = Counter()
        # One set per round reading the outbox: the items whose outcome was recorded meanwhile.
        self._settling: list[set[int]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(PARALLEL)
        self._marks: list[tuple[int, Progress, asyncio.Future[None]]] = []
        self._marking: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look at the outbox now (something was queued)."""
        self._stale = True
        self._wake.set()

    @contextlib.contextmanager
    def holding(self, destination: str) -> Iterator[None]:
        """Keep rounds away from a destination while a turn that may offer its items runs."""
        self._held[destination] += 1
        try:
            yield
        finally:
            self._held[destination] -= 1
            if not self._held[destination]:
                del self._held[destination]
            if self._stale:
                self._wake.set()  # a round may have left the destination's items for now

    def offer(self, items: Iterable[OutboxItem]) -> None:
        """Start items just queued that were first in line for their destination.

        The caller holds the destination (`holding`), so no round has started them; an item
        whose destination or lane is busy is left to a round.
        """
        for item in items:
            channel = self._channels.get(item.channel)
            if channel is None:
                continue
            lane = f"{item.channel}:{channel.lane(item)}"
            if item.destination in self._busy or lane in self._busy:
                self.wake()
                continue
            self._start(item, lane)

    async def run(self) -> None:
        """Deliver until cancelled."""
        try:
            while True:
                self._wake.clear()
                if not self._stale:
                    await self._sleep()
                    continue
                self._stale = False
                if await self.round():
                    # Some due items wait for a busy destination: a finished delivery wakes.
                    self._stale = True
                    await self._wait(IDLE_WAIT)
        finally:
            for task in self._tasks:
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def round(self) -> int:
        """Start every due item whose destination and lane are free; return how many wait."""
        settled: set[int] = set()
        self._settling.append(settled)
        try:
            items, full = await asyncio.to_thread(self._due)
            if self._before_round is not None and await self._before_round(
                [item for item, _ in items]
            ):
                # It queued something (a digest) that goes before what we read.
                items, full = await asyncio.to_thread(self._due)
        finally:
            self._settling.remove(settled)
        if full:
            self._stale = True  # more may be due than one read returns
        blocked = 0
        for item, lane in items:
            if item.id in settled:
                # Delivered or put off while we read: what follows it may be due now.
                self._stale = True
            elif {item.destination, lane} & self._busy or item.destination in self._held:
                blocked += 1
            else:
                self._start(item, lane)
        return blocked

    def _start(self, item: OutboxItem, lane: str) -> None:
        self._busy.update((item.destination, lane))
        task = asyncio.create_task(self._deliver(item, lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing is waiting or due (for tests and shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.round()
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=0.5)
                continue
            if not await asyncio.to_thread(self._outbox.waiting):
                return
            await asyncio.sleep(0.02)

    def _due(self) -> tuple[list[tuple[OutboxItem, str]], bool]:
        due = []
        # Only so many can start at once: reading more would parse rows for nothing.
        found = self._outbox.due(limit=DUE_READ)
        for item in found:
            channel = self._channels.get(item.channel)
            if channel is None:
                continue  # a sink that is not configured (any more): stays waiting, visible
            due.append((item, f"{item.channel}:{channel.lane(item)}"))
        return due, len(found) == DUE_READ

    async def _deliver(self, item: OutboxItem, lane: str) -> None:
        channel = self._channels[item.channel]

        async def save(progress: dict[str, Any]) -> None:
            await _persist(self._outbox.save_progress, item.id, progress)

        try:
            async with self._slots:
                progress = await channel.deliver(item, save)
        except DeliveryError as error:
            await self._failed(item, error)
        except Exception as error:
            LOG.exception("delivering outbox item %s failed", item.id)
            await self._failed(item, DeliveryError(repr(error), retry=True))
        else:
            await self._delivered(item.id, progress)
        finally:
            for settled in self._settling:
                settled.add(item.id)
            self._busy.difference_update((item.destination, lane))
            if self._stale:
                self._wake.set()

    async def _delivered(self, item_id: int, progress: Progress) -> None:
        """Record an item delivered, in one transaction with the others finishing now."""
        done = asyncio.get_running_loop().create_future()
        self._marks.append((item_id, progress, done))
        if self._marking is None:
            self._marking = asyncio.create_task(self._write_marks())
            self._tasks.add(self._marking)
            self._marking.add_done_callback(self._tasks.discard)
        await done

    async def _write_marks(self) -> None:
        try:
            while self._marks:
                batch, self._marks = self._marks, []
                try:
                    marks = [(item_id, progress) for item_id, progress, _ in batch]
                    await _persist(self._outbox.delivered_many, marks)
                except BaseException as error:
                    for _, _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    raise
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._marking = None

    async def _failed(self, item: OutboxItem, error: DeliveryError) -> None:
        self._stale = True  # due again later, or the next item of its destination is
        if not error.retry:
            LOG.warning("outbox item %s (%s) failed for good: %s", item.id, item.destination, error)
            await _persist(self._outbox.fail, item.id, str(error))
            return
        wait = backoff(item.attempts) if error.after is None else error.after
        LOG.info("outbox item %s: %s; retry in %.1f s", item.id, error, wait)
        after = timedelta(seconds=wait / self._scale)
        await _persist(self._outbox.retry, item.id, str(error), after)

    async def _sleep(self) -> None:
        # Items of a channel not configured stay waiting: they must not keep the loop awake.
        next_due = await asyncio.to_thread(self._outbox.next_due, tuple(self._channels))
        wait = IDLE_WAIT
        if next_due is not None:
            wait = min(wait, max(0.0, (next_due - datetime.now(UTC)).total_seconds()))
        if not await self._wait(max(wait, 0.01)):
            self._stale = True  # something may have fallen due

    async def _wait(self, timeout: float) -> bool:
        """Wait until woken (True) or the timeout passes (False)."""
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow a cancellation
        # that arrives as the event is set, and the task would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
                return True
        return False


async def _persist(record: Callable[..., None], *args: Any) -> None:
    """Record a delivery's outcome, waiting out a busy database however long it takes.

    Once Telegram has the message, failing to record that would send it again: a locked
    database (another process writing) must delay the record, never lose it.
    """
    wait = 0.05
    while True:
        try:
            await asyncio.to_thread(record, *args)
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            LOG.warning("database busy while recording a delivery; trying again")
            await asyncio.sleep(wait)
            wait = min(wait * 2, 2.0)
        else:
            return
