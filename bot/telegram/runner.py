"""Start and stop the Telegram bot: the Application, start-up checks, polling or webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import urlsplit

from telegram import Bot, BotCommand, ChatMemberAdministrator, ChatMemberOwner
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, Defaults

from bot.config import Telegram
from bot.content.model import Lang
from bot.delivery.dispatcher import PARALLEL, Dispatcher
from bot.render import Catalogue
from bot.telegram.adapter import UPDATES
from bot.telegram.delivery import TelegramChannel
from bot.telegram.sla_jobs import SlaJobs
from bot.telegram.transport import AiohttpRequest
from bot.workers import Core

LOG = logging.getLogger(__name__)
CONNECTIONS = PARALLEL + 4  # deliveries, plus handlers answering button presses


class StartupError(Exception):
    """The bot cannot start; the message is one line saying what to fix."""


def build_application(settings: Telegram, token: str) -> Application:  # type: ignore[type-arg]
    """Build the PTB Application: HTML by default, concurrent updates.

    No PTB rate limiter: the outbox's dispatcher keeps the flood budgets and handles 429s
    itself, where a retry is recorded and survives a restart.
    """
    # PTB 22 warns on every 429 unless told to use timedelta for retry_after.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    builder = (
        ApplicationBuilder()
        .token(token)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .concurrent_updates(settings.concurrent_updates)
        # aiohttp, not PTB's httpx: a third of the CPU per call (bot/telegram/transport.py).
        # The dispatcher runs at most PARALLEL sends; a send may wait for a connection.
        .request(AiohttpRequest(CONNECTIONS, pool_timeout=30.0))
        .get_updates_request(AiohttpRequest(1))
    )
    if settings.base_url:
        builder = builder.base_url(settings.base_url).base_file_url(
            settings.base_url.replace("/bot", "/file/bot", 1)
        )
    application = builder.build()
    application.add_error_handler(_log_error)
    return application


async def _log_error(update: object, context: object) -> None:
    error = getattr(context, "error", None)
    LOG.error("while handling %r: %r", update, error, exc_info=error)


class Runner:
    """Run the bot: check the set-up, then poll or serve the webhook until stopped."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        channel: TelegramChannel,
        texts: Catalogue,
        settings: Telegram,
        *,
        core: Core,
        dispatcher: Dispatcher,
        sla: SlaJobs,
        background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    ) -> None:
        self.application = application
        self.dispatcher = dispatcher
        self._channel = channel
        self._texts = texts
        self._settings = settings
        self._background = (dispatcher.run, *background)
        self._core = core
        self._sla = sla
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect, check the staff chat, set the command menu, and start taking updates."""
        app = self.application
        where = self._settings.base_url or "https://api.telegram.org"
        try:
            await app.initialize()
            for chat_id in self._settings.all_staff_chats:
                self._channel.forums[chat_id] = await check_staff_chat(app.bot, chat_id)
            await set_commands(app.bot, self._texts)
        except InvalidToken:
            await self._abort()
            raise StartupError(
                "the Bot API refused the token: check [telegram] token or TRIAGEBOT_TELEGRAM_TOKEN"
            ) from None
        except StartupError:
            await self._abort()
            raise
        except (NetworkError, TelegramError) as error:
            await self._abort()
            raise StartupError(f"cannot reach the Bot API at {where}: {error}") from None
        await app.start()
        updater = app.updater
        if updater is None:  # pragma: no cover - ApplicationBuilder always makes one
            raise StartupError("no updater")
        if self._settings.mode == "webhook":
            await updater.start_webhook(
                listen=self._settings.listen,
                port=self._settings.port,
                url_path=urlsplit(self._settings.webhook_url).path.lstrip("/"),
                webhook_url=self._settings.webhook_url,
                secret_token=self._settings.secret_token or None,
                allowed_updates=list(UPDATES),
            )
        else:
            await updater.start_polling(allowed_updates=list(UPDATES))
        if app.job_queue is None:  # pragma: no cover - the job-queue extra is a dependency
            raise StartupError("python-telegram-bot was installed without its job queue")
        self._sla.install(app.job_queue)
        self._tasks = [asyncio.create_task(run()) for run in self._background]

    async def stop(self) -> None:
        """Stop taking updates, finish what runs, and close the connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        await self._core.close()

    async def serve(self) -> None:
        """Run until SIGINT or SIGTERM."""
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        await self.start()
        LOG.info("triagebot is running (%s); Ctrl-C stops it", self._settings.mode)
        try:
            await stopped.wait()
        finally:
            await self.stop()

    async def _abort(self) -> None:
        with contextlib.suppress(TelegramError, RuntimeError):
            await self.application.shutdown()
        # After a failed initialize (a refused token, an unreachable API) the Application
        # counts as not initialized and its shutdown skips the bot, whose HTTP connection
        # would stay open; Bot.shutdown closes it (and does nothing when already closed).
        with contextlib.suppress(TelegramError, RuntimeError):
            await self.application.bot.shutdown()


async def check_staff_chat(bot: Bot, chat_id: int) -> bool:
    """Check that the staff chat is a group the bot can work in; return whether it has topics."""
    name = f"[telegram] staff_chat_id {chat_id}"
    try:
        chat = await bot.get_chat(chat_id)
        member = await bot.get_chat_member(chat_id, bot.id)
    except (BadRequest, Forbidden) as error:
        raise StartupError(f"{name}: {error} (add the bot to the staff group)") from None
    if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        raise StartupError(f"{name} is a {chat.type} chat, not a group")
    is_admin = isinstance(member, ChatMemberAdministrator | ChatMemberOwner)
    if chat.is_forum:
        can_manage = isinstance(member, ChatMemberOwner) or (
            isinstance(member, ChatMemberAdministrator) and bool(member.can_manage_topics)
        )
        if not can_manage:
            raise StartupError(
                f"{name}: the bot must be an admin of the forum with the right to manage topics"
            )
    elif not is_admin and not bot.can_read_all_group_messages:
        raise StartupError(
            f"{name}: the bot cannot see staff replies; make it an admin of the group"
            " or turn privacy mode off (BotFather: /setprivacy)"
        )
    return bool(chat.is_forum)


async def set_commands(bot: Bot, texts: Catalogue) -> None:
    """Set the command menu: German for German clients, English for everyone else."""
    for lang in Lang:
        commands = [BotCommand(c.name, c.description) for c in texts.renderer(lang).commands()]
        language_code = lang.value if lang is Lang.DE else None
        await bot.set_my_commands(commands, language_code=language_code)
