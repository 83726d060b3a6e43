"""Telegram's flood limits as budgets: wait for a free slot instead of earning a 429."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

SAFETY = 1.05
"""How much longer each window is than Telegram's own."""


@dataclass(frozen=True, slots=True)
class Window:
    """At most `count` sends in any `seconds`-long window."""

    count: int
    seconds: float


class _Sliding:
    """A sliding-window limiter; waiters are served in arrival order."""

    def __init__(self, window: Window, clock: Callable[[], float]) -> None:
        self._window = window
        self._clock = clock
        # One mutable stamp per send: set when the slot is taken, moved to when the call
        # finished (see FloodBudget.sending).
        self._sent: deque[list[float]] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self, scale: float, then: _Sliding | None = None) -> list[list[float]]:
        """Wait for a slot, then (holding it) for one of `then`; count the send, return stamps."""
        async with self._lock:
            period = self._window.seconds / scale
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0][0] >= period:
                    self._sent.popleft()
                if len(self._sent) < self._window.count:
                    break
                await asyncio.sleep(self._sent[0][0] + period - now)
            stamps = [] if then is None else await then.acquire(scale)
            # The send goes out only when `then` allows it too: counted any earlier, this
            # window would let one send too many through while `then` held it back.
            stamp = [self._clock()]
            self._sent.append(stamp)
            return [stamp, *stamps]


class FloodBudget:
    """Per-chat and overall send budgets: groups, private chats, everything together."""

    def __init__(
        self,
        *,
        group: Window,
        private: Window,
        overall: Window,
        enabled: bool = True,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._group, self._private, self._overall = group, private, overall
        self._enabled = enabled
        self._scale = time_scale
        self._clock = clock
        self._chats: dict[int, _Sliding] = {}
        self._all = _Sliding(overall, clock)

    @classmethod
    def telegram(
        cls, staff_per_minute: int, *, enabled: bool = True, time_scale: float = 1.0
    ) -> FloodBudget:
        """Return Telegram's limits: a group per minute, ~1/s per private chat, 30/s in all.

        Each window is a little longer than Telegram's: a send is counted here when it
        leaves, and at Telegram when it arrives, so network jitter must not make two sends
        a window apart look closer there.
        """
        return cls(
            group=Window(staff_per_minute, 60.0 * SAFETY),
            private=Window(3, 3.0 * SAFETY),
            overall=Window(30, 1.0 * SAFETY),
            enabled=enabled,
            time_scale=time_scale,
        )

    async def acquire(self, chat_id: int) -> list[list[float]]:
        """Wait until one more send to the chat stays within every limit, and count it."""
        if not self._enabled:
            return []
        limiter = self._chats.get(chat_id)
        if limiter is None:
            # Group and supergroup ids are negative, users' private chats positive.
            window = self._group if chat_id < 0 else self._private
            limiter = self._chats[chat_id] = _Sliding(window, self._clock)
        return await limiter.acquire(self._scale, then=self._all)

    @asynccontextmanager
    async def sending(self, chat_id: int) -> AsyncIterator[None]:
        """Take a slot for one call to the chat; count it from when the call finished.

        Telegram counts a send when it arrives; a slow call counted from when it left could
        make the next window's first send look too early there.
        """
        stamps = await self.acquire(chat_id)
        try:
            yield
        finally:
            finished = self._clock()
            for stamp in stamps:
                stamp[0] = max(stamp[0], finished)
