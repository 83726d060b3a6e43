"""The conversation core in a worker process: answers, and survives the worker dying."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from chat import CONTENT

from bot.app import handle_in_worker, start_worker
from bot.config import Config
from bot.triage.decisions import Reply
from bot.triage.events import CustomerText, Person
from bot.workers import ProcessCore

QUESTION = "Wie ändere ich mein Passwort im Kundencenter?"


async def test_a_dead_worker_is_replaced_and_the_event_handled(tmp_path: Path) -> None:
    """Killing the worker process loses no event: the next one starts a fresh worker."""
    config = Config(content_path=CONTENT, database=tmp_path / "t.sqlite3")
    core = ProcessCore(config, start_worker, handle_in_worker)
    try:
        person = Person(7, "Anna", None, "de")
        first, ready = await core.handle(CustomerText(person, QUESTION))
        assert [d.message.template for d in first if isinstance(d, Reply)] == ["answer"]
        # The answer is first in line for the customer: it can go out without a round.
        assert [item.payload["message"]["template"] for item in ready] == ["answer"]
        (pid,) = core.pids
        os.kill(pid, signal.SIGKILL)
        again, _ = await core.handle(CustomerText(person, QUESTION))
        assert [d.message.template for d in again if isinstance(d, Reply)] == ["answer"]
    finally:
        await core.close()
