"""The aiohttp transport under PTB, over real HTTP to the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fake_bot_api import FakeBotApi, FakeUser
from telegram import Bot, InputFile
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut
from telegram_harness import TOKEN

from bot.telegram.transport import AiohttpRequest, call

ANNA = FakeUser(4242, "Anna", "anna", "de")


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """A PTB bot whose requests go through AiohttpRequest (short timeouts for the tests)."""
    api.add_user(ANNA)
    request = AiohttpRequest(4, read_timeout=0.5, pool_timeout=0.5)
    async with Bot(TOKEN, base_url=api.base_url, request=request) as bot:
        yield bot


async def test_ptb_methods_work_over_it(api: FakeBotApi, bot: Bot) -> None:
    """A PTB method sends its parameters and reads the answer into its objects."""
    sent = await bot.send_message(ANNA.id, "<b>Hallo</b> Anna", parse_mode="HTML")
    assert sent.text == "Hallo Anna"
    (recorded,) = api.calls("sendMessage")
    assert recorded.params["chat_id"] == ANNA.id
    assert recorded.params["parse_mode"] == "HTML"


async def test_call_sends_plain_objects_and_returns_the_raw_result(
    api: FakeBotApi, bot: Bot
) -> None:
    """`call` takes dicts for objects (a keyboard), leaves out None, and returns the JSON."""
    keyboard = {"inline_keyboard": [[{"text": "Hat geholfen ✓", "callback_data": "c:abc"}]]}
    result = await call(
        bot,
        "sendMessage",
        {"chat_id": ANNA.id, "text": "Antwort", "reply_markup": keyboard, "parse_mode": None},
    )
    assert isinstance(result["message_id"], int)
    (recorded,) = api.calls("sendMessage")
    assert recorded.params["reply_markup"] == keyboard
    assert "parse_mode" not in recorded.params


async def test_errors_become_ptbs_exceptions(api: FakeBotApi, bot: Bot) -> None:
    """Error answers raise the TelegramError subclasses PTB's methods raise."""
    api.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as limited:
        await call(bot, "sendMessage", {"chat_id": ANNA.id, "text": "x"})
    assert limited.value.retry_after.total_seconds() == 3  # type: ignore[union-attr]
    api.fail_next("sendMessage", 403)
    with pytest.raises(Forbidden):
        await bot.send_message(ANNA.id, "x")


async def test_a_slow_answer_times_out(api: FakeBotApi, bot: Bot) -> None:
    """No answer within the read timeout: TimedOut, as with PTB's own client."""
    api.delay_next("sendMessage", 2.0, abort_on_disconnect=True)
    with pytest.raises(TimedOut):
        await bot.send_message(ANNA.id, "x")


async def test_a_dropped_connection_is_a_network_error(api: FakeBotApi, bot: Bot) -> None:
    """The server closing the connection without an answer: NetworkError (retryable)."""
    api.drop_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(ANNA.id, "x")
    assert (await bot.send_message(ANNA.id, "y")).text == "y"


async def test_files_are_uploaded_as_multipart(api: FakeBotApi, bot: Bot) -> None:
    """A request with a file goes as multipart form data, the other fields beside it."""
    document = InputFile(b"Logzeile 1\n", filename="log.txt")
    await bot.send_document(ANNA.id, document, caption="Auszug")
    (recorded,) = api.calls("sendDocument")
    assert recorded.params["caption"] == "Auszug"
    uploaded = recorded.params["document"]
    assert (uploaded.filename, uploaded.data) == ("log.txt", b"Logzeile 1\n")


async def test_an_uninitialised_request_says_so() -> None:
    """Using the transport before `initialize` is a programming error, said plainly."""
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest(1).do_request("http://127.0.0.1:9/x", "POST")


def test_the_proxy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY is used for Telegram's host; NO_PROXY keeps loopback direct."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    request = AiohttpRequest(1)
    assert request._proxy("https://api.telegram.org/botX/getMe") == "http://proxy.example:3128"
    assert request._proxy("http://127.0.0.1:8081/botX/getMe") is None
    assert AiohttpRequest(1)._proxy("http://api.telegram.org/botX/getMe") is None  # http only
