"""Benchmark a burst of new tickets: how fast 200 of them reach staff under the 20/minute budget.

    python benchmarks/bench_staff_burst.py [--tickets 200] [--time-scale 60] [--staff-chats 1]
        [--digest-after 5] [--arrival 60] [--trace] [--timeout S]

The real bot (bot.app.build_telegram: workers = 0, the repo's faq_content, a fresh database)
runs in this process against the fake Bot API server of tests/fake_bot_api.py. The fake
enforces Telegram's flood limits (20 posts a minute per group, about one a second per private
chat, 30 a second in all) on a clock that runs `--time-scale` S times faster than real time,
and the bot gets the same time scale for its flood budgets and retry waits: a Telegram minute
lasts 60/S real seconds. Times are reported in both, Telegram time = real time × S.

`--tickets` customers each send one request that opens a standard ticket at once (a mail-server
fault and a request for a human, in small variations), spread evenly over `--arrival` Telegram
seconds (default 60: all within one Telegram minute; 0: all at once). Each new ticket costs
the staff chat two posts, its forum topic and its card in it; a digest notice lists waiting
tickets ahead of them once more than `--digest-after` wait. With `--staff-chats N` > 1 the
tickets go round robin to N staff forums ([telegram] staff_chats), and a run with one staff
chat comes first, for the speed-up.

Measured from the first request: the first digest notice in a staff chat, the time by which
every ticket was listed in a digest or had its card, the time until every ticket's card was
posted, and each ticket's card latency. Checked: the fake answered no call with 429; every
ticket 1001... has exactly one topic and exactly one card, in that topic (none lost, none
twice); no staff chat got more than staff_rate_per_minute posts in any Telegram minute (sliding
window over every call that counts against the flood limit); every customer was told
"ticket created" exactly once, with their ticket's number; no outbox item failed or still
waits. The exit status is 1 when a check fails. `--trace` prints every staff-chat call.

The bot's own CPU time counts S times as well: taking in 200 requests costs it a few real
seconds, at S = 60 some Telegram minutes, which shifts the start of the run (the report notes
it). `--time-scale 5` shows the real-time pace; a run then takes about 4.5 real minutes.

The bot keeps the flood limits itself (bot/telegram/budget.py, on the scaled clock); should
the Application carry a PTB rate limiter again, it would run on the real clock, and the report
says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import math
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import build_telegram
from bot.config import Config, Telegram
from bot.telegram.runner import Runner
from bot.tickets.outbox import Outbox
from bot.tickets.store import TicketStore

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
CONTENT = REPO / "faq_content"
TOKEN = "424242:BENCH-token"
FIRST_STAFF_CHAT_ID = -1_004_242
AGENT_ID = 900
FIRST_CUSTOMER_ID = 10_001
FIRST_TICKET = 1001
MINUTE = 60.0  # Telegram seconds
STARTUP_TIMEOUT = 30.0  # real seconds
POLL_INTERVAL = 0.02  # real seconds
SETTLE = 60.0  # Telegram seconds to watch after the last card, for duplicates
SETTLE_REAL = (0.5, 10.0)  # ... but at least and at most this many real seconds
SHOWN = 5  # examples of errors, digests, log records

FIRST_NAMES = (
    "Anna", "Bernd", "Claudia", "Dieter", "Elif", "Frank", "Greta", "Hakan",
    "Ines", "Jonas", "Katrin", "Lukas", "Mira", "Nils", "Olga", "Paul",
)  # fmt: skip
SINCE = ("seit heute früh", "seit 7 Uhr", "seit einer Stunde", "seit heute Morgen")
EXTRA = (
    "",
    ", bei euch ist wohl eine Störung",
    " (Domain kunde{n}.de)",
    ", Fehler 550 beim Senden",
    ", schon seit Stunden",
)
REQUEST = (
    "Ich möchte mit einem Mitarbeiter sprechen: euer Mailserver nimmt {since} keine Mails"
    " mehr an{extra}"
)

TOPIC_NAME = re.compile(r"^(\d+) · ")
CARD = re.compile(r"^(?:<b>)?Ticket (\d+)(?:</b>)? · ")
CREATED = re.compile(r"Ihr Ticket (\d+) ist angelegt|Your ticket (\d+) has been created")
DIGEST_MARK = "📥"
DIGEST_LINE = re.compile(r"^• (\d+) · ", re.MULTILINE)


# --------------------------------------------------------------------------------------------
# The workload
# --------------------------------------------------------------------------------------------


def request_text(index: int) -> str:
    """Return customer `index`'s request: a mail-server fault, asking for a human."""
    extra = EXTRA[index % len(EXTRA)].format(n=index + 1)
    return REQUEST.format(since=SINCE[(index // len(EXTRA)) % len(SINCE)], extra=extra)


def customers(fake: Any, count: int) -> list[Any]:
    """Return the customers, German-speaking, each with a name and a username."""
    return [
        fake.FakeUser(
            FIRST_CUSTOMER_ID + n, f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {n + 1}", f"kunde{n + 1}"
        )
        for n in range(count)
    ]


def fake_bot_api() -> Any:
    """Import tests/fake_bot_api.py (the tests folder is not a package)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return importlib.import_module("fake_bot_api")


# --------------------------------------------------------------------------------------------
# The bot
# --------------------------------------------------------------------------------------------


def bot_config(base_url: str, database: Path, chats: Sequence[int], digest_after: int) -> Config:
    """Return the config: the fake, the staff forums, the repo's content, a fresh database."""
    telegram = Telegram(
        token=TOKEN,
        base_url=base_url,
        staff_chat_id=chats[0],
        staff_chats=tuple(chats[1:]),
        workers=0,
        digest_after=digest_after,
    )
    return Config(content_path=CONTENT, database=database, telegram=telegram)


def ptb_limiter(runner: Runner) -> str:
    """Describe PTB's rate limiter on the bot, if it has one (it would not be time-scaled)."""
    limiter = runner.application.bot.rate_limiter
    if limiter is None:
        return "none (the bot's own flood budget, time-scaled)"
    return f"{type(limiter).__name__} on the REAL clock, not time-scaled"


class LogTally(logging.Handler):
    """Count the bot's log records (INFO and up from bot.*, WARNING and up from the rest)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.examples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[(record.name, record.levelname)] += 1
        if record.levelno >= logging.INFO and len(self.examples) < SHOWN:
            self.examples.append(f"{record.levelname} {record.name}: {record.getMessage()}"[:300])


@contextlib.contextmanager
def tallied_logs() -> Any:
    """Collect log records while the block runs, printing none."""
    tally = LogTally()
    root, ours = logging.getLogger(), logging.getLogger("bot")
    levels = root.level, ours.level
    root.setLevel(logging.WARNING)
    ours.setLevel(logging.INFO)
    root.addHandler(tally)
    try:
        yield tally
    finally:
        root.removeHandler(tally)
        root.setLevel(levels[0])
        ours.setLevel(levels[1])


# --------------------------------------------------------------------------------------------
# A run
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Watch:
    """Follow the fake's calls while the run goes: cards posted, customers told."""

    api: Any
    staff: frozenset[int]
    seen: int = 0
    cards: set[int] = field(default_factory=set)
    told: set[int] = field(default_factory=set)

    def scan(self) -> None:
        calls = self.api.calls()
        for call in calls[self.seen :]:
            if call.method != "sendMessage" or not call.ok:
                continue
            text = str(call.params.get("text", ""))
            chat = call.params.get("chat_id")
            if chat in self.staff and (card := CARD.match(text)):
                self.cards.add(int(card[1]))
            elif chat not in self.staff and CREATED.search(text):
                self.told.add(chat)
        self.seen = len(calls)


@dataclass(slots=True)
class Raw:
    """What a run leaves behind: the fake's calls, the store's rows, the times."""

    chats: tuple[int, ...]
    customers: dict[int, float]  # customer id -> time the request was queued (monotonic)
    start: float
    finished: bool
    calls: list[Any]
    tickets: list[Any]
    threads: list[tuple[int, int, int | None, int]]
    failed: list[Any]
    waiting: list[Any]
    limiter: str
    logs: LogTally


async def send_burst(api: Any, people: Sequence[Any], arrival_real: float) -> dict[int, float]:
    """Queue every customer's request, spread evenly over `arrival_real` seconds."""
    start = time.monotonic()
    queued: dict[int, float] = {}
    for index, person in enumerate(people):
        delay = start + arrival_real * index / len(people) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        api.user_text(person, request_text(index))
        queued[person.id] = time.monotonic()
    return queued


async def run_burst(args: argparse.Namespace, chat_count: int) -> Raw:
    """Start the bot against a fresh fake, send the burst, wait for every card; collect."""
    fake = fake_bot_api()
    scale = args.time_scale
    limits = fake.FloodLimits(time_scale=scale)
    chats = tuple(FIRST_STAFF_CHAT_ID - n for n in range(chat_count))
    people = customers(fake, args.tickets)
    async with fake.FakeBotApi(token=TOKEN, flood_limits=limits) as api:
        for number, chat_id in enumerate(chats, start=1):
            api.add_chat(fake.FakeChat.forum(chat_id, f"Support {number}"), members=[AGENT_ID])
        with (
            tempfile.TemporaryDirectory(prefix="bench-staff-burst-") as tmp,
            tallied_logs() as logs,
            TicketStore.open(Path(tmp) / "burst.sqlite3") as store,
        ):
            config = bot_config(api.base_url, store.path, chats, args.digest_after)
            runner = build_telegram(config, store, environ={}, time_scale=scale)
            limiter = ptb_limiter(runner)
            await runner.start()
            watch = Watch(api, frozenset(chats))
            try:
                await api.wait_for(lambda: api.parked_polls > 0, timeout=STARTUP_TIMEOUT)
                start = time.monotonic()
                queued = await send_burst(api, people, args.arrival / scale)
                deadline = start + (args.timeout or default_timeout(args, chat_count))
                while time.monotonic() < deadline:
                    watch.scan()
                    if len(watch.cards) >= args.tickets and len(watch.told) >= args.tickets:
                        break
                    await asyncio.sleep(POLL_INTERVAL)
                finished = len(watch.cards) >= args.tickets and len(watch.told) >= args.tickets
                if finished:  # watch a while longer: a duplicate would come now
                    low, high = SETTLE_REAL
                    await asyncio.sleep(min(high, max(low, SETTLE / scale)))
            finally:
                await runner.stop()
            outbox = Outbox(store)
            threads = store.connection.execute(
                "SELECT ticket_number, chat_id, thread_id, card_message_id FROM staff_threads"
            ).fetchall()
            return Raw(
                chats=chats,
                customers=queued,
                start=start,
                finished=finished,
                calls=api.calls(),
                tickets=store.tickets(),
                threads=[tuple(row) for row in threads],
                failed=outbox.failed(),
                waiting=outbox.waiting(),
                limiter=limiter,
                logs=logs,
            )


def default_timeout(args: argparse.Namespace, chat_count: int) -> float:
    """Real seconds to wait: three times the budget's floor for the posts, plus slack."""
    per_chat = math.ceil(args.tickets / chat_count)
    posts = 2 * per_chat + per_chat / (args.digest_after + 1)
    minutes = posts / Telegram().staff_rate_per_minute + args.arrival / MINUTE + 5
    return 3 * minutes * MINUTE / args.time_scale + 30


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """The figures and checks of one run (times in real seconds from the first request)."""

    chats: tuple[int, ...]
    tickets: int
    scale: float
    rate: int
    limiter: str
    finished: bool
    last_queued: float = math.nan
    last_told: float = math.nan
    first_digest: float = math.nan
    first_card: float = math.nan
    all_listed: float = math.nan
    all_cards: float = math.nan
    latencies: list[float] = field(default_factory=list)  # request -> its card
    seen_after: list[float] = field(default_factory=list)  # request -> first digest or card
    never_digested: int = 0
    floor_minutes: float = 0.0
    refusals: Counter[bool] = field(default_factory=Counter)  # True: to a staff chat
    refusal_examples: list[str] = field(default_factory=list)
    created: int = 0
    wrong_tier: int = 0
    lost: list[int] = field(default_factory=list)
    topics_twice: list[int] = field(default_factory=list)
    cards_twice: list[int] = field(default_factory=list)
    misplaced: list[int] = field(default_factory=list)
    not_recorded: list[int] = field(default_factory=list)
    told_wrong: list[int] = field(default_factory=list)
    peaks: dict[int, int] = field(default_factory=dict)
    posts: dict[int, Counter[str]] = field(default_factory=dict)
    digests: list[tuple[float, int, int]] = field(default_factory=list)  # time, chat, tickets
    other_errors: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    logs: LogTally | None = None

    def checks(self) -> list[tuple[str, str, str, bool]]:
        """Return (check, value, limit, passed) for every check."""
        worst = max(self.peaks.values(), default=0)
        staff, private = self.refusals[True], self.refusals[False]
        return [
            ("429 refusals, staff chats / private chats",
             f"{staff} / {private}", "0", staff + private == 0),
            ("tickets created", str(self.created), str(self.tickets),
             self.created == self.tickets and not self.wrong_tier),
            ("lost tickets (no card in the staff chat)", str(len(self.lost)), "0", not self.lost),
            ("topics / cards posted twice",
             f"{len(self.topics_twice)} / {len(self.cards_twice)}", "0",
             not self.topics_twice and not self.cards_twice),
            ("cards outside their ticket's topic / not recorded",
             f"{len(self.misplaced)} / {len(self.not_recorded)}", "0",
             not self.misplaced and not self.not_recorded),
            ("staff posts in any Telegram minute, max", str(worst), f"≤ {self.rate}",
             worst <= self.rate),
            ("customers not told 'ticket created' exactly once", str(len(self.told_wrong)), "0",
             not self.told_wrong),
            ("outbox items failed / still waiting",
             f"{len(self.failed)} / {len(self.waiting)}", "0",
             not self.failed and not self.waiting),
        ]  # fmt: skip

    @property
    def passed(self) -> bool:
        return self.finished and all(ok for *_, ok in self.checks())


def peak_per_window(times: Sequence[float], window: float) -> int:
    """Return the most events in any window of `window` seconds (ends excluded, as the fake)."""
    ordered = sorted(times)
    peak, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def budget_floor(posts: int, rate: int) -> float:
    """Return the fewest Telegram minutes `posts` posts need at `rate` a minute, from 0."""
    return float((posts - 1) // rate) if posts else 0.0


@dataclass(slots=True)
class Sorted:
    """A run's calls after the first request, sorted by what they did."""

    topics: dict[int, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    cards: dict[int, list[tuple[int, int | None, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # ticket -> (chat, thread, time) of each card
    listed: dict[int, float] = field(default_factory=dict)  # ticket -> first digest or card
    digested: set[int] = field(default_factory=set)
    told: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    posted: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))


def sort_calls(raw: Raw, out: Outcome, counted: frozenset[str]) -> Sorted:
    """Sort the calls made after the first request; count refusals, errors and posts."""
    found = Sorted()
    staff = set(raw.chats)
    for call in raw.calls:
        if call.time < raw.start or call.fault == "abandoned":
            continue  # abandoned: the parked long poll that PTB's last getUpdates ends on stop
        chat, at = call.params.get("chat_id"), call.time - raw.start
        if call.fault == "flood":
            out.refusals[chat in staff] += 1
            if len(out.refusal_examples) < SHOWN:
                where = f"{call.method} to {chat} at {tg(at, out.scale)}"
                out.refusal_examples.append(f"{where}: {call.error}")
        elif not call.ok:
            out.other_errors[f"{call.method} {call.status}: {call.error}"] += 1
        elif chat in staff:
            if call.method.lower() in counted:
                found.posted[chat].append(call.time)
            out.posts[chat][sort_staff_call(call, at, found, out)] += 1
        elif call.method == "sendMessage" and (told := CREATED.search(call.params["text"])):
            found.told[chat].append(int(told[1] or told[2]))
            out.last_told = at if math.isnan(out.last_told) else max(out.last_told, at)
    return found


def sort_staff_call(call: Any, at: float, found: Sorted, out: Outcome) -> str:
    """Take in a successful call to a staff chat; return what it posted."""
    chat, text = call.params["chat_id"], str(call.params.get("text", ""))
    if call.method == "createForumTopic" and (name := TOPIC_NAME.match(call.params["name"])):
        found.topics[int(name[1])].append((chat, call.result["message_thread_id"]))
        return "topic"
    if call.method == "sendMessage" and (card := CARD.match(text)):
        number = int(card[1])
        found.cards[number].append((chat, call.params.get("message_thread_id"), at))
        found.listed.setdefault(number, at)
        return "card"
    digest = text.startswith(DIGEST_MARK) or DIGEST_LINE.match(text)  # a later part: no mark
    if call.method == "sendMessage" and digest and not call.params.get("message_thread_id"):
        numbers = [int(number) for number in DIGEST_LINE.findall(text)]
        out.digests.append((at, chat, len(numbers)))
        for number in numbers:
            found.listed.setdefault(number, at)
        found.digested.update(numbers)
        return "digest"
    return str(call.method)


def check_tickets(raw: Raw, out: Outcome, found: Sorted, expected: range) -> None:
    """Check every ticket's topic and card, and what each customer was told."""
    recorded = {row[0]: row for row in raw.threads}
    tickets = {ticket.number: ticket for ticket in raw.tickets}
    out.created = len(tickets)
    out.wrong_tier = sum(1 for ticket in tickets.values() if ticket.tier.value != "standard")
    for number in expected:
        cards = found.cards.get(number, [])
        if not cards:
            out.lost.append(number)
            continue
        topics = found.topics.get(number, [])
        if len(topics) > 1:
            out.topics_twice.append(number)
        if len(cards) > 1:
            out.cards_twice.append(number)
        chat, thread, at = cards[0]
        if (chat, thread) not in topics:
            out.misplaced.append(number)
        row = recorded.get(number)
        if row is None or row[1:3] != (chat, thread) or not row[3]:
            out.not_recorded.append(number)
        out.never_digested += number not in found.digested
        ticket = tickets.get(number)
        if ticket is not None and ticket.customer_id in raw.customers:
            asked = raw.customers[ticket.customer_id] - raw.start
            out.latencies.append(at - asked)
            out.seen_after.append(found.listed[number] - asked)
    number_of = {ticket.customer_id: ticket.number for ticket in tickets.values()}
    out.told_wrong = [
        customer
        for customer in raw.customers
        if found.told.get(customer, []) != [number_of.get(customer)]
    ]


def analyse(raw: Raw, args: argparse.Namespace) -> Outcome:
    """Turn a run's calls and rows into figures and checks."""
    rate = Telegram().staff_rate_per_minute
    out = Outcome(raw.chats, args.tickets, args.time_scale, rate, raw.limiter, raw.finished)
    out.logs = raw.logs
    out.posts = {chat: Counter() for chat in raw.chats}
    out.last_queued = max(raw.customers.values()) - raw.start
    found = sort_calls(raw, out, fake_bot_api().FLOOD_COUNTED_METHODS)
    expected = range(FIRST_TICKET, FIRST_TICKET + args.tickets)
    out.peaks = {
        chat: peak_per_window(found.posted[chat], MINUTE / out.scale) for chat in raw.chats
    }
    out.floor_minutes = max(budget_floor(sum(out.posts[chat].values()), rate) for chat in raw.chats)
    out.first_digest = min((at for at, _, _ in out.digests), default=math.nan)
    out.first_card = min((cards[0][2] for cards in found.cards.values()), default=math.nan)
    if all(number in found.cards for number in expected):
        out.all_cards = max(found.cards[number][0][2] for number in expected)
    if all(number in found.listed for number in expected):
        out.all_listed = max(found.listed[number] for number in expected)
    check_tickets(raw, out, found, expected)
    out.failed = [f"{item.destination}: {item.last_error}" for item in raw.failed]
    out.waiting = [
        f"{item.destination} ({item.payload.get('kind')}, attempts {item.attempts},"
        f" progress {item.progress}): {item.last_error}"
        for item in raw.waiting
    ]
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def tg(real: float, scale: float) -> str:
    """Format real seconds as Telegram time, m:ss.s."""
    if math.isnan(real):
        return "—"
    minutes, seconds = divmod(real * scale, MINUTE)
    return f"{int(minutes)}:{seconds:04.1f}"


def real(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds:.2f} s"


def print_outcome(out: Outcome) -> None:
    """Print one run's figures, checks and what went wrong."""
    scale = out.scale
    chats = ", ".join(str(chat) for chat in out.chats)
    print(
        f"\n{len(out.chats)} staff forum chat(s) ({chats}); PTB rate limiter: {out.limiter}"
        + ("" if out.finished else "  — DID NOT FINISH within the timeout")
    )
    rows = [
        ("last request queued", out.last_queued),
        ("last customer told 'ticket created'", out.last_told),
        ("first digest notice in a staff chat", out.first_digest),
        ("first ticket card", out.first_card),
        ("every ticket listed (digest or card)", out.all_listed),
        ("every ticket's card posted", out.all_cards),
    ]
    print(f"  {'from the first request':<44} {'Telegram m:ss':>13} {'real':>10}")
    for label, seconds in rows:
        print(f"  {label:<44} {tg(seconds, scale):>13} {real(seconds):>10}")
    floor = out.floor_minutes * MINUTE / scale
    print(f"  {'  floor: the posts at ' + str(out.rate) + '/min, from 0:00':<44}"
          f" {tg(floor, scale):>13} {real(floor):>10}")  # fmt: skip
    behind = (out.last_told - out.last_queued) * scale
    if behind > MINUTE / 2:
        print(
            f"  note: the bot told the last customer {behind:.0f} Telegram s after the last"
            f" request: its own CPU time counts {scale:g}× in Telegram time (bot and fake share"
            " this process); a lower --time-scale shows the real-time pace"
        )
    for label, latencies in (
        ("per ticket, request → listed, p50/p90/max", out.seen_after),
        ("per ticket, request → card, p50/p90/max", out.latencies),
    ):
        if latencies:
            ordered = sorted(latencies)
            p50 = statistics.median(ordered)
            p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
            print(
                f"  {label:<44} {tg(p50, scale)} / {tg(p90, scale)} / {tg(ordered[-1], scale)}"
                " (Telegram)"
            )
    for chat in out.chats:
        kinds = out.posts[chat]
        total = sum(kinds.values())
        others = ", ".join(
            f"{n} {kind}" for kind, n in kinds.items() if kind not in ("topic", "card", "digest")
        )
        listed = sum(n for _, c, n in out.digests if c == chat)
        print(
            f"  staff chat {chat}: {total} posts = {kinds['topic']} topics + {kinds['card']} cards"
            f" + {kinds['digest']} digests (listing {listed} tickets)"
            + (f" + {others}" if others else "")
            + f"; max {out.peaks.get(chat, 0)} in a Telegram minute"
        )
    if out.never_digested:
        print(f"  tickets in no digest, seen only with their card: {out.never_digested}")
    if out.digests:
        shown = ", ".join(f"{tg(at, scale)} {n}" for at, _, n in sorted(out.digests)[: SHOWN * 2])
        more = " ..." if len(out.digests) > SHOWN * 2 else ""
        print(f"  digests (time, tickets listed): {shown}{more}")
    print(f"\n  {'check':<52} {'value':>9} {'limit':>6}  verdict")
    for label, value, limit, ok in out.checks():
        print(f"  {label:<52} {value:>9} {limit:>6}  {'PASS' if ok else 'FAIL'}")
    problems: list[tuple[str, Sequence[Any]]] = [
        ("429 refusals", out.refusal_examples),
        ("lost tickets", out.lost),
        ("topics twice", out.topics_twice),
        ("cards twice", out.cards_twice),
        ("cards outside their topic", out.misplaced),
        ("cards not recorded in staff_threads", out.not_recorded),
        ("customers not told exactly once", out.told_wrong),
        ("outbox items failed", out.failed),
        ("outbox items still waiting", out.waiting),
        ("other failed calls", [f"{n}× {e}" for e, n in out.other_errors.most_common()]),
    ]
    for label, items in problems:
        if items:
            shown = "; ".join(str(item) for item in list(items)[:SHOWN])
            print(f"  {label} ({len(items)}): {shown}{' ...' if len(items) > SHOWN else ''}")
    if out.logs is not None and out.logs.counts:
        counts = ", ".join(f"{n}× {name} {level}" for (name, level), n in out.logs.counts.items())
        print(f"  log records: {counts}")
        for example in out.logs.examples:
            print(f"    {example}")


def print_trace(raw: Raw, scale: float) -> None:
    """Print every call to a staff chat after the first request: time, method, outcome."""
    print(f"\nStaff-chat calls of the run with {len(raw.chats)} staff chat(s):")
    for call in raw.calls:
        chat = call.params.get("chat_id")
        if call.time < raw.start or chat not in raw.chats:
            continue
        what = call.params.get("name") or str(call.params.get("text", ""))
        thread = call.params.get("message_thread_id")
        outcome = "ok" if call.ok else f"{call.status} {call.error}"
        print(
            f"  {tg(call.time - raw.start, scale):>8} {chat} {call.method:<17}"
            f" thread {thread!s:<5} {outcome:<40.40} {what.splitlines()[0][:50] if what else ''}"
        )


def print_speedup(single: Outcome, multi: Outcome) -> None:
    """Print how much faster N staff chats (round robin) were than one."""
    print(f"\nRound robin over {len(multi.chats)} staff chats against 1:")
    for label, one, many in (
        ("every ticket's card posted", single.all_cards, multi.all_cards),
        ("every ticket listed (digest or card)", single.all_listed, multi.all_listed),
        ("first digest notice", single.first_digest, multi.first_digest),
    ):
        ratio = one / many if many and not math.isnan(one) and not math.isnan(many) else math.nan
        print(
            f"  {label:<40} {tg(one, single.scale):>9} → {tg(many, multi.scale):>9}"
            f"  speed-up {ratio:.2f}×"
        )


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


async def benchmark(args: argparse.Namespace) -> int:
    """Run the burst (first with one staff chat when comparing), print the report."""
    minute_real = MINUTE / args.time_scale
    print(
        f"Staff burst benchmark: {args.tickets} new standard tickets from {args.tickets}"
        f" customers within {args.arrival:g} Telegram seconds; staff_rate_per_minute"
        f" {Telegram().staff_rate_per_minute}, digest_after {args.digest_after}."
    )
    print(
        f"Time scale {args.time_scale:g}: one Telegram minute = {minute_real:.3g} real s;"
        " Telegram time = real time × scale. The bot runs in this process (workers = 0)"
        " against the fake Bot API with Telegram's flood limits."
    )
    outcomes: list[Outcome] = []
    for chat_count in dict.fromkeys((1, args.staff_chats)):
        started = time.monotonic()
        raw = await run_burst(args, chat_count)
        outcome = analyse(raw, args)
        if args.trace:
            print_trace(raw, args.time_scale)
        print_outcome(outcome)
        print(f"  (run took {time.monotonic() - started:.1f} real s, start-up and stop included)")
        outcomes.append(outcome)
    if len(outcomes) > 1:
        print_speedup(outcomes[0], outcomes[-1])
    failed = [o for o in outcomes if not o.passed]
    verdict = "FAIL" if failed else "PASS"
    print(f"\nVerdict: {verdict} (no 429, no loss, no duplicate, budget kept, every run finished)")
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=200, help="new tickets (customers)")
    parser.add_argument(
        "--time-scale", type=float, default=60.0, help="Telegram seconds per real second"
    )
    parser.add_argument(
        "--staff-chats", type=int, default=1, help="staff forums, round robin (N > 1: vs. 1)"
    )
    parser.add_argument("--digest-after", type=int, default=Telegram().digest_after)
    parser.add_argument(
        "--arrival", type=float, default=MINUTE, help="Telegram seconds the requests spread over"
    )
    parser.add_argument(
        "--trace", action="store_true", help="print every call to a staff chat, in order"
    )
    parser.add_argument(
        "--timeout", type=float, help="real seconds to wait for every card (default: derived)"
    )
    args = parser.parse_args(argv)
    if args.tickets < 1 or args.staff_chats < 1 or args.digest_after < 1:
        parser.error("--tickets, --staff-chats and --digest-after must be positive")
    if args.time_scale <= 0 or args.arrival < 0 or (args.timeout is not None and args.timeout <= 0):
        parser.error("--time-scale and --timeout must be positive, --arrival not negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 1 if a check failed."""
    return asyncio.run(benchmark(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
