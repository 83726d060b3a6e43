"""The dispatcher: order per destination, lanes, retries with backoff, digests and routing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from chat import conversation
from conftest import Clock

from bot.config import Config
from bot.content.model import Tier
from bot.delivery.dispatcher import BACKOFF_MAX, DeliveryError, Dispatcher, SaveProgress, backoff
from bot.render import Catalogue
from bot.telegram.budget import FloodBudget
from bot.telegram.delivery import StaffRouter, TelegramChannel
from bot.telegram.digest import DIGESTED, Digest
from bot.tickets.outbox import Outbox, OutboxItem
from bot.tickets.store import TicketStore
from bot.tickets.threads import StaffThreads
from bot.triage.decisions import Message, Reply, TicketOpened

FAST = 1000.0  # waits run a thousand times faster: a 1 s backoff takes 1 ms


def reply(customer_id: int, text: str) -> Reply:
    """Return a reply whose text names it in the fake channel's records."""
    return Reply(customer_id, Message(text, "greeting", "1"))


def text_of(item: OutboxItem) -> str:
    """Return the text of a queued reply (or the card of a new ticket)."""
    payload = item.payload
    if payload["kind"] == "notice":
        return f"notice: {payload['text']}"
    return str((payload.get("message") or payload["card"])["text"])


class FakeChannel:
    """A channel that records deliveries and fails, saves progress or waits when told."""

    def __init__(self, lanes: Mapping[str, str] | None = None) -> None:
        self.lanes = dict(lanes or {})
        self.failures: dict[str, list[BaseException]] = defaultdict(list)
        self.saves: dict[str, dict[str, Any]] = {}
        self.hold: Callable[[str], Awaitable[None]] | None = None
        self.attempts: list[tuple[str, dict[str, Any]]] = []
        self.delivered: list[str] = []
        self.running: Counter[str] = Counter()
        self.peak_lane = 0
        self.peak = 0

    def fail(self, text: str, *errors: BaseException) -> None:
        """Make the next attempts to deliver `text` raise these errors, one per attempt."""
        self.failures[text].extend(errors)

    def lane(self, item: OutboxItem) -> str:
        """Return the lane the test gave the item's destination, else the destination."""
        return self.lanes.get(item.destination, item.destination)

    async def deliver(self, item: OutboxItem, save: SaveProgress) -> None:
        """Record the attempt, then do what the test asked for."""
        text, lane = text_of(item), self.lane(item)
        self.attempts.append((text, dict(item.progress)))
        self.running[lane] += 1
        self.peak_lane = max(self.peak_lane, self.running[lane])
        self.peak = max(self.peak, self.running.total())
        try:
            if text in self.saves:
                await save(self.saves.pop(text))
            if self.hold is not None:
                await self.hold(text)
            else:
                for _ in range(5):  # give any other delivery the chance to overlap
                    await asyncio.sleep(0)
            if self.failures[text]:
                raise self.failures[text].pop(0)
            self.delivered.append(text)
        finally:
            self.running[lane] -= 1


@pytest.fixture
def outbox(store: TicketStore) -> Outbox:
    """Return an outbox on the real clock (the dispatcher waits in real time)."""
    return Outbox(store)


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
def dispatcher(outbox: Outbox, channel: FakeChannel) -> Dispatcher:
    return Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until a condition holds (polling), or fail after the timeout."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def by_destination(channel: FakeChannel, prefix: str) -> list[str]:
    """Return the delivered texts that start with a prefix, in delivery order."""
    return [text for text in channel.delivered if text.startswith(prefix)]


# Order and parallelism


async def test_one_destination_in_order(
    outbox: Outbox, channel: FakeChannel, dispatcher: Dispatcher
) -> None:
    """Items of one destination arrive in the order queued, across destinations interleaved."""
    for index in range(6):
        outbox.enqueue([reply(1, f"a{index}"), reply(2, f"b{index}")])
    await dispatcher.drain()
    assert by_destination(channel, "a") == [f"a{index}" for index in range(6)]
    assert by_destination(channel, "b") == [f"b{index}" for index in range(6)]
    assert len(channel.attempts) == 12
    assert outbox.waiting() == []


async def test_destinations_run_in_parallel(
    outbox: Outbox, channel: FakeChannel, dispatcher: Dispatcher
) -> None:
    """Two destinations on different lanes are delivered at the same time."""
    both = asyncio.Event()

    async def meet(text: str) -> None:
        if channel.running.total() == 2:
            both.set()
        async with asyncio.timeout(5):
            await both.wait()

    channel.hold = meet
    outbox.enqueue([reply(1, "a"), reply(2, "b")])
    await dispatcher.drain()
    assert sorted(channel.delivered) == ["a", "b"]
    assert channel.peak == 2


async def test_a_lane_runs_one_item_at_a_time(outbox: Outbox) -> None:
    """Destinations sharing a lane (one chat) are delivered one item at a time."""
    channel = FakeChannel({"customer:1": "group", "customer:2": "group", "customer:3": "other"})
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    for index in range(4):
        outbox.enqueue([reply(1, f"a{index}"), reply(2, f"b{index}"), reply(3, f"c{index}")])
    await dispatcher.drain()
    assert channel.peak_lane == 1
    assert channel.peak == 2  # the other lane ran alongside
    for prefix in "abc":
        assert by_destination(channel, prefix) == [f"{prefix}{index}" for index in range(4)]


async def test_a_delivery_settling_during_a_round_is_not_repeated(
    outbox: Outbox, channel: FakeChannel, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item delivered while a round reads the outbox is not started again from stale rows."""
    release = asyncio.Event()

    async def held(text: str) -> None:
        await release.wait()

    channel.hold = held
    outbox.enqueue([reply(1, "a")])
    await dispatcher.round()  # starts "a", which waits for the release
    read, resume = threading.Event(), threading.Event()
    real_due = outbox.due

    def slow_due(limit: int = 200) -> list[OutboxItem]:
        items = real_due(limit)  # still shows "a" waiting
        read.set()
        resume.wait(5)
        return items

    monkeypatch.setattr(outbox, "due", slow_due)
    second = asyncio.create_task(dispatcher.round())
    assert await asyncio.to_thread(read.wait, 5)
    release.set()
    await until(lambda: channel.delivered == ["a"])
    await asyncio.sleep(0.05)  # the outcome is recorded and the destination freed
    resume.set()
    await second
    monkeypatch.undo()
    await dispatcher.drain()
    assert channel.delivered == ["a"]
    assert [text for text, _ in channel.attempts] == ["a"]


# Failures and retries


async def test_a_retryable_failure_is_retried_then_delivered_once(
    outbox: Outbox, channel: FakeChannel, dispatcher: Dispatcher
) -> None:
    """A retryable failure comes back after the backoff and is then delivered exactly once."""
    channel.fail("a", DeliveryError("timed out", retry=True), DeliveryError("again", retry=True))
    outbox.enqueue([reply(1, "a"), reply(1, "b")])
    await dispatcher.drain()
    assert [text for text, _ in channel.attempts] == ["a", "a", "a", "b"]
    assert channel.delivered == ["a", "b"]
    first = outbox.item(1)
    assert first.attempts == 2
    assert first.delivered_at is not None
    assert first.last_error is None


async def test_the_backoff_is_waited_between_tries(outbox: Outbox, channel: FakeChannel) -> None:
    """After a failure the item is not due for the backoff's time (scaled)."""
    dispatcher = Dispatcher(outbox, {"telegram": channel})
    channel.fail("a", DeliveryError("timed out", retry=True))
    outbox.enqueue([reply(1, "a")])
    before = datetime.now(UTC)
    await dispatcher.round()
    await until(lambda: outbox.item(1).attempts == 1)
    [item] = outbox.waiting()
    wait = (item.not_before - before).total_seconds()
    assert 0.8 <= wait <= 1.2 + 0.3
    assert (item.attempts, item.last_error) == (1, "timed out")
    assert channel.delivered == []


async def test_the_errors_wait_is_honoured(outbox: Outbox, channel: FakeChannel) -> None:
    """A failure that says how long to wait (Telegram's retry_after) waits exactly that."""
    channel.fail("a", DeliveryError("Flood control exceeded", retry=True, after=42.0))
    outbox.enqueue([reply(1, "a")])
    before = datetime.now(UTC)
    await Dispatcher(outbox, {"telegram": channel}, time_scale=2.0).round()
    await until(lambda: outbox.item(1).attempts == 1)
    [item] = outbox.waiting()
    after = datetime.now(UTC)
    assert before + timedelta(seconds=21) <= item.not_before <= after + timedelta(seconds=21)
    outbox.fail(item.id, "given up by the test")
    channel.fail("b", DeliveryError("Flood control exceeded", retry=True, after=0.0))
    outbox.enqueue([reply(2, "b")])
    await Dispatcher(outbox, {"telegram": channel}).drain(timeout=2)
    assert channel.delivered == ["b"]


async def test_a_final_failure_gives_up_and_moves_on(
    outbox: Outbox, channel: FakeChannel, dispatcher: Dispatcher
) -> None:
    """A non-retryable failure marks the item failed; the destination's next item goes out."""
    channel.fail("a", DeliveryError("chat not found", retry=False))
    outbox.enqueue([reply(1, "a"), reply(1, "b")])
    await dispatcher.drain()
    assert channel.delivered == ["b"]
    [failed] = outbox.failed()
    assert text_of(failed) == "a"
    assert (failed.attempts, failed.last_error) == (1, "chat not found")
    assert outbox.waiting() == []


async def test_an_unexpected_exception_is_retried(
    outbox: Outbox, channel: FakeChannel, dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception that is no DeliveryError is logged and retried like a transient failure."""
    channel.fail("a", KeyError("surprise"))
    outbox.enqueue([reply(1, "a")])
    with caplog.at_level(logging.ERROR, logger="bot.delivery.dispatcher"):
        await dispatcher.drain()
    assert channel.delivered == ["a"]
    assert outbox.item(1).attempts == 1
    assert "delivering outbox item 1 failed" in caplog.text
    assert outbox.failed() == []


async def test_progress_survives_into_the_retry(
    outbox: Outbox, channel: FakeChannel, dispatcher: Dispatcher
) -> None:
    """What a failed attempt saved is in the item the next attempt is given."""
    channel.saves["a"] = {"part0": 501}
    channel.fail("a", DeliveryError("network", retry=True))
    outbox.enqueue([reply(1, "a")])
    await dispatcher.drain()
    assert channel.attempts == [("a", {}), ("a", {"part0": 501})]
    assert outbox.item(1).progress == {"part0": 501}


async def test_an_unconfigured_channel_waits_and_keeps_nothing_else_back(
    store: TicketStore, channel: FakeChannel
) -> None:
    """Items of a sink with no channel stay waiting; telegram items still go out."""
    outbox = Outbox(store, sinks=["email"])
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    opened = TicketOpened(7, Tier.STANDARD, "mail", "#7", Message("a", "ticket_card", "1"))
    outbox.enqueue([opened])
    await dispatcher.round()
    await until(lambda: outbox.item(1).delivered_at is not None)
    assert await dispatcher.round() == 0
    assert channel.delivered == ["a"]
    assert [item.destination for item in outbox.waiting()] == ["email:ticket:7"]
    assert outbox.next_due(["telegram"]) is None


# Backoff


class Middle(random.Random):
    """A random source whose jitter is always none."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def test_backoff_doubles_up_to_five_minutes() -> None:
    """Without jitter, the wait doubles from 1 s per attempt and stays at 300 s."""
    waits = [backoff(attempts, Middle()) for attempts in range(12)]
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert backoff(-3, Middle()) == 1
    assert BACKOFF_MAX == 300


def test_backoff_survives_endless_attempts() -> None:
    """An item retried for weeks still gets a wait, not an overflow."""
    assert backoff(1100, Middle()) == 300
    assert backoff(10**6, Middle()) == 300


def test_backoff_jitters_within_a_fifth() -> None:
    """Jitter stays within ±20 % of the base and spreads across that range."""
    rng = random.Random(20261202)
    for attempts, base in [(0, 1.0), (3, 8.0), (20, 300.0)]:
        waits = [backoff(attempts, rng) / base for _ in range(500)]
        assert all(0.8 <= wait <= 1.2 for wait in waits)
        assert min(waits) < 0.82
        assert max(waits) > 1.18
    assert backoff(4, random.Random(1)) == backoff(4, random.Random(1))


# Running and stopping


async def test_run_delivers_what_is_woken_for(outbox: Outbox, channel: FakeChannel) -> None:
    """A running dispatcher delivers items as soon as it is woken, and stops on cancel."""
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    runner = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(0.05)
    start = time.monotonic()
    outbox.enqueue([reply(1, "a"), reply(1, "b"), reply(2, "c")])
    dispatcher.wake()
    await until(lambda: len(channel.delivered) == 3)
    assert time.monotonic() - start < 2  # far sooner than its idle wait of 5 s
    assert by_destination(channel, "a") + by_destination(channel, "b") == ["a", "b"]
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def test_run_stops_promptly_when_cancelled(outbox: Outbox, channel: FakeChannel) -> None:
    """Cancelling run() right after a wake stops it within a second, every time."""
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    slowest = 0.0
    for attempt in range(150):
        runner = asyncio.create_task(dispatcher.run())
        for _ in range(attempt % 7):
            await asyncio.sleep(0)
        dispatcher.wake()
        runner.cancel()
        start = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(1):
                await runner
        slowest = max(slowest, time.monotonic() - start)
    assert slowest < 1


@pytest.mark.parametrize("waiting", ["in_backoff", "unconfigured_sink"])
async def test_a_waiting_item_that_is_not_due_lets_run_rest(
    store: TicketStore, channel: FakeChannel, monkeypatch: pytest.MonkeyPatch, waiting: str
) -> None:
    """Items that cannot go out yet (a destination in backoff, a sink not configured) don't
    keep run() polling the outbox."""
    outbox = Outbox(store, sinks=["email"])
    if waiting == "in_backoff":
        outbox.enqueue([reply(1, "a"), reply(1, "b")])
        outbox.retry(1, "timed out", timedelta(seconds=30))
    else:
        card = Message("a", "ticket_card", "1")
        outbox.enqueue([TicketOpened(7, Tier.STANDARD, "mail", "#7", card)])
    rounds = 0
    real_due = outbox.due

    def counted(limit: int = 200) -> list[OutboxItem]:
        nonlocal rounds
        rounds += 1
        return real_due(limit)

    monkeypatch.setattr(outbox, "due", counted)
    runner = asyncio.create_task(Dispatcher(outbox, {"telegram": channel}).run())
    await asyncio.sleep(0.3)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert rounds <= 3  # not one round every 10 ms


async def test_run_stops_while_deliveries_hang(outbox: Outbox, channel: FakeChannel) -> None:
    """Cancelling run() also cancels deliveries in flight; the item stays waiting."""
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    started = asyncio.Event()

    async def hang(text: str) -> None:
        started.set()
        await asyncio.Event().wait()

    channel.hold = hang
    outbox.enqueue([reply(1, "a")])
    runner = asyncio.create_task(dispatcher.run())
    async with asyncio.timeout(5):
        await started.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(1):
            await runner
    assert [text_of(item) for item in outbox.waiting()] == ["a"]


# Digest


@pytest.fixture
def digest_parts(store: TicketStore) -> tuple[Outbox, Digest]:
    """Return an outbox and a digest for one staff group with a threshold of 5."""
    config = Config()
    texts = Catalogue(config.tariff.currency, config.business_hours.timezone)
    outbox = Outbox(store, clock=Clock())
    channel = TelegramChannel(
        cast(Any, None),  # the digest only asks the channel for lanes: no Bot API calls
        store=store,
        threads=StaffThreads(store),
        view=conversation(store).staff_view,
        outbox=outbox,
        budget=FloodBudget.telegram(20),
        router=StaffRouter([-100], {}),
    )
    return outbox, Digest(outbox, channel, texts, config.staff_language, threshold=5)


def new_tickets(outbox: Outbox, count: int, first: int = 1001) -> None:
    """Queue new tickets."""
    for number in range(first, first + count):
        card = Message(f"Ticket {number}", "ticket_card", "1")
        topic = f"#{number} Mailserver down"
        outbox.enqueue([TicketOpened(number, Tier.STANDARD, "mail", topic, card)])


async def test_a_burst_of_new_tickets_gets_one_digest(
    digest_parts: tuple[Outbox, Digest],
) -> None:
    """Seven new tickets for a group (more than 5) are summed up once, ahead of their topics."""
    outbox, digest = digest_parts
    new_tickets(outbox, 7)
    assert await digest.fold(outbox.due())
    notices = [item for item in outbox.waiting("staff:") if item.payload["kind"] == "notice"]
    assert len(notices) == 1
    assert notices[0].payload["chat_id"] == -100
    assert "1001" in notices[0].payload["text"]
    assert "1007" in notices[0].payload["text"]
    assert outbox.due()[0].id == notices[0].id
    opened = outbox.waiting("ticket:")
    assert all(item.progress == {DIGESTED: True} for item in opened)
    assert not await digest.fold(outbox.due())
    assert len(outbox.waiting("staff:")) == 1


async def test_the_digest_goes_out_before_the_first_topic(
    digest_parts: tuple[Outbox, Digest],
) -> None:
    """Delivered by the dispatcher, the digest precedes every ticket it lists."""
    outbox, digest = digest_parts
    new_tickets(outbox, 7)
    lanes = {f"ticket:{number}": "chat:-100" for number in range(1001, 1008)}
    channel = FakeChannel({**lanes, "staff:-100": "chat:-100"})
    dispatcher = Dispatcher(
        outbox, {"telegram": channel}, before_round=digest.fold, time_scale=FAST
    )
    await dispatcher.drain()
    assert channel.delivered[0].startswith("notice: ")
    assert channel.delivered[1:] == [f"Ticket {number}" for number in range(1001, 1008)]
    assert channel.peak_lane == 1


async def test_few_new_tickets_get_no_digest(digest_parts: tuple[Outbox, Digest]) -> None:
    """Five new tickets (the threshold) are posted as they are, without a digest."""
    outbox, digest = digest_parts
    new_tickets(outbox, 5)
    assert not await digest.fold(outbox.due())
    assert outbox.waiting("staff:") == []
    assert all(item.progress == {} for item in outbox.waiting())


# Staff routing


def test_routing_by_category_ignores_case() -> None:
    """A routed category goes to its group, however its name is spelled."""
    router = StaffRouter([-100, -200], {"Billing": -300, "server": -400})
    assert router.chat_for(1001, "billing") == -300
    assert router.chat_for(1002, "BILLING") == -300
    assert router.chat_for(1003, "Server") == -400


def test_other_tickets_take_turns_by_number() -> None:
    """Tickets of unrouted categories go round the groups by ticket number."""
    router = StaffRouter([-100, -200, -300], {"billing": -900})
    chats = [router.chat_for(number, "mail") for number in range(1001, 1007)]
    assert chats == [-300, -100, -200, -300, -100, -200]  # 1001 % 3 == 2
    assert StaffRouter([-100], {}).chat_for(1234, "") == -100


# Replies offered straight from the turn


class CountingOutbox(Outbox):
    """An outbox that counts the rounds' reads and the transactions marking deliveries."""

    def __init__(self, store: TicketStore) -> None:
        super().__init__(store)
        self.reads = 0
        self.mark_batches: list[list[int]] = []

    def due(self, limit: int = 200) -> list[OutboxItem]:
        self.reads += 1
        return super().due(limit)

    def delivered_many(self, items: Any) -> None:
        items = list(items)
        self.mark_batches.append([item_id for item_id, _ in items])
        super().delivered_many(items)


async def test_an_offered_reply_goes_out_without_a_round(store: TicketStore) -> None:
    """A reply first in line is delivered from the offer: no round reads the outbox."""
    outbox, channel = CountingOutbox(store), FakeChannel()
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    with dispatcher.holding("customer:1"), outbox.collecting() as ready:
        outbox.enqueue([reply(1, "a")])
    dispatcher.offer(ready)
    await until(lambda: outbox.waiting() == [])
    assert channel.delivered == ["a"]
    assert outbox.reads == 0


async def test_rounds_leave_a_held_destination_alone(store: TicketStore) -> None:
    """While a turn holds a customer, a round does not start their items: the offer does."""
    outbox, channel = CountingOutbox(store), FakeChannel()
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    with dispatcher.holding("customer:1"):
        with outbox.collecting() as ready:
            outbox.enqueue([reply(1, "a"), reply(2, "b")])
        assert await dispatcher.round() == 1  # "b" starts, "a" waits for the offer
        dispatcher.offer([item for item in ready if item.destination == "customer:1"])
    await until(lambda: outbox.waiting() == [])
    assert sorted(channel.delivered) == ["a", "b"]


async def test_an_offer_for_a_busy_customer_falls_back_to_a_round(
    outbox: Outbox, channel: FakeChannel
) -> None:
    """If the customer's earlier item is still on its way, the offer leaves it to `run`."""
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    release = asyncio.Event()

    async def hold(text: str) -> None:
        if text == "a":
            await release.wait()

    channel.hold = hold
    runner = asyncio.create_task(dispatcher.run())
    try:
        outbox.enqueue([reply(1, "a")])
        dispatcher.wake()
        await until(lambda: channel.running.total() == 1)
        outbox.enqueue([reply(1, "b")])
        dispatcher.offer(outbox.waiting("customer:1")[1:])
        await asyncio.sleep(0.05)
        assert channel.delivered == []  # "b" did not overtake or join "a"
        release.set()
        await until(lambda: outbox.waiting() == [])
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    assert channel.delivered == ["a", "b"]


async def test_deliveries_finishing_together_are_marked_in_one_transaction(
    store: TicketStore,
) -> None:
    """Delivered marks queue behind the one being written: fewer transactions under load."""
    outbox, channel = CountingOutbox(store), FakeChannel()
    dispatcher = Dispatcher(outbox, {"telegram": channel}, time_scale=FAST)
    for customer in range(1, 7):
        outbox.enqueue([reply(customer, f"r{customer}")])
    await dispatcher.drain()
    marked = [item for batch in outbox.mark_batches for item in batch]
    assert sorted(marked) == [item.id for item in outbox.items(include_delivered=True)]
    assert len(outbox.mark_batches) < 6
