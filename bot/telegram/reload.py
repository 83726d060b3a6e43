"""Watch the content folder; rebuild the index off the event loop and swap it in.

Invalid content keeps the last good index, and the lint errors go to the staff chat's
general topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import awatch

from bot.content.loader import LoadResult, load_content
from bot.delivery.dispatcher import Dispatcher
from bot.matching.engine import MatchingEngine
from bot.render import Catalogue
from bot.tickets.outbox import Outbox
from bot.triage.classifier import Classifier
from bot.triage.conversation import Conversation
from bot.workers import Core

LOG = logging.getLogger(__name__)
PROBLEMS_SHOWN = 20
DEBOUNCE_MS = 800


class ContentReloader:
    """Keep the conversation's engine in step with the content folder."""

    def __init__(
        self,
        path: Path,
        conversation: Conversation,
        build: Callable[[LoadResult], tuple[MatchingEngine, Classifier]],
        *,
        core: Core,
        outbox: Outbox,
        dispatcher: Dispatcher,
        staff_chat_id: int,
        texts: Catalogue,
    ) -> None:
        self._path = path
        self._conversation = conversation
        self._core = core
        self._build = build
        self._outbox = outbox
        self._dispatcher = dispatcher
        self._staff_chat_id = staff_chat_id
        self._texts = texts

    async def watch(self) -> None:
        """Reload after every burst of changes, until cancelled."""
        async for _changes in awatch(self._path, debounce=DEBOUNCE_MS, recursive=True):
            await self.reload()

    async def reload(self) -> bool:
        """Load and index the content again; return whether the new content is in use."""
        result = await asyncio.to_thread(load_content, self._path)
        if result.errors or not result.content.entries:
            LOG.warning("content has %d error(s); keeping the last good index", len(result.errors))
            text = self._texts.render(
                self._conversation.staff_view.lang,
                "content_errors",
                problems=[str(p) for p in result.errors[:PROBLEMS_SHOWN]],
                count=len(result.errors),
            ).text
            await asyncio.to_thread(self._outbox.notice, self._staff_chat_id, text)
            self._dispatcher.wake()
            return False
        engine, classifier = await asyncio.to_thread(self._build, result)
        self._conversation.use_engine(engine, classifier)
        self._core.reload()
        LOG.info("content reloaded: %d entries", len(result.content.entries))
        return True
