"""The handlers: Telegram updates in, core calls, decisions delivered. No business logic."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from telegram import CallbackQuery, Message, Update, User
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.content.model import Lang, Tier
from bot.delivery.dispatcher import Dispatcher
from bot.telegram.staff import StaffDirectory
from bot.telegram.translate import attachment, command, customer_event, person
from bot.tickets.errors import StoreError
from bot.tickets.threads import StaffThreads
from bot.triage.conversation import CUSTOMER_BUTTON, Conversation
from bot.triage.decisions import ButtonAnswer, Decision, customer_destination
from bot.triage.desk import Agent, Desk
from bot.triage.events import ButtonPressed, CustomerEvent
from bot.triage.intents import language_of_client
from bot.triage.staff_view import STAFF_BUTTON
from bot.workers import Core

Context = ContextTypes.DEFAULT_TYPE
UPDATES = ("message", "callback_query")
"""The update kinds the bot asks Telegram for (edits and the rest are not needed)."""
# How long a reply to one of the bot's posts in a plain staff group waits for the bot to
# record which ticket the post belongs to (it does so just after Telegram's answer).
RECORD_WAIT = 2.0
RECORD_POLL = 0.05


class UsageError(ValueError):
    """A staff command with missing or wrong arguments."""


class TelegramAdapter:
    """Translate updates into conversation and desk calls, and deliver what they decide."""

    def __init__(
        self,
        conversation: Conversation,
        core: Core,
        *,
        dispatcher: Dispatcher,
        threads: StaffThreads,
        staff: StaffDirectory,
        staff_chats: tuple[int, ...],
        overview: Callable[[int], None],
    ) -> None:
        self._conversation = conversation
        self._core = core
        self._desk = Desk(conversation)
        self._dispatcher = dispatcher
        self._threads = threads
        self._staff = staff
        self._staff_chats = staff_chats
        self._overview = overview
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        """Register the handlers: private chats, the staff chat, other groups, buttons."""
        staff_chat = filters.Chat(chat_id=list(self._staff_chats))
        message = filters.UpdateType.MESSAGE
        application.add_handler(MessageHandler(message & filters.ChatType.PRIVATE, self.private))
        application.add_handler(MessageHandler(message & staff_chat, self.staff_message))
        application.add_handler(MessageHandler(message & filters.COMMAND, self.other_group))
        application.add_handler(CallbackQueryHandler(self.button))

    # Customers

    async def private(self, update: Update, context: Context) -> None:
        """Handle a customer's message in a private chat."""
        message, user = update.message, update.effective_user
        if message is not None and user is not None:
            await self._customer(customer_event(message, user))

    async def other_group(self, update: Update, context: Context) -> None:
        """Answer commands in groups other than the staff chat with one polite line."""
        message, user = update.message, update.effective_user
        if message is not None and user is not None:
            await message.reply_text(self._text(user, "not_private_chat"))

    async def _customer(self, event: CustomerEvent) -> None:
        async with self._lock(event.person.id):
            await self._handle(event)

    async def _handle(self, event: CustomerEvent) -> list[ButtonAnswer]:
        """Run the core on an event; its replies that are first in line go out at once.
        Return the notices for the button press in hand."""
        with self._dispatcher.holding(customer_destination(event.person.id)):
            handled = await self._core.handle(event)
            self._dispatcher.offer(handled.ready)
        if len(handled.ready) < handled.queued:
            self._dispatcher.wake()  # the rest (staff side, later replies) by a round
        return handled.answers

    async def button(self, update: Update, context: Context) -> None:
        """Handle a button press: the customer's in private chats, staff's on ticket cards."""
        query = update.callback_query
        if query is None:
            return
        data = query.data or ""
        if data.startswith(STAFF_BUTTON):
            await self._staff_button(query, data)
            return
        chat = query.message.chat if query.message is not None else None
        if chat is None or chat.type != ChatType.PRIVATE or not data.startswith(CUSTOMER_BUTTON):
            await query.answer(self._text(query.from_user, "button_expired"))
            return
        event = ButtonPressed(person(query.from_user), data)
        async with self._lock(query.from_user.id):
            answers = await self._handle(event)
            await query.answer(answers[0].message.text if answers else None)

    # Staff

    async def staff_message(self, update: Update, context: Context) -> None:
        """Handle a message in the staff chat: a command or a reply in a ticket's thread."""
        message, user = update.message, update.effective_user
        if message is None or user is None or user.is_bot:
            return
        number = await self._thread_ticket(message)
        if not await self._staff.is_staff(user.id):
            return
        if number is None:
            found = command(message)
            if found is not None and found[0] == "queue":
                await asyncio.to_thread(self._overview, message.chat_id)
                self._dispatcher.wake()
            return
        agent = Agent(user.id, user.full_name)
        await self._staff_act(number, lambda: self._staff_action(number, agent, message))

    async def _staff_button(self, query: CallbackQuery, data: str) -> None:
        if not await self._staff.is_staff(query.from_user.id):
            await query.answer(self._text(query.from_user, "not_staff"), show_alert=True)
            return
        await query.answer()
        agent = Agent(query.from_user.id, query.from_user.full_name)
        action, _, rest = data.removeprefix(STAFF_BUTTON).partition(":")
        number_text, _, tier = rest.partition(":")
        if not number_text.isdigit():
            return
        number = int(number_text)
        calls: dict[str, Callable[[], list[Decision]]] = {
            "claim": lambda: self._desk.claim(number, agent),
            "close": lambda: self._desk.close(number, agent),
            "tier": lambda: self._desk.set_tier(number, agent, _tier(tier)),
        }
        if action in calls:
            await self._staff_act(number, calls[action])

    async def _staff_act(self, number: int, act: Callable[[], list[Decision]]) -> None:
        try:
            customer_id = (
                await asyncio.to_thread(self._conversation.store.ticket, number)
            ).customer_id
        except StoreError:
            return
        async with self._lock(customer_id):
            try:
                await asyncio.to_thread(act)
            except (StoreError, UsageError) as error:
                template = "staff_usage" if isinstance(error, UsageError) else "staff_error"
                await asyncio.to_thread(self._desk.post, number, template, text=str(error))
        self._dispatcher.wake()

    def _staff_action(self, number: int, agent: Agent, message: Message) -> list[Decision]:
        found = command(message)
        if found is not None:
            name, argument = found
            return self._staff_command(number, agent, name, argument)
        text = message.text or message.caption or ""
        if text.startswith("#"):
            return self._desk.note(number, agent, text)
        return self._desk.reply(number, agent, text, attachment(message))

    def _staff_command(self, number: int, agent: Agent, name: str, argument: str) -> list[Decision]:
        desk = self._desk
        match name:
            case "claim":
                return desk.claim(number, agent)
            case "close":
                return desk.close(number, agent, _minutes(argument, required=False))
            case "time":
                return desk.log_time(number, agent, _minutes(argument, required=True))
            case "tier":
                return desk.set_tier(number, agent, _tier(argument))
            case "reopen":
                return desk.reopen(number, agent)
            case "note":
                return desk.note(number, agent, argument)
        raise UsageError(f"/{name}")

    async def _thread_ticket(self, message: Message) -> int | None:
        """Return the ticket a staff message belongs to, if any.

        In a plain group an agent answers by replying to one of the bot's posts. The bot
        records a post's ticket just after Telegram's answer, so a reply can come first: a
        reply to a bot's post whose ticket is not known yet waits for it a little (replies
        to posts of no ticket, such as the digest, are ignored after that).
        """
        number = await asyncio.to_thread(self._ticket_of, message)
        replied = message.reply_to_message
        if number is not None or message.is_topic_message or replied is None:
            return number
        if replied.from_user is None or not replied.from_user.is_bot:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECORD_WAIT
        while number is None and loop.time() < deadline:
            await asyncio.sleep(RECORD_POLL)
            number = await asyncio.to_thread(self._ticket_of, message)
        return number

    def _ticket_of(self, message: Message) -> int | None:
        if message.is_topic_message and message.message_thread_id is not None:
            return self._threads.ticket_of_topic(message.chat_id, message.message_thread_id)
        replied = message.reply_to_message
        if replied is None:
            return None
        return self._threads.ticket_of_message(message.chat_id, replied.message_id)

    # Shared

    def _lock(self, customer_id: int) -> asyncio.Lock:
        lock = self._locks.get(customer_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[customer_id] = lock
        return lock

    def _text(self, user: User, template: str) -> str:
        lang = language_of_client(user.language_code) or Lang.DE
        return self._conversation.texts.render(lang, template).text


def _minutes(argument: str, *, required: bool) -> int:
    if not argument and not required:
        return 0
    if not argument.isdigit():
        raise UsageError(argument or "minutes")
    return int(argument)


def _tier(argument: str) -> Tier:
    try:
        return Tier(argument.strip().lower())
    except ValueError:
        raise UsageError(argument or "tier") from None
