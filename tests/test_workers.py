"""The conversation core in a worker process: answers, and survives the worker dying."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from chat import CONTENT

from bot.app import handle_in_worker, start_worker
from bot.config import Config
from bot.tickets.outbox import Outbox
from bot.tickets.store import TicketStore
from bot.triage.events import CustomerText, Person
from bot.workers import Handled, ProcessCore

QUESTION = "Wie ändere ich mein Passwort im Kundencenter?"
DATABASE = "t.sqlite3"


def templates(handled: Handled) -> list[str]:
    """Return the templates of the replies that can go out at once."""
    return [item.payload["message"]["template"] for item in handled.ready]


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[ProcessCore]:
    """A process core on the test content and a fresh database; closed after the test."""
    config = Config(content_path=CONTENT, database=tmp_path / DATABASE)
    core = ProcessCore(config, start_worker, handle_in_worker)
    try:
        yield core
    finally:
        await core.close()


async def test_a_dead_worker_is_replaced_and_the_event_handled(
    core: ProcessCore, tmp_path: Path
) -> None:
    """Killing the worker process loses no event: the next one starts a fresh worker."""
    person = Person(7, "Anna", None, "de")
    first = await core.handle(CustomerText(person, QUESTION))
    # The answer is first in line for the customer: it can go out without a round.
    assert templates(first) == ["answer"]
    assert (first.queued, first.answers) == (1, [])
    assert core.pid is not None
    os.kill(core.pid, signal.SIGKILL)
    again = await core.handle(CustomerText(person, QUESTION))
    # The new worker answered too; its answer waits behind the first, not yet sent.
    assert (again.queued, again.ready) == (1, [])
    with TicketStore.open(tmp_path / DATABASE) as store:
        waiting = Outbox(store).waiting()
    assert [item.payload["message"]["template"] for item in waiting] == ["answer", "answer"]


async def test_events_at_start_share_one_worker(core: ProcessCore) -> None:
    """Events arriving while the worker starts wait for that one worker, not one each."""
    people = [Person(10 + n, f"K{n}", None, "de") for n in range(4)]
    answers = await asyncio.gather(*(core.handle(CustomerText(p, QUESTION)) for p in people))
    assert all(handled.ready for handled in answers)
    assert len(multiprocessing.active_children()) == 1
    await core.close()
    assert multiprocessing.active_children() == []


async def test_an_error_in_the_worker_reaches_the_caller(core: ProcessCore) -> None:
    """An exception while handling an event is raised in the bot's process; the worker stays."""
    with pytest.raises(AttributeError):
        await core.handle(CustomerText(None, QUESTION))  # type: ignore[arg-type]
    pid = core.pid
    first = await core.handle(CustomerText(Person(7, "Anna", None, "de"), QUESTION))
    assert templates(first) == ["answer"]
    assert core.pid == pid


async def test_a_reload_starts_a_new_worker_and_the_old_one_finishes(core: ProcessCore) -> None:
    """After a content reload the next event goes to a fresh worker; the old one exits."""
    person = Person(7, "Anna", None, "de")
    await core.handle(CustomerText(person, QUESTION))
    old = core.pid
    core.reload()
    # Nothing else holds the old worker (the event loop holds a stream's reader only
    # weakly): collected now, it would die with its reading pending.
    gc.collect()
    await core.handle(CustomerText(person, QUESTION))
    assert core.pid not in (None, old)
    async with asyncio.timeout(10):
        while old in [child.pid for child in multiprocessing.active_children()]:
            await asyncio.sleep(0.05)


async def test_closing_right_after_a_reload_waits_for_the_old_worker_too(core: ProcessCore) -> None:
    """A worker replaced by a reload is still the core's to stop: close waits for it."""
    await core.handle(CustomerText(Person(7, "Anna", None, "de"), QUESTION))
    core.reload()
    gc.collect()
    await core.close()
    assert multiprocessing.active_children() == []
