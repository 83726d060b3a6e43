"""The fake Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from fake_bot_api import FakeBotApi, FakeChat, FakeUser, FloodLimits, UploadedFile
from telegram import (
    Bot,
    BotCommand,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

TOKEN = "123:ABC"
ALICE = FakeUser(1001, "Alice", "alice")
BOB = FakeUser(1002, "Bob", "bob", language_code="en")
FORUM = FakeChat.forum(-1001, "Support")
GROUP = FakeChat(-1002, "group", title="Plain group")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
BUTTONS = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """A running fake server."""
    async with FakeBotApi(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """A bare PTB Bot, initialised against the fake."""
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_html("<b>Hallo</b> &amp; willkommen", reply_markup=BUTTONS)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Danke")
    await query.edit_message_text(f"Gewählt: {query.data}")


def build_app(api: FakeBotApi) -> Application:  # type: ignore[type-arg]
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(button))
    return app


@contextlib.asynccontextmanager
async def polling_app(api: FakeBotApi) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Run the tiny app with long polling; on exit, stop it and check shutdown is quick."""
    app = build_app(api)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    try:
        yield app
    finally:
        began = time.monotonic()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        assert time.monotonic() - began < 2.0


async def test_echo_round_trip_through_long_polling(api: FakeBotApi) -> None:
    """A queued text reaches the echo handler and its reply lands in the user's chat."""
    async with polling_app(api):
        api.user_text(ALICE, "Mein Server ist down")
        call = await api.wait_for_call("sendMessage")
    assert call.params["chat_id"] == ALICE.id
    assert call.params["text"] == "echo: Mein Server ist down"
    assert [m["text"] for m in api.sent_to(ALICE.id)] == ["echo: Mein Server ist down"]
    assert api.pending_updates == []  # the updater confirmed what it fetched


async def test_command_gets_its_entity_and_html_reply(api: FakeBotApi) -> None:
    """A /start text triggers the CommandHandler; the HTML reply is stored as text plus entities."""
    async with polling_app(api):
        api.user_text(ALICE, "/start")
        call = await api.wait_for_call("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"] == BUTTONS.to_dict()
    (sent,) = api.sent_to(ALICE.id)
    assert sent["text"] == "Hallo & willkommen"
    assert sent["entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    assert "reply_to_message" not in sent  # reply_html does not quote by default


async def test_callback_is_answered_and_message_edited(api: FakeBotApi) -> None:
    """A button press reaches the CallbackQueryHandler, which answers it and edits the message."""
    async with polling_app(api):
        api.user_text(ALICE, "/start")
        await api.wait_for_call("sendMessage")
        (menu,) = api.sent_to(ALICE.id)
        api.callback(ALICE, "yes", menu)
        answer = await api.wait_for_call("answerCallbackQuery")
        await api.wait_for_call("editMessageText")
    assert answer.params["text"] == "Danke"
    (edited,) = api.sent_to(ALICE.id)
    assert edited["text"] == "Gewählt: yes"
    assert "reply_markup" not in edited  # editing without markup removes the keyboard


async def test_webhook_delivery_with_secret_token(api: FakeBotApi) -> None:
    """PTB's webhook server gets updates posted with the secret; a wrong secret gets 403."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_app(api)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="hook",
        webhook_url=f"http://127.0.0.1:{port}/hook",
        secret_token="s3cret",
        allowed_updates=ALLOWED_UPDATES,
    )
    try:
        assert api.webhook["secret_token"] == "s3cret"
        assert await api.deliver_webhook(api.user_text(ALICE, "per Webhook", deliver=False)) == 200
        await api.wait_for_call("sendMessage")
        wrong = api.user_text(ALICE, "falsch", deliver=False)
        assert await api.post_update(api.webhook["url"], wrong, secret_token="nope") == 403
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert [m["text"] for m in api.sent_to(ALICE.id)] == ["echo: per Webhook"]


async def test_429_raises_retry_after(api: FakeBotApi, bot: Bot) -> None:
    """An injected 429 with retry_after=1 surfaces as RetryAfter; the next call succeeds."""
    api.add_user(ALICE)
    api.fail_next("sendMessage", 429, retry_after=1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ALICE.id, "Hallo")
    assert caught.value.retry_after == timedelta(seconds=1)
    await bot.send_message(ALICE.id, "Hallo")
    assert [c.status for c in api.calls("sendMessage")] == [429, 200]


async def test_500_raises_network_error(api: FakeBotApi, bot: Bot) -> None:
    """An injected 500 surfaces as a plain NetworkError."""
    api.add_user(ALICE)
    api.fail_next("sendMessage", 500)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(ALICE.id, "Hallo")
    assert type(caught.value) is NetworkError
    assert "Internal Server Error" in caught.value.message


async def test_403_raises_forbidden(api: FakeBotApi, bot: Bot) -> None:
    """An injected 403 surfaces as Forbidden, as does a chat marked as blocked."""
    api.add_user(ALICE)
    api.fail_next("sendMessage", 403)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ALICE.id, "Hallo")
    api.block(ALICE.id)
    with pytest.raises(Forbidden):
        await bot.send_message(ALICE.id, "Hallo")


async def test_dropped_connection_raises_network_error(api: FakeBotApi, bot: Bot) -> None:
    """A connection closed without an answer surfaces as NetworkError; the next call works."""
    api.add_user(ALICE)
    api.drop_next("sendMessage")
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(ALICE.id, "Hallo")
    assert type(caught.value) is NetworkError
    await bot.send_message(ALICE.id, "Hallo")
    assert [c.fault for c in api.calls("sendMessage")] == ["dropped", None]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("<div>Hallo</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>Hallo</i>", 'Can\'t find end tag corresponding to start tag "b" at byte offset 8'),
        ("<b>Hallo", 'Can\'t find end tag corresponding to start tag "b"'),
        ("Hallo</b>", "Unexpected end tag at byte offset 5"),
        ("1 < 2", "Unsupported start tag at byte offset 2"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("Zeile<br>Zeile", 'Unsupported start tag "br" at byte offset 5'),
    ],
)
async def test_html_outside_the_subset_is_refused(
    api: FakeBotApi, bot: Bot, text: str, detail: str
) -> None:
    """HTML that Telegram cannot parse is refused with BadRequest "can't parse entities"."""
    api.add_user(ALICE)
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(ALICE.id, text, parse_mode="HTML")
    assert caught.value.message == f"can't parse entities: {detail}".capitalize()


async def test_html_subset_and_length_limits(api: FakeBotApi, bot: Bot) -> None:
    """Telegram's HTML subset is accepted; the 4096 limit counts text after the tags are gone."""
    api.add_user(ALICE)
    html = (
        '<b>a</b><i>b</i><u>c</u><s>d</s><tg-spoiler>e</tg-spoiler><a href="https://x.de">f</a>'
        '<code>g</code><pre><code class="language-python">h</code></pre><blockquote>i</blockquote>'
        '<span class="tg-spoiler">j</span>&lt;&gt;&amp;&quot;&#228;'
    )
    message = await bot.send_message(ALICE.id, html, parse_mode="HTML")
    assert message.text == 'abcdefghij<>&"ä'
    assert message.entities[7].type == "pre"
    assert message.entities[7].language == "python"
    await bot.send_message(ALICE.id, f"<b>{'x' * 4096}</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ALICE.id, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ALICE.id, "<b> </b>", parse_mode="HTML")


async def test_forum_topics(api: FakeBotApi, bot: Bot) -> None:
    """Topics can be created, used, closed and renamed in a forum, and not in a plain group."""
    api.add_chat(FORUM, members=[ALICE.id])
    api.add_chat(GROUP)
    topic = await bot.create_forum_topic(FORUM.id, "Ticket #1 Alice")
    assert topic.name == "Ticket #1 Alice"
    again = await bot.create_forum_topic(FORUM.id, "Ticket #2 Bob")
    assert again.message_thread_id > topic.message_thread_id
    sent = await bot.send_message(FORUM.id, "Neu", message_thread_id=topic.message_thread_id)
    assert sent.is_topic_message
    assert [m["text"] for m in api.messages_in_topic(FORUM.id, topic.message_thread_id)] == ["Neu"]
    assert await bot.close_forum_topic(FORUM.id, topic.message_thread_id)
    assert await bot.edit_forum_topic(FORUM.id, topic.message_thread_id, name="[erledigt] #1")
    assert api.topic(FORUM.id, topic.message_thread_id) == {
        "message_thread_id": topic.message_thread_id,
        "name": "[erledigt] #1",
        "icon_color": 7322096,
        "is_closed": True,
    }
    with pytest.raises(BadRequest, match="The chat is not a forum"):
        await bot.create_forum_topic(GROUP.id, "Ticket")
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(FORUM.id, "x", message_thread_id=999)
    with pytest.raises(BadRequest, match="Topic_name_invalid"):
        await bot.create_forum_topic(FORUM.id, "x" * 129)


async def test_chat_and_member_lookups_parse_in_ptb(api: FakeBotApi, bot: Bot) -> None:
    """getChat gives a ChatFullInfo PTB accepts; getChatMember reports configured membership."""
    api.add_chat(FORUM, members=[ALICE.id], admins=[BOB.id])
    info = await bot.get_chat(FORUM.id)
    assert isinstance(info, ChatFullInfo)
    assert info.is_forum
    me = await bot.get_chat_member(FORUM.id, bot.id)
    assert isinstance(me, ChatMemberAdministrator)
    assert me.can_manage_topics
    assert isinstance(await bot.get_chat_member(FORUM.id, ALICE.id), ChatMemberMember)
    assert isinstance(await bot.get_chat_member(FORUM.id, 4711), ChatMemberLeft)
    admins = await bot.get_chat_administrators(FORUM.id)
    assert {a.user.id for a in admins} == {bot.id, BOB.id}
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(-999)


async def test_unknown_method_is_400_and_wrong_token_401(api: FakeBotApi) -> None:
    """An unknown method answers 400 "method not found"; a wrong token answers 401."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.base_url}{TOKEN}/fooBar") as response:
            assert response.status == 400
            assert await response.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: method not found",
            }
        async with session.get(f"{api.base_url}{TOKEN}/getMe") as response:
            assert (await response.json())["result"]["username"] == "triage_test_bot"
    async with Bot(TOKEN, base_url=api.base_url) as client:
        with pytest.raises(BadRequest, match="Method not found"):
            await client.do_api_request("fooBar", api_kwargs={"x": 1})
    with pytest.raises(InvalidToken):
        async with Bot("123:WRONG", base_url=api.base_url):
            pass  # entering fails on getMe; the context manager closes the HTTP client
    assert [c.status for c in api.calls("getMe")][-1] == 401


async def test_calls_are_recorded_with_decoded_params(api: FakeBotApi, bot: Bot) -> None:
    """Every call is recorded with its parameters decoded from PTB's form encoding."""
    api.add_chat(FORUM)
    api.add_user(ALICE)
    mark = api.mark()
    await bot.send_message(
        FORUM.id, "<i>x</i>", parse_mode="HTML", reply_markup=BUTTONS, disable_notification=True
    )
    await bot.send_document(ALICE.id, document=b"%PDF-1.4", filename="rechnung.pdf")
    await bot.send_photo(ALICE.id, photo="AgACPHOTO", caption="Bild")
    (send,) = api.calls("sendMessage")
    assert send.params == {
        "chat_id": FORUM.id,
        "text": "<i>x</i>",
        "parse_mode": "HTML",
        "reply_markup": BUTTONS.to_dict(),
        "disable_notification": True,
    }
    upload = api.calls("sendDocument")[0].params["document"]
    assert upload == UploadedFile("rechnung.pdf", "application/pdf", b"%PDF-1.4")
    assert [c.method for c in api.calls()[mark:]] == ["sendMessage", "sendDocument", "sendPhoto"]
    document = api.sent_to(ALICE.id)[0]["document"]
    file = await bot.get_file(document["file_id"])
    assert await file.download_as_bytearray() == bytearray(b"%PDF-1.4")


async def test_updates_are_realistic(api: FakeBotApi, bot: Bot) -> None:
    """Every update builder yields JSON that PTB parses into the expected Update."""
    api.add_chat(FORUM)
    thread_id = api.add_topic(FORUM, "Ticket #7")
    built = [
        api.user_text(ALICE, "/start@triage_test_bot hallo", deliver=False),
        api.user_photo(ALICE, "PHOTO1", caption="Fehler", deliver=False),
        api.user_document(ALICE, "DOC1", file_name="log.txt", deliver=False),
        api.user_sticker(ALICE, deliver=False),
        api.user_voice(ALICE, deliver=False),
        api.group_text(FORUM, BOB, "Antwort", thread_id=thread_id, deliver=False),
    ]
    built.append(api.edited_text(ALICE, built[0]["message"], "korrigiert", deliver=False))
    command, photo, document, sticker, voice, topic_text, edited = (
        Update.de_json(u, bot) for u in built
    )
    assert command.effective_message.text.startswith("/start")  # type: ignore[union-attr]
    assert command.effective_message.entities[0].length == len("/start@triage_test_bot")  # type: ignore[union-attr]
    assert photo.effective_message.photo[-1].file_id == "PHOTO1"  # type: ignore[union-attr]
    assert document.effective_message.document.file_name == "log.txt"  # type: ignore[union-attr]
    assert sticker.effective_message.sticker is not None  # type: ignore[union-attr]
    assert voice.effective_message.voice is not None  # type: ignore[union-attr]
    topic_message = topic_text.effective_message
    assert topic_message is not None
    assert topic_message.is_topic_message
    assert topic_message.message_thread_id == thread_id
    assert topic_message.reply_to_message is not None
    assert topic_message.reply_to_message.forum_topic_created is not None
    assert edited.edited_message is not None
    assert edited.edited_message.text == "korrigiert"
    assert [u["update_id"] for u in built] == sorted({u["update_id"] for u in built})


async def test_long_poll_waits_for_an_update_and_honours_offset(api: FakeBotApi, bot: Bot) -> None:
    """getUpdates holds until an update is queued, and an offset confirms what came before."""
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, api.user_text, ALICE, "eins")
    began = time.monotonic()
    (first,) = await bot.get_updates(timeout=5)
    assert 0.15 < time.monotonic() - began < 2.0
    api.user_text(ALICE, "zwei")
    assert len(await bot.get_updates(timeout=0)) == 2
    (second,) = await bot.get_updates(offset=first.update_id + 1, timeout=0)
    assert second.message is not None
    assert second.message.text == "zwei"
    assert await bot.get_updates(offset=second.update_id + 1, timeout=0) == ()


async def test_stopping_the_server_wakes_a_parked_poll(api: FakeBotApi, bot: Bot) -> None:
    """Stopping the server ends a parked getUpdates at once instead of after its timeout."""
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await api.wait_for(lambda: api.parked_polls)
    began = time.monotonic()
    await api.stop()
    assert await poll == ()
    assert time.monotonic() - began < 1.0


async def test_edit_not_modified_and_callback_answer_limit(api: FakeBotApi, bot: Bot) -> None:
    """Editing to the same content and over-long callback answers are refused like Telegram does."""
    api.add_user(ALICE)
    message = await bot.send_message(ALICE.id, "Hallo", reply_markup=BUTTONS)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Hallo", ALICE.id, message.message_id, reply_markup=BUTTONS)
    await bot.edit_message_reply_markup(ALICE.id, message.message_id, reply_markup=None)
    assert "reply_markup" not in api.sent_to(ALICE.id)[0]
    query = api.callback(ALICE, "yes", api.sent_to(ALICE.id)[0], deliver=False)
    query_id = query["callback_query"]["id"]
    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)


async def test_commands_copy_delete_and_json_bodies(api: FakeBotApi, bot: Bot) -> None:
    """Commands round-trip, copies and deletions change the chat, and JSON bodies are accepted."""
    api.add_user(ALICE)
    api.add_chat(FORUM)
    assert await bot.set_my_commands(
        [BotCommand("start", "Beginnen"), BotCommand("hilfe", "Hilfe")]
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "hilfe"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    update = api.user_text(ALICE, "Bitte weiterleiten")
    copied = await bot.copy_message(FORUM.id, ALICE.id, update["message"]["message_id"])
    assert api.sent_to(FORUM.id)[0]["message_id"] == copied.message_id
    assert api.sent_to(FORUM.id)[0]["text"] == "Bitte weiterleiten"
    assert await bot.delete_message(FORUM.id, copied.message_id)
    assert api.sent_to(FORUM.id) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(FORUM.id, copied.message_id)
    body = {"chat_id": str(ALICE.id), "text": "per JSON", "reply_markup": BUTTONS.to_dict()}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{api.base_url}{TOKEN}/sendMessage", json=body) as response,
    ):
        result = (await response.json())["result"]
    assert result["text"] == "per JSON"
    assert api.calls("sendMessage")[-1].params["chat_id"] == ALICE.id


# ----- flood limits


def wait_of(exc: RetryAfter) -> float:
    """The retry_after of a RetryAfter in (Telegram) seconds."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def send_all(bot: Bot, sends: list[tuple[int, str]]) -> list[RetryAfter]:
    """Send the texts one after the other; return the RetryAfter errors met."""
    refused: list[RetryAfter] = []
    for chat_id, text in sends:
        try:
            await bot.send_message(chat_id, text)
        except RetryAfter as exc:
            refused.append(exc)
    return refused


async def test_group_burst_gets_20_per_minute_then_429() -> None:
    """At time_scale 60, 20 of 25 quick sends to a group pass, and after retry_after one passes."""
    limits = FloodLimits(time_scale=60)
    async with (
        FakeBotApi(TOKEN, flood_limits=limits) as api,
        Bot(TOKEN, base_url=api.base_url) as bot,
    ):
        api.add_chat(GROUP)
        refused = await send_all(bot, [(GROUP.id, f"#{n}") for n in range(25)])
        assert [m["text"] for m in api.sent_to(GROUP.id)] == [f"#{n}" for n in range(20)]
        assert len(refused) == 5
        assert all(1 <= wait_of(e) <= 60 for e in refused)
        refusals = api.flood_refusals(GROUP.id)
        assert [c.params["text"] for c in refusals] == [f"#{n}" for n in range(20, 25)]
        assert {(c.status, c.fault) for c in refusals} == {(429, "flood")}
        await asyncio.sleep(limits.real_seconds(refused[-1].retry_after))
        await bot.send_message(GROUP.id, "wieder da")
    assert api.sent_to(GROUP.id)[-1]["text"] == "wieder da"


async def test_private_chat_burst_then_429_until_refilled() -> None:
    """A private chat takes a burst of 3, then gets Telegram's 429 body, and refills at 1/s."""
    limits = FloodLimits(time_scale=4)
    async with (
        FakeBotApi(TOKEN, flood_limits=limits) as api,
        Bot(TOKEN, base_url=api.base_url) as bot,
    ):
        api.add_user(ALICE)
        api.add_user(BOB)
        assert (
            await send_all(bot, [(ALICE.id, "eins"), (ALICE.id, "zwei"), (ALICE.id, "drei")]) == []
        )
        (refused,) = await send_all(bot, [(ALICE.id, "vier")])
        assert refused.retry_after == timedelta(seconds=1)
        body = {"chat_id": ALICE.id, "text": "roh"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{api.base_url}{TOKEN}/sendMessage", json=body) as response,
        ):
            assert response.status == 429
            assert await response.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
        await bot.send_message(BOB.id, "andere Chats sind frei")
        await asyncio.sleep(limits.real_seconds(refused.retry_after))
        await bot.send_message(ALICE.id, "fünf")
    assert [m["text"] for m in api.sent_to(ALICE.id)] == ["eins", "zwei", "drei", "fünf"]
    assert len(api.flood_refusals(ALICE.id)) == 2
    assert api.flood_refusals(BOB.id) == []


async def test_overall_limit_of_30_per_second_across_private_chats() -> None:
    """One message each to 35 private chats within a second: 30 pass, the other 5 get 429."""
    async with (
        FakeBotApi(TOKEN, flood_limits=FloodLimits()) as api,
        Bot(TOKEN, base_url=api.base_url) as bot,
    ):
        users = [api.add_user(FakeUser(2000 + n, f"Kunde {n}")) for n in range(35)]
        refused = await send_all(bot, [(user.id, "Hallo") for user in users])
    assert [e.retry_after for e in refused] == [timedelta(seconds=1)] * 5
    assert [c.params["chat_id"] for c in api.flood_refusals()] == [u.id for u in users[30:]]
    assert all(api.sent_to(u.id) for u in users[:30])
    assert not any(api.sent_to(u.id) for u in users[30:])


async def test_topics_and_edits_count_but_failed_and_reading_calls_do_not() -> None:
    """Topic calls and edits use a group's budget; errors and non-sending calls never do."""
    limits = FloodLimits(private_burst=1, group_per_minute=3, overall_per_second=5)
    async with (
        FakeBotApi(TOKEN, flood_limits=limits) as api,
        Bot(TOKEN, base_url=api.base_url) as bot,
    ):
        api.add_chat(FORUM, members=[ALICE.id])
        api.add_user(ALICE)
        topic = await bot.create_forum_topic(FORUM.id, "Ticket #1")
        sent = await bot.send_message(FORUM.id, "Neu", message_thread_id=topic.message_thread_id)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("Neu", FORUM.id, sent.message_id)
        await bot.edit_message_text("Neu!", FORUM.id, sent.message_id)
        with pytest.raises(RetryAfter):
            await bot.close_forum_topic(FORUM.id, topic.message_thread_id)
        assert api.topic(FORUM.id, topic.message_thread_id)["is_closed"] is False  # type: ignore[index]
        for _ in range(10):
            assert (await bot.get_me()).id == bot.id
            assert (await bot.get_chat(FORUM.id)).is_forum
            await bot.get_chat_member(FORUM.id, ALICE.id)
            assert await bot.set_my_commands([BotCommand("start", "Beginnen")])
            await bot.get_updates(timeout=0)
            query = api.callback(ALICE, "yes", api.sent_to(FORUM.id)[0], deliver=False)
            assert await bot.answer_callback_query(query["callback_query"]["id"])
            assert await bot.send_chat_action(ALICE.id, "typing")
    assert [c.method for c in api.flood_refusals()] == ["closeForumTopic"]


async def test_limits_are_off_by_default_and_switchable(api: FakeBotApi, bot: Bot) -> None:
    """Without flood limits nothing is refused; set_flood_limits switches them on and off."""
    api.add_chat(GROUP)
    assert api.flood_limits is None
    assert await send_all(bot, [(GROUP.id, f"#{n}") for n in range(40)]) == []
    api.set_flood_limits(FloodLimits(group_per_minute=1))
    assert await send_all(bot, [(GROUP.id, "a"), (GROUP.id, "b")]) != []
    api.set_flood_limits(None)
    assert await send_all(bot, [(GROUP.id, f"#{n}") for n in range(5)]) == []
    assert len(api.sent_to(GROUP.id)) == 46
    assert len(api.flood_refusals()) == 1


def test_flood_limits_time_scale() -> None:
    """real_seconds converts Telegram seconds (a number or a timedelta) by the time scale."""
    limits = FloodLimits(time_scale=60)
    assert limits.real_seconds(3) == 0.05
    assert limits.real_seconds(timedelta(seconds=30)) == 0.5
    assert FloodLimits().real_seconds(2) == 2
    assert limits.counts("SENDMESSAGE")
    assert not limits.counts("getUpdates")
    with pytest.raises(ValueError, match="must be positive"):
        FloodLimits(time_scale=0)
