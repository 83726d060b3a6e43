"""Who may act as staff: members of the staff chat (cached) and the configured admins."""

from __future__ import annotations

import time
from collections.abc import Callable

from telegram import Bot, ChatMember
from telegram.error import TelegramError

MEMBER_STATUSES = frozenset(
    {ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER, ChatMember.RESTRICTED}
)
CACHE_SECONDS = 300.0


class StaffDirectory:
    """Answer "is this user staff?", asking Telegram at most every few minutes per user."""

    def __init__(
        self,
        bot: Bot,
        chats: tuple[int, ...],
        admins: frozenset[int],
        *,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot = bot
        self._chats = chats
        self._admins = admins
        self._ttl = ttl
        self._clock = clock
        self._known: dict[int, tuple[bool, float]] = {}

    async def is_staff(self, user_id: int) -> bool:
        """Return whether the user is an admin from config or a member of a staff group."""
        if user_id in self._admins:
            return True
        cached = self._known.get(user_id)
        now = self._clock()
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        is_member = False
        for chat_id in self._chats:
            try:
                member = await self._bot.get_chat_member(chat_id, user_id)
            except TelegramError:
                return False  # not cached: a passing error must not lock an agent out
            if member.status in MEMBER_STATUSES:
                is_member = True
                break
        self._known[user_id] = (is_member, now)
        return is_member
