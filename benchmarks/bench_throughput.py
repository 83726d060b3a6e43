"""Benchmark Telegram throughput: the triage bot versus a bare python-telegram-bot echo bot.

    python benchmarks/bench_throughput.py [--runs 5] [--concurrency 1,4,8,16]
        [--messages 1000] [--customers 100] [--warmup 20] [--timeout 120] [--seed 1]
        [--profile [--profile-concurrency 1]]

Each bot runs in its own process (`triagebot run` with a generated config; the echo bot is
`--echo-bot URL TOKEN` of this file) against the fake Bot API server of tests/fake_bot_api.py,
which runs in this process. Per run: start the bot, wait until it long-polls, send a few
warm-up messages, then queue all customer questions at once (round robin over the
customers) and wait for every reply. Messages/s is the number of replies over the time from
queueing to the last reply; a reply's latency is the time the fake received its sendMessage
minus the time its question was queued (per customer, in order).

`--profile` adds two triage runs that show where the bot's time goes, both over the batch only
(the bot clears its records after the warm-up on SIGUSR1 and writes them on SIGUSR2): one with
timers around the main phases (matching, SQLite, rendering, sending; next to no overhead),
one under cProfile (CPU time per thread, event loop and worker thread alike; by area and by
function, slowed down several times by the profiler).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import importlib
import json
import math
import os
import pstats
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.triage.intents import asks_for_human

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
CONTENT = REPO / "faq_content"
EXAMPLE_CONFIG = REPO / "config.example.toml"
TOKEN = "424242:BENCH-token"
STAFF_CHAT_ID = -1_004_242
AGENT_ID = 900
FIRST_CUSTOMER_ID = 10_001
WARMUP_CUSTOMER_ID = 9_999
GERMAN_SHARE = 0.7
TARGET_RATIO = 0.70
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
LOG_TAIL_LINES = 20
PROFILE_LINES = 25
PROFILE_SETTLE = 0.1
AREA_EXAMPLES = 3
ERRORS_SHOWN = 3
# The update kinds both bots ask for (what the triage bot asks for).
ALLOWED_UPDATES = ["message", "callback_query"]


# --------------------------------------------------------------------------------------------
# The workload
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer who writes to the bot."""

    id: int
    language_code: str


@dataclass(frozen=True, slots=True)
class Workload:
    """The questions to queue, in queue order (round robin over the customers)."""

    customers: tuple[Customer, ...]
    messages: tuple[tuple[Customer, str], ...]
    warmup: tuple[str, ...]


def load_questions() -> list[str]:
    """Return the customer questions of tests/eval/cases_*.jsonl, German and English.

    Questions that ask for a human are left out: they start a handoff, which the triage bot
    answers with more than one message, while every other question gets exactly one reply
    (an answer, suggestions or "don't know").
    """
    questions: list[str] = []
    for path in sorted((TESTS / "eval").glob("cases_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            question = json.loads(line).get("question") if line.strip() else None
            if isinstance(question, str) and question.strip() and not asks_for_human(question):
                questions.append(question)
    return list(dict.fromkeys(questions))


def build_workload(messages: int, customers: int, warmup: int, seed: int) -> Workload:
    """Draw `messages` questions for `customers` customers, each customer's in order."""
    rng = random.Random(seed)
    pool = load_questions()
    people = tuple(
        Customer(FIRST_CUSTOMER_ID + n, "de" if rng.random() < GERMAN_SHARE else "en")
        for n in range(customers)
    )
    per_customer = {c.id: [rng.choice(pool) for _ in range(messages // customers)] for c in people}
    for customer in people[: messages % customers]:
        per_customer[customer.id].append(rng.choice(pool))
    rounds = max(len(questions) for questions in per_customer.values())
    queued = tuple(
        (customer, per_customer[customer.id][round_])
        for round_ in range(rounds)
        for customer in people
        if round_ < len(per_customer[customer.id])
    )
    return Workload(people, queued, tuple(rng.choice(pool) for _ in range(warmup)))


# --------------------------------------------------------------------------------------------
# The bots under test
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contender:
    """A bot to measure: the echo bot (concurrency None) or the triage bot."""

    concurrency: int | None = None
    instrument: str | None = None  # "timers" or "profile", written to `output`
    output: Path | None = None

    @property
    def name(self) -> str:
        if self.concurrency is None:
            return "echo (bare PTB, sequential)"
        return f"triage concurrent_updates={self.concurrency}"

    def command(self, base_url: str, folder: Path) -> list[str]:
        """Return the command line that starts this bot against the fake at `base_url`."""
        if self.concurrency is None:
            return [sys.executable, __file__, "--echo-bot", base_url, TOKEN]
        config = folder / "config.toml"
        # Instrumented runs keep the core in the bot's process, where the timers are.
        workers = 0 if self.instrument is not None else None
        config.write_text(
            triage_config(base_url, self.concurrency, folder, workers), encoding="utf-8"
        )
        if self.instrument is not None and self.output is not None:
            return [
                sys.executable, __file__, "--instrumented-bot", self.instrument, str(self.output),
                str(config),
            ]  # fmt: skip
        return [sys.executable, "-m", "bot", "run", "--config", str(config)]


def triage_config(base_url: str, concurrency: int, folder: Path, workers: int | None = None) -> str:
    """Return a config for `triagebot run` against the fake, with a fresh database.

    `workers` None keeps the default of config.example.toml.
    """
    telegram: dict[str, object] = {
        "token": TOKEN,
        "base_url": base_url,
        "staff_chat_id": STAFF_CHAT_ID,
        "concurrent_updates": concurrency,
        "flood_limits": False,
    }
    if workers is not None:
        telegram["workers"] = workers
    settings = {
        "telegram": telegram,
        "content": {"path": str(CONTENT)},
        "storage": {"database": str(folder / "bench.sqlite3")},
    }
    lines: list[str] = []
    for section, values in settings.items():
        lines.append(f"[{section}]")
        # JSON strings, numbers and booleans are valid TOML values.
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


def default_concurrency() -> int:
    """Return concurrent_updates as config.example.toml documents it."""
    example = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    return int(example["telegram"]["concurrent_updates"])


def run_echo_bot(base_url: str, token: str) -> int:
    """Run a bare PTB echo bot: one MessageHandler, reply_text, polling, nothing else."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is not None and message.text:
            await message.reply_text(message.text)

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_url.replace("/bot", "/file/bot", 1))
        .concurrent_updates(False)
        .build()
    )
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, echo))
    # The same polling as `triagebot run` (PTB's defaults); stops on SIGINT and SIGTERM.
    application.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0


def run_instrumented_bot(mode: str, output: Path, config: Path) -> int:
    """Run `triagebot run` with phase timers or profilers.

    SIGUSR1 clears what was recorded (start-up, warm-up); SIGUSR2 writes the records to
    `output`, as does the exit if no SIGUSR2 came.
    """
    recorder: Recorder = PhaseTimers() if mode == "timers" else ThreadProfiles()

    def dump(*_: object) -> None:
        if not output.exists():
            partial = output.with_suffix(".partial")
            recorder.write(partial)
            partial.rename(output)

    signal.signal(signal.SIGUSR1, lambda *_: recorder.clear())
    signal.signal(signal.SIGUSR2, dump)
    bot_main = importlib.import_module("bot.__main__").main
    recorder.start()
    try:
        status: int = bot_main(["run", "--config", str(config)])
    finally:
        dump()
    return status


class Recorder:
    """Records what the bot does, cleared after the warm-up and written after the batch."""

    def start(self) -> None:
        """Start recording (before the bot is built)."""

    def clear(self) -> None:
        """Forget what was recorded so far."""

    def write(self, path: Path) -> None:
        """Write the records to a file."""


class ThreadProfiles(Recorder):
    """cProfile in every thread, measuring each thread's CPU time."""

    def __init__(self) -> None:
        self._main = cProfile.Profile(time.thread_time)
        self._threads: list[cProfile.Profile] = []
        self._guard = threading.Lock()

    def start(self) -> None:
        def start_in_thread(*_: object) -> None:
            # Called once in each new thread: the profiler replaces this hook there.
            profiler = cProfile.Profile(time.thread_time)
            with self._guard:
                self._threads.append(profiler)
            profiler.enable()

        threading.setprofile(start_in_thread)
        self._main.enable()

    def clear(self) -> None:
        with self._guard:
            for profiler in (self._main, *self._threads):
                profiler.clear()

    def write(self, path: Path) -> None:
        self._main.disable()
        stats = pstats.Stats(self._main)
        with self._guard:
            for profiler in self._threads:
                stats.add(_Snapshot(profiler))
        stats.dump_stats(str(path))


class _Snapshot:
    """A thread's profile as pstats takes it, without disabling the profiler from another thread.

    (Disabling flushes the calls still open with the wrong thread's CPU clock.)
    """

    def __init__(self, profiler: cProfile.Profile) -> None:
        profiler.snapshot_stats()
        self.stats = profiler.stats  # type: ignore[attr-defined]

    def create_stats(self) -> None:
        """Nothing to do: the snapshot was taken on construction."""


@dataclass(slots=True)
class Tally:
    """Calls of one phase with their wall-clock and CPU time (of the calling thread)."""

    calls: int = 0
    wall: float = 0.0
    cpu: float = 0.0


SYNC, ASYNC = "sync", "async"
# The phases timed: (label, module, class or None, function, sync or async). Functions imported
# by name into a module are patched there. "async" phases include the time spent awaiting.
TIMED_PHASES: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("TelegramAdapter.private: one update, end to end", "bot.telegram.adapter",
     "TelegramAdapter", "private", ASYNC),
    ("  Conversation.handle: the core (worker thread)", "bot.triage.conversation",
     "Conversation", "handle", SYNC),
    ("    MatchingEngine.decide: matching", "bot.matching.engine", "MatchingEngine", "decide",
     SYNC),
    ("    Catalogue.render: reply templates", "bot.render.catalogue", "Catalogue", "render",
     SYNC),
    ("  Dispatcher.round: reading the outbox", "bot.delivery.dispatcher", "Dispatcher",
     "round", ASYNC),
    ("  TelegramChannel.deliver: one outbox item (event loop)", "bot.telegram.delivery",
     "TelegramChannel", "deliver", ASYNC),
    ("    split_message: cutting the reply to 4096", "bot.telegram.delivery", None,
     "split_message", SYNC),
    ("    transport.call: the Bot API call (aiohttp) + the fake's answer",
     "bot.telegram.delivery", None, "call", ASYNC),
)  # fmt: skip
SQL_TRANSACTION = "    SQLite: BEGIN / COMMIT / SAVEPOINT"
SQL_STATEMENT = "    SQLite: other statements"
SQL_CONTROL = frozenset({"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"})


class PhaseTimers(Recorder):
    """Timers around the main phases of handling a question (a few µs per call)."""

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = defaultdict(Tally)
        self._guard = threading.Lock()
        self._gc_started = (0.0, 0.0)

    def add(self, label: str, wall: float, cpu: float) -> None:
        with self._guard:
            tally = self.tallies[label]
            tally.calls += 1
            tally.wall += wall
            tally.cpu += cpu

    def sync(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a function with a timer."""

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - wall, time.thread_time() - cpu)

        return timed

    def asynchronous(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a coroutine function with a timer (its CPU time includes other tasks')."""

        @functools.wraps(function)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return await function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - wall, time.thread_time() - cpu)

        return timed

    def start(self) -> None:
        for label, module_name, class_name, name, kind in TIMED_PHASES:
            module = importlib.import_module(module_name)
            owner = getattr(module, class_name) if class_name else module
            wrap = self.sync if kind == SYNC else self.asynchronous
            setattr(owner, name, wrap(label, getattr(owner, name)))
        store_class = importlib.import_module("bot.tickets.store").TicketStore
        original_init = store_class.__init__
        timers = self

        def init(store: Any, connection: Any, *args: Any, **kwargs: Any) -> None:
            original_init(store, _TimedConnection(connection, timers), *args, **kwargs)

        store_class.__init__ = init
        gc.callbacks.append(self._collection)

    def _collection(self, phase: str, info: dict[str, int]) -> None:
        # The collector runs in the thread that triggered it, with the GIL held.
        if phase == "start":
            self._gc_started = (time.perf_counter(), time.thread_time())
            return
        wall, cpu = self._gc_started
        label = f"garbage collection, generation {info['generation']}"
        self.add(label, time.perf_counter() - wall, time.thread_time() - cpu)

    def clear(self) -> None:
        with self._guard:
            self.tallies.clear()

    def write(self, path: Path) -> None:
        with self._guard:
            rows = {label: [t.calls, t.wall, t.cpu] for label, t in self.tallies.items()}
        path.write_text(json.dumps(rows), encoding="utf-8")


class _TimedConnection:
    """A SQLite connection whose execute() is timed; everything else passes through."""

    def __init__(self, connection: Any, timers: PhaseTimers) -> None:
        self._connection = connection
        self._timers = timers

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        words = sql.split(None, 1)
        control = bool(words) and words[0].upper() in SQL_CONTROL
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return self._connection.execute(sql, parameters)
        finally:
            self._timers.add(
                SQL_TRANSACTION if control else SQL_STATEMENT,
                time.perf_counter() - wall,
                time.thread_time() - cpu,
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RunResult:
    """The measurements of one run of one bot."""

    name: str
    expected: int
    replies: int
    seconds: float
    latencies_ms: list[float]
    missing: dict[int, int] = field(default_factory=dict)
    extra: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    bot_cpu_s: float | None = None
    worker_cpu_s: float = 0.0
    fake_cpu_s: float = 0.0
    exit_status: int | None = None

    @property
    def rate(self) -> float:
        return self.replies / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        return not self.missing

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else math.nan


def fake_bot_api() -> Any:
    """Import tests/fake_bot_api.py (the tests folder is not a package)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return importlib.import_module("fake_bot_api")


def _stat(pid: int | str) -> list[str] | None:
    """Return the fields of /proc/PID/stat after the command's name (Linux only)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _cpu_seconds(fields: list[str]) -> float:
    """Return the user + system CPU time in a process's stat fields."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """Return the user + system CPU time of a process (all its threads), Linux only."""
    fields = _stat(pid)
    return None if fields is None else _cpu_seconds(fields)


def children_cpu_seconds(pid: int) -> float:
    """Return the CPU time of the running child processes of a process (the core's worker)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields is not None and int(fields[1]) == pid:
            total += _cpu_seconds(fields)
    return total


class ReplyCounter:
    """Collect the bot's sendMessage calls to given private chats, incrementally."""

    def __init__(self, api: Any, chats: set[int]) -> None:
        self._api = api
        self._chats = chats
        self._seen = api.mark()
        self.times: dict[int, list[float]] = defaultdict(list)
        self.count = 0
        self.failed: list[Any] = []

    def scan(self) -> int:
        """Take in the calls since the last scan; return the replies counted so far."""
        if self._api.mark() == self._seen:
            return self.count
        calls = self._api.calls()
        for call in calls[self._seen :]:
            if not call.ok:
                self.failed.append(call)
            elif call.method == "sendMessage" and call.params.get("chat_id") in self._chats:
                self.times[call.params["chat_id"]].append(call.time)
                self.count += 1
        self._seen = len(calls)
        return self.count


async def wait_until(api: Any, predicate: Callable[[], bool], timeout: float) -> bool:
    """Wait (woken by the fake's calls) until predicate() holds; False on timeout."""
    try:
        await api.wait_for(predicate, timeout=timeout)
    except TimeoutError:
        return predicate()
    return True


async def start_bot(api: Any, contender: Contender, folder: Path) -> asyncio.subprocess.Process:
    """Start the bot's process and wait until it long-polls the fake."""
    environ = {k: v for k, v in os.environ.items() if k != "TRIAGEBOT_TELEGRAM_TOKEN"}
    log = (folder / "bot.log").open("wb")
    with log:
        process = await asyncio.create_subprocess_exec(
            *contender.command(api.base_url, folder),
            cwd=REPO,
            env=environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    polling = await wait_until(
        api, lambda: api.parked_polls > 0 or process.returncode is not None, STARTUP_TIMEOUT
    )
    if process.returncode is not None or not polling:
        await stop_bot(process)
        tail = (folder / "bot.log").read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        raise RuntimeError(f"{contender.name} did not start polling:\n" + "\n".join(tail))
    return process


async def stop_bot(process: asyncio.subprocess.Process) -> int:
    """Stop the bot with SIGTERM (SIGKILL if it hangs) and return its exit status."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return process.returncode if process.returncode is not None else -1


async def wait_for_file(path: Path, timeout: float) -> None:
    """Wait until a file exists (the instrumented bot wrote its records)."""
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        await asyncio.sleep(PROFILE_SETTLE)


async def warm_up(api: Any, questions: Sequence[str], timeout: float) -> None:
    """Send the warm-up questions from a customer of their own and wait for the replies."""
    if not questions:
        return
    fake = fake_bot_api()
    customer = fake.FakeUser(WARMUP_CUSTOMER_ID, "Warm", "warm_up", "de")
    counter = ReplyCounter(api, {customer.id})
    for question in questions:
        api.user_text(customer, question)
    await wait_until(api, lambda: counter.scan() >= len(questions), timeout)


async def measure_run(contender: Contender, workload: Workload, timeout: float) -> RunResult:
    """Start the bot against a fresh fake, queue the questions at once, collect the replies."""
    fake = fake_bot_api()
    async with fake.FakeBotApi(token=TOKEN) as api:
        api.add_chat(fake.FakeChat.forum(STAFF_CHAT_ID, "Support"), members=[AGENT_ID])
        users = {
            c.id: fake.FakeUser(c.id, f"Kunde{c.id}", None, c.language_code)
            for c in workload.customers
        }
        with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
            process = await start_bot(api, contender, Path(tmp))
            try:
                await warm_up(api, workload.warmup, timeout)
                if contender.output is not None:  # record the batch only
                    process.send_signal(signal.SIGUSR1)
                    await asyncio.sleep(PROFILE_SETTLE)
                result = await queue_and_collect(api, process.pid, users, workload, timeout)
                if contender.output is not None:
                    process.send_signal(signal.SIGUSR2)
                    await wait_for_file(contender.output, STOP_TIMEOUT)
            finally:
                status = await stop_bot(process)
        result.name = contender.name
        result.exit_status = status
        return result


async def queue_and_collect(
    api: Any, pid: int, users: dict[int, Any], workload: Workload, timeout: float
) -> RunResult:
    """Queue every question at once and wait for every reply; return the measurements."""
    counter = ReplyCounter(api, set(users))
    queued: dict[int, list[float]] = defaultdict(list)
    bot_cpu, fake_cpu = process_cpu_seconds(pid), time.process_time()
    worker_cpu = children_cpu_seconds(pid)
    start = time.monotonic()
    for customer, question in workload.messages:
        api.user_text(users[customer.id], question)
        queued[customer.id].append(time.monotonic())
    expected = len(workload.messages)
    await wait_until(api, lambda: counter.scan() >= expected, timeout)
    bot_cpu_after = process_cpu_seconds(pid)
    worker_cpu_after = children_cpu_seconds(pid)
    result = RunResult(
        name="",
        expected=expected,
        replies=counter.count,
        seconds=0.0,
        latencies_ms=[],
        bot_cpu_s=None if bot_cpu is None or bot_cpu_after is None else bot_cpu_after - bot_cpu,
        worker_cpu_s=worker_cpu_after - worker_cpu,
        fake_cpu_s=time.process_time() - fake_cpu,
        errors=[f"{c.method}: {c.status} {c.error}" for c in counter.failed],
    )
    last_reply = start
    for customer_id, queue_times in queued.items():
        reply_times = counter.times.get(customer_id, [])
        if len(reply_times) < len(queue_times):
            result.missing[customer_id] = len(queue_times) - len(reply_times)
        elif len(reply_times) > len(queue_times):
            result.extra[customer_id] = len(reply_times) - len(queue_times)
        for asked, answered in zip(queue_times, reply_times, strict=False):
            result.latencies_ms.append((answered - asked) * 1000)
        last_reply = max([last_reply, *reply_times])
    result.seconds = last_reply - start
    return result


# --------------------------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------------------------

# Areas of the bot's CPU time, by where a function lives: the first rule that matches wins.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("matching (bot/matching, stemmer, rapidfuzz, numpy)",
     ("/bot/matching/", "Stemmer", "rapidfuzz", "numpy")),
    ("storage (bot/tickets, sqlite3)", ("/bot/tickets/", "sqlite3")),
    ("rendering (bot/render, jinja2, markdown-it, babel)",
     ("/bot/render/", "jinja2", "markdown_it", "babel")),
    ("conversation (bot/triage, bot/content)", ("/bot/triage/", "/bot/content/")),
    ("telegram adapter (bot/telegram)", ("/bot/telegram/",)),
    ("PTB (telegram, telegram.ext)", ("/telegram/",)),
    ("HTTP client (aiohttp, yarl, multidict)",
     ("/aiohttp/", "/yarl/", "/multidict/", "/httpx/", "/httpcore/", "/h11/", "/anyio/",
      "/urllib/")),
    # httpcore tries `import sniffio` for every lock it makes; without sniffio installed
    # (anyio >= 4.11 no longer pulls it in) each failed import searches sys.path again.
    ("imports at run time (httpcore's failing `import sniffio`)",
     ("<frozen importlib", "_distutils_hack", "/six.py", "__editable__")),
    ("JSON", ("/json/", "json")),
    ("logging", ("/logging/",)),
    ("asyncio event loop and sockets", ("/asyncio/", "selectors.py", "epoll", "socket", "ssl")),
    ("threads (to_thread, locks, queues)",
     ("/concurrent/", "threading.py", "queue.py", "lock", "contextvars")),
)  # fmt: skip


# Phases of handling one question: (label, file the function is in, function name); each is
# the function's CPU time including what it calls, in its own thread (a coroutine awaiting
# asyncio.to_thread does not include the worker's time). Coroutines count only while they run.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("TelegramAdapter.private: the update's event-loop part", "bot/telegram/adapter.py",
     "private"),
    ("  Conversation.handle: the core (worker thread)", "bot/triage/conversation.py", "handle"),
    ("    MatchingEngine.decide: matching", "bot/matching/engine.py", "decide"),
    ("    TicketStore.transaction: BEGIN + COMMIT", "bot/tickets/store.py", "transaction"),
    ("    Catalogue.render: reply templates", "bot/render/catalogue.py", "render"),
    ("  Dispatcher._due: reading the outbox", "bot/delivery/dispatcher.py", "_due"),
    ("  Outbox: recording progress and delivery", "bot/tickets/outbox.py", "save_progress"),
    ("  Outbox.delivered_many: delivered marks", "bot/tickets/outbox.py", "delivered_many"),
    ("  TelegramChannel.deliver: one outbox item (event loop)", "bot/telegram/delivery.py",
     "deliver"),
    ("    split_message: cutting to 4096", "bot/render/split.py", "split_message"),
    ("    transport.call: PTB's request layer + aiohttp round trip", "bot/telegram/transport.py",
     "call"),
    ("Updater: getUpdates and parsing updates", "telegram/ext/_updater.py", "polling_action_cb"),
)  # fmt: skip


def phase_seconds(
    table: dict[tuple[str, int, str], tuple[Any, ...]], path: str, name: str
) -> float:
    """Return the cumulative CPU time of the functions called `name` in files ending in `path`."""
    return sum(
        row[3]
        for (filename, _, function), row in table.items()
        if function == name and filename.endswith(path)
    )


def area_of(function: tuple[str, int, str]) -> str:
    """Return the area a profiled function belongs to."""
    filename, _, name = function
    where = f"{filename} {name}"
    for area, markers in AREAS:
        if any(marker in where for marker in markers):
            return area
    return "other (stdlib, logging, ...)"


def print_timers(path: Path, result: RunResult) -> None:
    """Print the phase timers of a run: wall-clock and CPU time per question."""
    rows: dict[str, list[float]] = json.loads(path.read_text(encoding="utf-8"))
    messages = max(1, result.expected)
    cpu = f"{result.bot_cpu_s * 1000 / messages:.2f}" if result.bot_cpu_s is not None else "n/a"
    print(
        f"\nPhase timers ({result.name}, the batch only): {result.rate:.1f} msgs/s,"
        f" bot process CPU {cpu} ms/msg (all threads, from /proc)"
    )
    print(f"  {'phase':<58} {'calls':>6} {'wall ms/msg':>11} {'CPU ms/msg':>10}")
    labels = [label for label, *_ in TIMED_PHASES]
    labels[4:4] = [SQL_TRANSACTION, SQL_STATEMENT]  # under Conversation.handle
    labels += [f"garbage collection, generation {generation}" for generation in range(3)]
    for label in labels:
        calls, wall, seconds = rows.get(label, [0, 0.0, 0.0])
        print(
            f"  {label:<58} {int(calls):>6} {wall * 1000 / messages:>11.2f}"
            f" {seconds * 1000 / messages:>10.2f}"
        )
    print(
        "  (wall includes waiting: for the GIL, and in the event loop for the fake's answers;"
        " the event loop's CPU includes the other tasks that ran meanwhile)"
    )


def print_profile(path: Path, result: RunResult) -> None:
    """Print the profiled run's CPU time by area and the functions that took the most."""
    stats = pstats.Stats(str(path), stream=sys.stdout)
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    areas: Counter[str] = Counter()
    largest: dict[str, Counter[str]] = defaultdict(Counter)
    for function, (_, _, own, _, _) in table.items():
        area = area_of(function)
        areas[area] += own
        largest[area][f"{Path(function[0]).name}:{function[2]}"] += own
    total = sum(areas.values())
    messages = max(1, result.expected)
    print(
        f"\nProfile of one triage run under cProfile ({result.name}; CPU time per thread,"
        f" the batch only): {result.rate:.1f} msgs/s with the profiler on,"
        f" {total:.2f} s CPU in the bot's threads, {result.expected} questions"
    )
    print(f"\n  {'phase (CPU including callees)':<62} {'CPU s':>7} {'ms/msg':>7}")
    for label, where, name in PHASES:
        seconds = phase_seconds(table, where, name)
        print(f"  {label:<62} {seconds:>7.2f} {seconds * 1000 / messages:>7.2f}")
    print(f"\n  {'area (own CPU time)':<52} {'CPU s':>7} {'share':>6} {'ms/msg':>7}  largest")
    for area, seconds in areas.most_common():
        share = seconds / total if total else 0.0
        top = ", ".join(
            f"{name} {own * 1000 / messages:.2f}"
            for name, own in largest[area].most_common(AREA_EXAMPLES)
        )
        print(
            f"  {area:<52} {seconds:>7.2f} {share:>6.1%} {seconds * 1000 / messages:>7.2f}  {top}"
        )
    for key in ("tottime", "cumulative"):
        print(f"\n=== top {PROFILE_LINES} functions by {key} (CPU time, all threads) ===")
        sys.stdout.flush()
        stats.strip_dirs().sort_stats(key).print_stats(PROFILE_LINES)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def describe_run(number: int, runs: int, result: RunResult) -> str:
    """Return one progress line for a finished run."""
    line = (
        f"run {number}/{runs}  {result.name:<32} {result.rate:>7.1f} msgs/s"
        f"  p50 {result.percentile(0.5):>6.0f} ms  p99 {result.percentile(0.99):>6.0f} ms"
        f"  {result.replies}/{result.expected} replies"
    )
    if result.missing:
        line += f", MISSING {sum(result.missing.values())} for {len(result.missing)} customers"
    if result.extra:
        line += f", {sum(result.extra.values())} extra for {len(result.extra)} customers"
    if result.errors:
        shown = "; ".join(result.errors[:ERRORS_SHOWN])
        line += f", {len(result.errors)} failed calls ({shown})"
    if result.exit_status not in (0, None):
        line += f", exit status {result.exit_status}"
    return line


@dataclass(frozen=True, slots=True)
class Summary:
    """Every run of one contender, summarised."""

    name: str
    best: float
    median: float
    p50_ms: float
    p99_ms: float
    bot_cpu_ms: float | None
    worker_cpu_ms: float
    fake_cpu_ms: float
    complete: bool

    @classmethod
    def of(cls, results: Sequence[RunResult]) -> Summary:
        rates = [r.rate for r in results]
        cpu = [r.bot_cpu_s / r.replies for r in results if r.bot_cpu_s is not None and r.replies]
        return cls(
            name=results[0].name,
            best=max(rates),
            median=statistics.median(rates),
            p50_ms=statistics.median(r.percentile(0.5) for r in results),
            p99_ms=statistics.median(r.percentile(0.99) for r in results),
            bot_cpu_ms=statistics.median(cpu) * 1000 if cpu else None,
            worker_cpu_ms=statistics.median(r.worker_cpu_s / max(1, r.replies) for r in results)
            * 1000,
            fake_cpu_ms=statistics.median(r.fake_cpu_s / max(1, r.replies) for r in results) * 1000,
            complete=all(r.complete for r in results),
        )


def print_report(
    echo: Summary, triage: dict[int, Summary], default: int, args: argparse.Namespace
) -> None:
    """Print the table, the ratios and whether the target is met."""
    print(
        f"\n{'bot':<34} {'msgs/s best':>11} {'median':>7} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'bot CPU ms/msg':>14} {'worker CPU ms/msg':>17} {'fake CPU ms/msg':>15} {'× echo':>7}"
    )
    for summary in (echo, *triage.values()):
        cpu = f"{summary.bot_cpu_ms:.2f}" if summary.bot_cpu_ms is not None else "n/a"
        ratio = summary.median / echo.median if echo.median else math.nan
        flag = "" if summary.complete else "  (replies missing)"
        print(
            f"{summary.name:<34} {summary.best:>11.1f} {summary.median:>7.1f}"
            f" {summary.p50_ms:>7.0f} {summary.p99_ms:>7.0f} {cpu:>14}"
            f" {summary.worker_cpu_ms:>17.2f} {summary.fake_cpu_ms:>15.2f}"
            f" {ratio:>7.2f}{flag}"
        )
    print(
        f"\nmsgs/s: best and median of {args.runs} runs; p50/p99 and CPU: median over runs."
        " Latency = reply received by the fake − question queued; with everything queued at"
        " once, p50 is about half the batch time. Worker CPU: the bot's child processes"
        " (the core's worker, `[bot] workers = 1`)."
    )
    print(f"\nTarget: triage msgs/s ≥ {TARGET_RATIO:.2f} × echo msgs/s (medians)")
    chosen = [(f"concurrent_updates={default} (config.example.toml)", default)]
    best = max(triage, key=lambda c: triage[c].median)
    if best != default:
        chosen.append((f"concurrent_updates={best} (best measured)", best))
    for label, concurrency in chosen:
        if concurrency not in triage:
            print(f"  {label}: not measured (add it to --concurrency)")
            continue
        ratio = triage[concurrency].median / echo.median if echo.median else 0.0
        verdict = "met" if ratio >= TARGET_RATIO and triage[concurrency].complete else "not met"
        print(f"  {label}: {ratio:.2f} × echo — {verdict}")
    if best == default:
        print(f"  concurrent_updates={best} is also the best measured value")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


async def benchmark(args: argparse.Namespace) -> int:
    """Measure the echo bot and the triage bot at each concurrency; print the report."""
    workload = build_workload(args.messages, args.customers, args.warmup, args.seed)
    default = default_concurrency()
    contenders = [Contender(), *(Contender(c) for c in args.concurrency)]
    print(
        f"Throughput benchmark: {len(workload.messages):,} questions from"
        f" {len(workload.customers)} customers queued at once, {args.runs} run(s) per bot,"
        f" {len(workload.warmup)} warm-up messages first; {os.cpu_count()} CPUs."
    )
    print(
        "Each bot runs in its own process against the fake Bot API server (in this process)."
        " Flood limits are off for both: Telegram's ~30 msgs/s limit would otherwise cap both"
        " bots at 30 msgs/s and hide the difference."
    )
    print(f"Default concurrent_updates (config.example.toml): {default}\n")
    results: dict[int | None, list[RunResult]] = defaultdict(list)
    for run in range(1, args.runs + 1):
        for contender in contenders:  # interleaved, so machine noise hits every bot alike
            result = await measure_run(contender, workload, args.timeout)
            results[contender.concurrency].append(result)
            print(describe_run(run, args.runs, result), flush=True)
    echo = Summary.of(results[None])
    triage = {c: Summary.of(results[c]) for c in args.concurrency}
    print_report(echo, triage, default, args)
    if default in results:
        pairs = zip(results[None], results[default], strict=True)
        ratios = " ".join(f"{t.rate / e.rate:.2f}" for e, t in pairs if e.rate)
        print(
            f"  run by run (concurrent_updates={default} ÷ the echo run just before it,"
            f" to see the machine's noise): {ratios}"
        )
    if args.profile:
        await profile(workload, args)
    incomplete = [r for rs in results.values() for r in rs if not r.complete]
    if incomplete:
        print(f"\n{len(incomplete)} run(s) lacked replies: see MISSING above.")
    return 0


async def profile(workload: Workload, args: argparse.Namespace) -> None:
    """Run the triage bot once with phase timers and once under cProfile; print both."""
    concurrency = args.profile_concurrency
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        output = Path(tmp) / "timers.json"
        contender = Contender(concurrency, "timers", output)
        result = await measure_run(contender, workload, args.timeout)
        print(f"\n{describe_run(1, 1, result)}  (with phase timers)")
        print_timers(output, result)
        output = Path(tmp) / "triage.prof"
        contender = Contender(concurrency, "profile", output)
        result = await measure_run(contender, workload, args.timeout)
        print(f"\n{describe_run(1, 1, result)}  (under cProfile)")
        print_profile(output, result)


def concurrency_list(text: str) -> list[int]:
    """Parse "1,4,8,16" into concurrent_updates values."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not values or any(not 1 <= value <= 256 for value in values):
        raise argparse.ArgumentTypeError("concurrent_updates values must be 1..256")
    return list(dict.fromkeys(values))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        help="runs per bot, taking turns (default 5: the host is noisy)",
    )
    parser.add_argument(
        "--concurrency",
        type=concurrency_list,
        default=[default_concurrency()],
        help="concurrent_updates values for the triage bot, e.g. 1,4,8,16"
        " (default: config.example.toml's)",
    )
    parser.add_argument("--messages", type=int, default=1_000, help="questions per run")
    parser.add_argument("--customers", type=int, default=100, help="customers asking them")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up questions per run")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for replies")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="add a triage run with phase timers and one under cProfile; report where time goes",
    )
    parser.add_argument(
        "--profile-concurrency",
        type=int,
        default=1,
        help="concurrent_updates of the --profile runs (default 1: one update at a time, so"
        " the event loop's timers see only that update)",
    )
    parser.add_argument("--echo-bot", nargs=2, metavar=("URL", "TOKEN"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--instrumented-bot",
        nargs=3,
        metavar=("MODE", "OUTPUT", "CONFIG"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.customers < 1 or args.messages < args.customers:
        parser.error("--runs and --customers must be positive, --messages ≥ --customers")
    if args.warmup < 0 or args.timeout <= 0:
        parser.error("--warmup must not be negative, --timeout must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, as a child process, one of the bots); exit 0 whatever the figures."""
    args = parse_args(argv)
    if args.echo_bot:
        return run_echo_bot(*args.echo_bot)
    if args.instrumented_bot:
        mode, output, config = args.instrumented_bot
        return run_instrumented_bot(mode, Path(output), Path(config))
    return asyncio.run(benchmark(args))


if __name__ == "__main__":
    sys.exit(main())
