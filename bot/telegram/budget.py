"""Telegram's flood limits as budgets: wait for a free slot instead of earning a 429."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


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
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self, scale: float) -> None:
        async with self._lock:
            period = self._window.seconds / scale
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= period:
                    self._sent.popleft()
                if len(self._sent) < self._window.count:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._sent[0] + period - now)


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
        """Return Telegram's limits: a group per minute, ~1/s per private chat, 30/s in all."""
        return cls(
            group=Window(staff_per_minute, 60.0),
            private=Window(3, 3.0),
            overall=Window(30, 1.0),
            enabled=enabled,
            time_scale=time_scale,
        )

    async def acquire(self, chat_id: int) -> None:
        """Wait until one more send to the chat stays within every limit, and count it."""
        if not self._enabled:
            return
        limiter = self._chats.get(chat_id)
        if limiter is None:
            # Group and supergroup ids are negative, users' private chats positive.
            window = self._group if chat_id < 0 else self._private
            limiter = self._chats[chat_id] = _Sliding(window, self._clock)
        await limiter.acquire(self._scale)
        await self._all.acquire(self._scale)
