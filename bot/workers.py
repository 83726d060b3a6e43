"""Where the conversation core runs for the async adapters: a thread, or a worker process.

The core is synchronous Python: matching and SQLite hold the GIL. In a thread it shares one
core with the Telegram client; in a worker process the two use two cores.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import pickle
import socket
import struct
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import NamedTuple, Protocol

from bot.config import Config
from bot.tickets.outbox import OutboxItem
from bot.triage.decisions import ButtonAnswer
from bot.triage.events import CustomerEvent

LOG = logging.getLogger(__name__)
STOP_TIMEOUT = 30.0


class Handled(NamedTuple):
    """What handling an event gives the adapter (a tuple: it crosses to the bot's process
    as one, far cheaper to pickle than the decisions themselves)."""

    answers: list[ButtonAnswer]
    """The notices for the button press in hand (not queued: they answer it now)."""
    ready: list[OutboxItem]
    """The queued replies that are first in line: they can go out at once."""
    queued: int
    """How many decisions went to the outbox, `ready` among them."""


class Core(Protocol):
    """Handles customer events off the event loop."""

    async def handle(self, event: CustomerEvent) -> Handled:
        """Handle one customer event; return what it decided and what can go out at once."""
        ...

    def reload(self) -> None:
        """Pick up changed content (the caller has swapped its own engine already)."""
        ...

    async def close(self) -> None:
        """Finish the events in hand and release the core."""
        ...


class ThreadCore:
    """Run the conversation in a worker thread of this process."""

    def __init__(self, handle: Callable[[CustomerEvent], Handled]) -> None:
        self._handle = handle

    async def handle(self, event: CustomerEvent) -> Handled:
        """Handle one customer event in a thread."""
        return await asyncio.to_thread(self._handle, event)

    def reload(self) -> None:
        """Nothing to do: the conversation in this process has the new engine."""

    async def close(self) -> None:
        """Nothing to release."""


class ProcessCore:
    """Run a conversation of its own (same config, database and content) in a child process.

    `start` builds the worker's conversation from the config and `handle` runs one event on
    it; both are module-level functions, so the child can import them. Events and answers
    travel as length-prefixed pickles over a socket pair that the event loop reads itself:
    no helper threads in this process (a process pool's two cost a tenth of its CPU).
    """

    def __init__(
        self,
        config: Config,
        start: Callable[[Config], None],
        handle: Callable[[CustomerEvent], Handled],
    ) -> None:
        self._config = config
        self._start_worker = start
        self._handle = handle
        self._worker: _Worker | None = None
        self._starting: asyncio.Future[_Worker] | None = None
        # Workers replaced by a reload, until they have answered and ended: the event loop
        # holds a stream's reader only weakly, so a worker nobody holds would be collected
        # with its reading pending.
        self._retiring: set[_Worker] = set()

    @property
    def pid(self) -> int | None:
        """Return the worker process's id, once it runs (for tests)."""
        return None if self._worker is None else self._worker.pid

    async def handle(self, event: CustomerEvent) -> Handled:
        """Handle one customer event in the worker process; replace a worker that died."""
        while True:
            worker = self._worker
            if worker is None or worker.dead:
                if worker is not None:
                    # Unless it died in the instant between its commit and its answer, the
                    # event left no trace: handle it again.
                    LOG.error("the conversation worker process died; starting a new one")
                worker = await self._start()
            try:
                return await worker.call(event)
            except _WorkerGoneError:
                continue

    async def _start(self) -> _Worker:
        """Start the worker, once however many events ask for it meanwhile."""
        starting = self._starting
        if starting is None:
            starting = self._starting = asyncio.ensure_future(
                _Worker.start(self._config, self._start_worker, self._handle)
            )
            try:
                self._worker = await starting
            finally:
                self._starting = None
        return await starting

    def reload(self) -> None:
        """Start a fresh worker on the new content; the old one finishes what it has."""
        old, self._worker = self._worker, None
        if old is not None:
            old.finish()
            self._retiring.add(old)
            old.when_read(self._retiring.discard)

    async def close(self) -> None:
        """Wait for the events in hand, then stop the worker (and any still retiring)."""
        old, self._worker = self._worker, None
        workers = [*self._retiring, *([] if old is None else [old])]
        for worker in workers:
            worker.finish()
        for worker in workers:
            await worker.stopped()


class _WorkerGoneError(Exception):
    """The worker process ended before it answered."""


_HEADER = struct.Struct("!I")


class _Worker:
    """One worker process and the socket to it; calls are answered in order."""

    def __init__(
        self,
        process: BaseProcess,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self._process = process
        self._reader = reader
        self._writer = writer
        self._waiting: collections.deque[asyncio.Future[Handled]] = collections.deque()
        self.dead = False
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls,
        config: Config,
        start: Callable[[Config], None],
        handle: Callable[[CustomerEvent], Handled],
    ) -> _Worker:
        ours, theirs = socket.socketpair()
        # spawn, not fork: the parent runs an event loop and threads that a fork would copy.
        context = multiprocessing.get_context("spawn")
        process = context.Process(
            target=_serve, args=(theirs, config, start, handle), name="triagebot-core", daemon=True
        )
        process.start()
        theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        return cls(process, reader, writer)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def call(self, event: CustomerEvent) -> Handled:
        """Send an event and wait for its answer; raise _WorkerGoneError if the worker ends."""
        if self.dead:
            raise _WorkerGoneError
        answer: asyncio.Future[Handled] = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        body = pickle.dumps(event, pickle.HIGHEST_PROTOCOL)
        self._writer.write(_HEADER.pack(len(body)) + body)
        await self._writer.drain()
        return await answer

    async def _read(self) -> None:
        try:
            while True:
                size = _HEADER.unpack(await self._reader.readexactly(_HEADER.size))[0]
                ok, value = pickle.loads(await self._reader.readexactly(size))
                answer = self._waiting.popleft()
                if answer.done():
                    continue
                if ok:
                    answer.set_result(value)
                else:
                    answer.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.dead = True
            while self._waiting:
                answer = self._waiting.popleft()
                if not answer.done():
                    answer.set_exception(_WorkerGoneError())
            self._writer.close()

    def when_read(self, callback: Callable[[_Worker], object]) -> None:
        """Call back with this worker once its answers are all read (it ended)."""
        self._reading.add_done_callback(lambda _: callback(self))

    def finish(self) -> None:
        """Take no more events: the worker answers what it has, then exits."""
        if not self._writer.is_closing() and self._writer.can_write_eof():
            self._writer.write_eof()

    async def stopped(self) -> None:
        """Wait until the worker answered everything and exited."""
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        await asyncio.to_thread(self._process.join, STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.kill()


def _serve(
    connection: socket.socket,
    config: Config,
    start: Callable[[Config], None],
    handle: Callable[[CustomerEvent], Handled],
) -> None:
    """The worker process: build the conversation, then answer events until the socket ends."""
    start(config)
    with connection, connection.makefile("rb") as incoming:
        while header := incoming.read(_HEADER.size):
            event = pickle.loads(incoming.read(_HEADER.unpack(header)[0]))
            try:
                answer: tuple[bool, object] = (True, handle(event))
            except Exception as error:  # the parent's call raises it
                answer = (False, error)
            try:
                body = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
            except Exception as error:  # an exception that does not pickle
                body = pickle.dumps((False, RuntimeError(repr(error))), pickle.HIGHEST_PROTOCOL)
            connection.sendall(_HEADER.pack(len(body)) + body)
