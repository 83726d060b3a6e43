"""Where the conversation core runs for the async adapters: a thread, or a worker process.

The core is synchronous Python: matching and SQLite hold the GIL. In a thread it shares one
core with the Telegram client; in a worker process the two use two cores.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from bot.config import Config
from bot.tickets.outbox import OutboxItem
from bot.triage.decisions import Decision
from bot.triage.events import CustomerEvent

LOG = logging.getLogger(__name__)
Handled = tuple[list[Decision], list[OutboxItem]]
"""What handling an event gives: the decisions, and the replies that can go out at once."""


class Core(Protocol):
    """Handles customer events off the event loop."""

    async def handle(self, event: CustomerEvent) -> Handled:
        """Handle one customer event; return what it decided and what can go out at once."""
        ...

    def reload(self) -> None:
        """Pick up changed content (the caller has swapped its own engine already)."""
        ...

    def close(self) -> None:
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

    def close(self) -> None:
        """Nothing to release."""


class ProcessCore:
    """Run a conversation of its own (same config, database and content) in a child process.

    `start` builds the worker's conversation from the config and `handle` runs one event on
    it; both are module-level functions, so the child can import them.
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
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent runs an event loop and threads that a fork would copy.
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=self._start_worker,
            initargs=(self._config,),
        )

    async def handle(self, event: CustomerEvent) -> Handled:
        """Handle one customer event in the worker process; replace a worker that died."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._handle, event)
        except BrokenProcessPool:
            # The worker died (killed, out of memory). Unless it died in the instant between
            # its commit and its answer, the event left no trace: handle it again.
            LOG.error("the conversation worker process died; starting a new one")
            self._pool.shutdown(wait=False)
            self._pool = self._start()
            return await loop.run_in_executor(self._pool, self._handle, event)

    def reload(self) -> None:
        """Start a fresh worker on the new content; the old one finishes what it has."""
        old, self._pool = self._pool, self._start()
        old.shutdown(wait=False)

    def close(self) -> None:
        """Wait for the events in hand, then stop the worker."""
        self._pool.shutdown(wait=True)
