"""A fake Telegram Bot API server that python-telegram-bot's real client can talk to.

Start it with ``async with FakeBotApi(token="123:ABC") as api:`` and point an Application at it
with ``ApplicationBuilder().token(api.token).base_url(api.base_url)
.base_file_url(api.base_file_url)``. The server listens on 127.0.0.1 on a free port.

What it does, in the order a test meets it:

* It answers the Bot API methods the bot uses (see ``FakeBotApi._method_table``), each with a
  small handler that validates the parameters the way Telegram does where it matters (message
  length, the HTML subset, forum topics, "message is not modified") and returns result objects
  with every field PTB's ``de_json`` requires.
* It records every call, failed ones included, for the test to inspect (``calls``,
  ``sent_to``, ``messages_in_topic``) or to wait for (``wait_for``, ``wait_for_call``)
  instead of sleeping.
* It builds realistic updates (``user_text``, ``callback``, ``group_text`` ...) and queues them
  for ``getUpdates`` long polling, or hands them back for posting to a webhook.
* It fails on request: ``fail_next`` answers with an error (429 with retry_after, 403, 500 ...),
  ``drop_next`` closes the connection without an answer (before handling the call, or after
  it with ``after_handling=True``), ``delay_next`` answers late (or, with
  ``abort_on_disconnect=True``, not at all once the client has gone).
* It enforces Telegram's flood limits when asked to (``FakeBotApi(flood_limits=FloodLimits(...))``
  or ``set_flood_limits``): per private chat, per group and overall, on a clock that a
  ``time_scale`` can speed up; calls beyond a limit get 429 with retry_after (``flood_refusals``).

The wire format it accepts is the one PTB sends: application/x-www-form-urlencoded where every
non-string value is JSON-encoded (``reply_markup='{...}'``, ``timeout='10.0'``), multipart for
uploads; JSON bodies and GET query strings are accepted too.
"""

# ruff: noqa: N802 -- method handlers carry the Bot API's camelCase names (api_sendMessage)

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import math
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any, NoReturn, TypeVar

import aiohttp
from aiohttp import web

T = TypeVar("T")
JSONDict = dict[str, Any]
Params = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Limits and fixed answers (as the real Bot API words them)
# --------------------------------------------------------------------------------------------

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
MAX_CALLBACK_DATA_BYTES = 64
MAX_TOPIC_NAME = 128
MAX_UPDATES_LIMIT = 100
DEFAULT_TOPIC_COLOR = 7322096

CHAT_NOT_FOUND = "Bad Request: chat not found"
NOT_A_FORUM = "Bad Request: the chat is not a forum"
THREAD_NOT_FOUND = "Bad Request: message thread not found"
TOPIC_INVALID = "Bad Request: TOPIC_ID_INVALID"
TOPIC_NOT_MODIFIED = "Bad Request: TOPIC_NOT_MODIFIED"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_TERMINATED = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: POLL_TERMINATED,
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# Update kinds Telegram leaves out unless allowed_updates names them explicitly.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# --------------------------------------------------------------------------------------------
# Parameter decoding
# --------------------------------------------------------------------------------------------

JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "results",
        "permissions",
        "reaction",
        "options",
        "explanation_entities",
    }
)
INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_thread_id",
        "message_id",
        "reply_to_message_id",
        "user_id",
        "offset",
        "limit",
        "icon_color",
        "max_connections",
        "cache_time",
        "duration",
        "width",
        "height",
    }
)
FLOAT_PARAMS = frozenset({"timeout"})
BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "has_spoiler",
        "show_caption_above_media",
        "allow_paid_broadcast",
        "disable_content_type_detection",
        "supports_streaming",
        "is_big",
    }
)
_INT_RE = re.compile(r"-?\d+")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


def _to_int(value: str) -> Any:
    return int(value) if _INT_RE.fullmatch(value) else value


def _to_float(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def _to_bool(value: str) -> Any:
    return {"true": True, "1": True, "false": False, "0": False}.get(value.lower(), value)


def _to_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


_COERCERS: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(INT_PARAMS, _to_int),
    **dict.fromkeys(FLOAT_PARAMS, _to_float),
    **dict.fromkeys(BOOL_PARAMS, _to_bool),
    **dict.fromkeys(JSON_PARAMS, _to_json),
}


def _coerce(name: str, value: Any) -> Any:
    """Turn one wire value into the Python value the Bot API means by it; other strings stay."""
    coercer = _COERCERS.get(name)
    if coercer is None or not isinstance(value, str):
        return value
    return coercer(value)


async def _read_params(request: web.Request) -> Params:
    """Decode query string and body (form, multipart or JSON) into one parameter dict."""
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                raw.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    raw[key] = UploadedFile(value.filename, value.content_type, value.file.read())
                else:
                    raw[key] = value
    return {key: _coerce(key, value) for key, value in raw.items()}


# --------------------------------------------------------------------------------------------
# Telegram's HTML subset
# --------------------------------------------------------------------------------------------

_SIMPLE_ENTITIES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class HtmlParseError(ValueError):
    """Text that Telegram would refuse with "can't parse entities"."""


class _TelegramHtml(HTMLParser):
    """Checks text against Telegram's HTML subset and computes plain text plus entities."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self._source = source
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self._stack: list[tuple[str, int, dict[str, str | None]]] = []
        self._parts: list[str] = []
        self._length = 0  # UTF-16 length of the plain text so far
        self.entities: list[JSONDict] = []

    def _char_offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _byte_offset(self) -> int:
        return len(self._source[: self._char_offset()].encode("utf-8"))

    def _fail(self, message: str) -> NoReturn:
        raise HtmlParseError(f"{message} at byte offset {self._byte_offset()}")

    def _text(self, text: str) -> None:
        self._parts.append(text)
        self._length += _utf16_len(text)

    @property
    def plain(self) -> str:
        return "".join(self._parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in _SIMPLE_ENTITIES:
            self._fail(f'Unsupported start tag "{tag}"')
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            self._fail('Tag "span" must have class "tg-spoiler"')
        if tag == "tg-emoji" and not attributes.get("emoji-id"):
            self._fail('Tag "tg-emoji" must have attribute "emoji-id"')
        self._stack.append((tag, self._length, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            self._fail("Unexpected end tag")
        open_tag, start, attributes = self._stack[-1]
        if open_tag != tag:
            self._fail(f'Can\'t find end tag corresponding to start tag "{open_tag}"')
        self._stack.pop()
        self._add_entity(tag, start, attributes)

    def _add_entity(self, tag: str, start: int, attributes: dict[str, str | None]) -> None:
        length = self._length - start
        if length == 0:
            return
        entity: JSONDict = {"type": _SIMPLE_ENTITIES[tag], "offset": start, "length": length}
        if tag == "a":
            entity["url"] = attributes.get("href") or ""
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attributes.get("emoji-id")
        elif tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif tag == "code" and self._stack and self._stack[-1][0] == "pre":
            language = (attributes.get("class") or "").removeprefix("language-")
            if language:
                self._stack[-1][2]["language"] = language
            return  # <pre><code class="language-x"> is one pre entity
        elif tag == "pre" and attributes.get("language"):
            entity["language"] = attributes["language"]
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        if "<" in data:
            raise HtmlParseError(
                "Unsupported start tag at byte offset "
                f"{self._byte_offset() + len(data[: data.index('<')].encode())}"
            )
        self._text(data)

    def handle_entityref(self, name: str) -> None:
        if name in _NAMED_ENTITIES:
            self._text(_NAMED_ENTITIES[name])
            return
        # Other named entities stay literal text; keep the ";" only if the source had one.
        end = self._char_offset() + 1 + len(name)
        self._text(f"&{name}" + (";" if self._source[end : end + 1] == ";" else ""))

    def handle_charref(self, name: str) -> None:
        try:
            number = int(name[1:], 16) if name[:1] in {"x", "X"} else int(name)
            self._text(chr(number))
        except (ValueError, OverflowError):
            self._text(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self._fail('Unsupported start tag "!--"')

    def handle_decl(self, decl: str) -> None:
        self._fail('Unsupported start tag "!"')

    def handle_pi(self, data: str) -> None:
        self._fail('Unsupported start tag "?"')

    def unknown_decl(self, data: str) -> None:
        self._fail('Unsupported start tag "!"')

    def finish(self) -> None:
        self.close()
        if self._stack:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self._stack[-1][0]}"'
            )


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Return Telegram's plain text and entities for HTML text, or raise HtmlParseError."""
    parser = _TelegramHtml(text)
    parser.feed(text)
    parser.finish()
    return parser.plain, sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip surrounding whitespace as Telegram does, moving and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = _utf16_len(text[: len(text) - len(text.lstrip())])
    end = shift + _utf16_len(stripped)
    moved: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"], shift)
        stop = min(entity["offset"] + entity["length"], end)
        if stop > start:
            moved.append({**entity, "offset": start - shift, "length": stop - start})
    return stripped, moved


def render_text(
    text: Any, parse_mode: Any, entities: Any, *, limit: int, what: str = "text"
) -> tuple[str, list[JSONDict]]:
    """Validate a message text or caption and return what Telegram would store."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if isinstance(entities, list):
        plain, found = text, list(entities)
    elif isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
        try:
            plain, found = parse_html(text)
        except HtmlParseError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    else:
        plain, found = text, []
    plain, found = _strip_text(plain, found)
    if what == "text" and not plain:
        raise ApiError(400, "Bad Request: message text is empty")
    if len(plain) > limit:
        message = "message is too long" if what == "text" else "message caption is too long"
        raise ApiError(400, f"Bad Request: {message}")
    return plain, found


def _command_entities(text: str) -> list[JSONDict]:
    """The bot_command entity Telegram adds when a text starts with a command."""
    match = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(match.group())}]


# --------------------------------------------------------------------------------------------
# Users, chats, calls, faults
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user as the fake puts it into updates."""

    id: int
    first_name: str = "Test"
    username: str | None = None
    language_code: str | None = "de"
    is_bot: bool = False

    def to_dict(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass(frozen=True)
class FakeChat:
    """A Telegram chat: "private", "group", "supergroup" (a forum if is_forum) or "channel"."""

    id: int
    type: str = "private"
    title: str | None = None
    is_forum: bool = False
    first_name: str | None = None
    username: str | None = None

    @classmethod
    def private(cls, user: FakeUser) -> FakeChat:
        """The private chat between the bot and a user (its id is the user's id)."""
        return cls(user.id, "private", first_name=user.first_name, username=user.username)

    @classmethod
    def forum(cls, id: int, title: str = "Support") -> FakeChat:
        """A supergroup with topics enabled."""
        return cls(id, "supergroup", title=title, is_forum=True)

    def to_dict(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": self.type}
        if self.title is not None:
            data["title"] = self.title
        if self.first_name is not None:
            data["first_name"] = self.first_name
        if self.username is not None:
            data["username"] = self.username
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass(frozen=True)
class RecordedCall:
    """One request the bot made, with how the fake answered it."""

    method: str
    params: Params
    time: float
    status: int = 200
    result: Any = None
    error: str | None = None
    # "injected", "dropped" or "delayed" when a fault applied; "flood" when the flood limiter
    # refused the call (429); "abandoned" when the client had gone before the answer (PTB
    # cancels its parked getUpdates on stop; the next poll ends it)
    fault: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class _Fault:
    method: str
    status: int
    description: str
    retry_after: int | None
    remaining: int
    predicate: Callable[[Params], bool] | None
    drop: bool = False
    delay: float = 0.0
    # drop: lose the answer after handling the call (the side effect happened) instead of
    # closing the connection before it; delay: handle nothing if the client left meanwhile
    after_handling: bool = False
    abort_on_disconnect: bool = False

    def matches(self, method: str, params: Params) -> bool:
        if self.remaining <= 0:
            return False
        if self.method != "*" and self.method.lower() != method.lower():
            return False
        return self.predicate is None or bool(self.predicate(params))


# --------------------------------------------------------------------------------------------
# Flood limits
# --------------------------------------------------------------------------------------------

# Bot API methods that post or change something in a chat: these count against the flood limits
# of their target chat_id and against the overall limit. Reads (getUpdates, getMe, getChat ...),
# answerCallbackQuery, setMyCommands, sendChatAction and deleteMessage do not count.
FLOOD_COUNTED_METHODS = frozenset(
    name.lower()
    for name in (
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "createForumTopic",
        "editForumTopic",
        "closeForumTopic",
        "reopenForumTopic",
        "deleteForumTopic",
    )
)


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's flood limits, on a clock that runs ``time_scale`` times faster than real time.

    All rates and windows are in "Telegram seconds". With ``time_scale=60`` a Telegram minute
    lasts one real second: a group takes 20 messages per real second, and a ``retry_after`` of 3
    means 0.05 real seconds (``real_seconds(3)``). ``retry_after`` is always reported as Telegram
    does, in whole Telegram seconds (an int >= 1); whoever honours it (the dispatcher) must be
    given the same time scale.

    * private chats: a token bucket of ``private_burst`` messages, refilled at
      ``private_per_second`` (so a burst of 3, then about one a second);
    * groups, supergroups and channels: ``group_per_minute`` messages in any sliding 60 s;
    * all counted calls together: ``overall_per_second`` in any sliding 1 s.

    A call counts when its method is in ``counted_methods`` (lower-case names) and it succeeds;
    a call refused with 429, or failing otherwise (400, 403 ...), uses no budget.
    """

    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    overall_per_second: int = 30
    time_scale: float = 1.0
    counted_methods: frozenset[str] = FLOOD_COUNTED_METHODS

    def __post_init__(self) -> None:
        if min(self.private_per_second, self.time_scale) <= 0:
            raise ValueError("private_per_second and time_scale must be positive")
        if min(self.private_burst, self.group_per_minute, self.overall_per_second) < 1:
            raise ValueError("burst and per-window counts must be at least 1")

    def real_seconds(self, telegram_seconds: float | timedelta) -> float:
        """How many real seconds a span of Telegram seconds (e.g. a retry_after) lasts."""
        if isinstance(telegram_seconds, timedelta):
            telegram_seconds = telegram_seconds.total_seconds()
        return telegram_seconds / self.time_scale

    def counts(self, method: str) -> bool:
        """Whether calls of this Bot API method count against the limits."""
        return method.lower() in self.counted_methods


class _SlidingWindow:
    """At most `limit` events in any `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0.0 if it fits now)."""
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[-self.limit] + self.window - now

    def take(self, now: float) -> None:
        self._times.append(now)


class _TokenBucket:
    """Up to `burst` events at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def wait(self, now: float) -> float:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self.wait(now)
        self._tokens -= 1


class _FloodLimiter:
    """The state behind FloodLimits: one bucket per private chat, one window per group."""

    def __init__(self, limits: FloodLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._overall = _SlidingWindow(limits.overall_per_second, 1.0)
        self._groups: dict[int, _SlidingWindow] = {}
        self._privates: dict[int, _TokenBucket] = {}

    def now(self) -> float:
        """The limiter's clock, in Telegram seconds."""
        return self._clock() * self.limits.time_scale

    def _chat_limit(self, chat_id: int, private: bool, now: float) -> _SlidingWindow | _TokenBucket:
        if private:
            if chat_id not in self._privates:
                limits = self.limits
                bucket = _TokenBucket(limits.private_per_second, limits.private_burst, now)
                self._privates[chat_id] = bucket
            return self._privates[chat_id]
        if chat_id not in self._groups:
            self._groups[chat_id] = _SlidingWindow(self.limits.group_per_minute, 60.0)
        return self._groups[chat_id]

    def _applicable(
        self, chat_id: Any, private: bool, now: float
    ) -> list[_SlidingWindow | _TokenBucket]:
        found: list[_SlidingWindow | _TokenBucket] = [self._overall]
        if isinstance(chat_id, int):
            found.append(self._chat_limit(chat_id, private, now))
        return found

    def retry_after(self, chat_id: Any, private: bool) -> int | None:
        """None if a call to this chat fits now, else the retry_after to answer (whole s >= 1)."""
        now = self.now()
        wait = max(limit.wait(now) for limit in self._applicable(chat_id, private, now))
        return max(1, math.ceil(wait)) if wait > 0 else None

    def take(self, chat_id: Any, private: bool) -> None:
        """Count a call that went through."""
        now = self.now()
        for limit in self._applicable(chat_id, private, now):
            limit.take(now)


class ApiError(Exception):
    """Raised by a method handler: becomes an ``{"ok": false}`` answer with this status."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class _FloodError(ApiError):
    """A call over a flood limit: 429 "Too Many Requests" with retry_after."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, f"Too Many Requests: retry after {retry_after}", retry_after)


class _Signal:
    """A broadcast wake-up: every waiter returns at the next fire() (or its timeout)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


def _error_body(status: int, description: str, retry_after: int | None) -> JSONDict:
    body: JSONDict = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


async def post_update(url: str, update: Mapping[str, Any], secret_token: str | None = None) -> int:
    """POST an update to a bot's webhook as Telegram does; return the HTTP status."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=dict(update), headers=headers) as response,
    ):
        await response.read()
        return response.status


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

Handler = Callable[[Params], Any]


class FakeBotApi:
    """An in-process Bot API server: ``async with FakeBotApi() as api: ...``."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = "triage_test_bot",
        bot_first_name: str = "Triage Bot",
        flood_limits: FloodLimits | None = None,
    ) -> None:
        self.token = token
        bot_id = token.split(":", 1)[0]
        self.bot = FakeUser(
            int(bot_id) if bot_id.isdigit() else 1,
            bot_first_name,
            bot_username,
            language_code=None,
            is_bot=True,
        )
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._calls: list[RecordedCall] = []
        self._faults: list[_Fault] = []
        self._holding: dict[str, int] = {}  # method (lower case) -> delayed calls waiting
        self._flood: _FloodLimiter | None = None
        self.set_flood_limits(flood_limits)
        self._changed = _Signal()
        # updates
        self._update_ids = itertools.count(1)
        self._pending: list[JSONDict] = []
        self._update_signal = _Signal()
        self._poll_generation = 0
        self._parked = 0
        self._allowed_updates: list[str] = []
        # world state
        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, FakeChat] = {}
        self._members: dict[int, set[int]] = {}
        self._admins: dict[int, set[int]] = {}
        self._blocked: set[int] = set()
        self._bot_member: dict[int, JSONDict] = {}  # chat id -> status and rights
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._topics: dict[tuple[int, int], JSONDict] = {}
        self._closed_topics: set[tuple[int, int]] = set()
        self._open_callbacks: set[str] = set()
        self._callback_ids = itertools.count(1)
        self._files: dict[str, tuple[bytes, str]] = {}  # file_id -> (content, file_path)
        self._file_counter = itertools.count(1)
        self._commands: dict[str, list[JSONDict]] = {}
        self._webhook: JSONDict = {"url": ""}
        self._methods = self._method_table()

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """The value for ``ApplicationBuilder().base_url(...)``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """The value for ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])

    async def stop(self) -> None:
        # aiohttp does not cancel a handler when its client goes away, and waits for running
        # handlers on cleanup: wake every parked getUpdates so that they return at once.
        self._closing = True
        self._update_signal.fire()
        self._changed.fire()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- configuration

    def add_chat(
        self, chat: FakeChat, *, members: Iterable[int] = (), admins: Iterable[int] = ()
    ) -> FakeChat:
        """Make a chat known, with the user ids that are members and administrators."""
        if chat.is_forum and chat.type != "supergroup":
            raise ValueError("only a supergroup can be a forum")
        self._chats[chat.id] = chat
        self._members.setdefault(chat.id, set()).update(members)
        self._admins.setdefault(chat.id, set()).update(admins)
        return chat

    def set_members(self, chat_id: int, members: Iterable[int], admins: Iterable[int] = ()) -> None:
        """Replace the member and administrator user ids of a chat."""
        self._members[chat_id] = set(members)
        self._admins[chat_id] = set(admins)

    def add_user(self, user: FakeUser) -> FakeUser:
        """Make a user known (getChatMember shows its name) and its private chat reachable."""
        self._users[user.id] = user
        self._chats.setdefault(user.id, FakeChat.private(user))
        return user

    def block(self, chat_id: int) -> None:
        """Answer every later send to this chat with 403 "bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Let sends to this chat succeed again."""
        self._blocked.discard(chat_id)

    def set_bot_member(self, chat_id: int, status: str = "member", **rights: bool) -> None:
        """Change what getChatMember says about the bot in a chat (default: a full admin).

        ``set_bot_member(chat.id)`` makes it a plain member; ``set_bot_member(chat.id,
        "administrator", can_manage_topics=False)`` an admin without that right.
        """
        self._bot_member[chat_id] = {"status": status, **rights}

    def add_topic(self, chat: FakeChat, name: str, icon_color: int = DEFAULT_TOPIC_COLOR) -> int:
        """Create a forum topic as an administrator would; return its message_thread_id."""
        self._ensure_chat(chat)
        creator = FakeUser(777, "Admin")
        topic = self._create_topic(chat.id, name, icon_color, None, creator.to_dict())
        return int(topic["message_thread_id"])

    def add_file(self, content: bytes, folder: str = "documents", suffix: str = ".bin") -> str:
        """Store a file the bot can getFile and download; return its file_id."""
        file_id = f"FILE{next(self._file_counter)}"
        self._store_file(file_id, content, folder, suffix)
        return file_id

    def _store_file(self, file_id: str, content: bytes, folder: str, suffix: str) -> None:
        # Telegram's file paths look like "documents/file_3.pdf"
        self._files[file_id] = (content, f"{folder}/file_{next(self._file_counter)}{suffix}")

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        predicate: Callable[[Params], bool] | None = None,
    ) -> None:
        """Answer the next `count` calls of `method` ("*": any) with an error of `status`."""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after or 1}"
                if status == 429
                else DEFAULT_DESCRIPTIONS.get(status, "Injected failure")
            )
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(_Fault(method, status, description, retry_after, count, predicate))

    def drop_next(
        self,
        method: str,
        count: int = 1,
        predicate: Callable[[Params], bool] | None = None,
        *,
        after_handling: bool = False,
    ) -> None:
        """Close the connection of the next `count` calls of `method` without an answer.

        By default the call is dropped before it is handled: nothing happens, as when a
        request never reached Telegram. With ``after_handling=True`` the call is handled (the
        message is sent, the topic created) and only the answer is lost, as when the
        connection breaks on the way back; such a call is recorded with status 200, its
        result and ``fault="answer_dropped"``.
        """
        self._faults.append(
            _Fault(
                method,
                0,
                "dropped",
                None,
                count,
                predicate,
                drop=True,
                after_handling=after_handling,
            )
        )

    def delay_next(
        self,
        method: str,
        seconds: float,
        count: int = 1,
        predicate: Callable[[Params], bool] | None = None,
        *,
        abort_on_disconnect: bool = False,
    ) -> None:
        """Answer the next `count` calls of `method` normally, but only after `seconds`.

        A delayed call is handled after the delay even if its client went away meanwhile (as
        Telegram would: it acted on the request, the answer is lost; recorded as
        ``fault="abandoned"``). With ``abort_on_disconnect=True`` a call whose client goes
        away during the delay is not handled at all (recorded with status 0 and
        ``fault="aborted"``): the client crashed before Telegram acted. ``holding`` counts
        the delayed calls still waiting.
        """
        self._faults.append(
            _Fault(
                method,
                200,
                "delayed",
                None,
                count,
                predicate,
                delay=seconds,
                abort_on_disconnect=abort_on_disconnect,
            )
        )

    def holding(self, method: str | None = None) -> int:
        """How many delayed calls (of one method, case-insensitive) are waiting right now."""
        return sum(
            n for name, n in self._holding.items() if method is None or name == method.lower()
        )

    async def _hold(self, request: web.Request, method: str, fault: _Fault) -> bool:
        """Wait out a delay; return False if the call is to be aborted (client gone)."""
        key = method.lower()
        self._holding[key] = self._holding.get(key, 0) + 1
        self._changed.fire()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + fault.delay
            while (remaining := deadline - loop.time()) > 0:
                if fault.abort_on_disconnect and self._client_gone(request):
                    return False
                if self._closing:
                    break
                await asyncio.sleep(min(remaining, 0.02))
            return not (fault.abort_on_disconnect and self._client_gone(request))
        finally:
            self._holding[key] -= 1
            self._changed.fire()

    @staticmethod
    def _client_gone(request: web.Request) -> bool:
        return request.transport is None or request.transport.is_closing()

    # ---------------------------------------------------------------- flood limits

    @property
    def flood_limits(self) -> FloodLimits | None:
        """The flood limits in force (None: unlimited, the default)."""
        return self._flood.limits if self._flood is not None else None

    def set_flood_limits(self, limits: FloodLimits | None) -> None:
        """Enforce these flood limits from now on, with fresh budgets; None switches them off."""
        self._flood = _FloodLimiter(limits) if limits is not None else None

    def flood_refusals(self, chat_id: int | None = None) -> list[RecordedCall]:
        """The calls the flood limiter answered with 429, or those aimed at one chat."""
        return [
            c
            for c in self._calls
            if c.fault == "flood" and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    def _is_private(self, chat_id: Any) -> bool:
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is not None:
            return chat.type == "private"
        return isinstance(chat_id, int) and chat_id > 0  # user ids are positive, groups not

    def _flood_check(self, method: str, params: Params) -> None:
        """Raise _FloodError (a 429 with retry_after) if this call is over a flood limit."""
        if self._flood is None or not self._flood.limits.counts(method):
            return
        chat_id = params.get("chat_id")
        retry_after = self._flood.retry_after(chat_id, self._is_private(chat_id))
        if retry_after is not None:
            raise _FloodError(retry_after)

    def _flood_take(self, method: str, params: Params) -> None:
        if self._flood is None or not self._flood.limits.counts(method):
            return
        chat_id = params.get("chat_id")
        self._flood.take(chat_id, self._is_private(chat_id))

    def _take_fault(self, method: str, params: Params) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, params):
                fault.remaining -= 1
                return fault
        return None

    # ---------------------------------------------------------------- inspection

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every recorded call, or those of one method (case-insensitive), oldest first."""
        if method is None:
            return list(self._calls)
        return [c for c in self._calls if c.method.lower() == method.lower()]

    def clear_calls(self) -> None:
        """Forget the calls recorded so far."""
        self._calls.clear()

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The current state of a stored message (None if unknown or deleted)."""
        if (chat_id, message_id) in self._deleted or (chat_id, message_id) not in self._messages:
            return None
        return copy.deepcopy(self._messages[(chat_id, message_id)])

    def sent_to(self, chat_id: int) -> list[JSONDict]:
        """Copies of the messages the bot sent to a chat and did not delete, with edits applied."""
        return [m for m in self._chat_messages(chat_id) if m["from"]["id"] == self.bot.id]

    def messages_in_topic(
        self, chat_id: int, thread_id: int, *, bot_only: bool = True
    ) -> list[JSONDict]:
        """Messages in a forum topic (by default only the bot's), without the service message."""
        return [
            m
            for m in (self.sent_to(chat_id) if bot_only else self._chat_messages(chat_id))
            if m.get("message_thread_id") == thread_id
        ]

    def topic(self, chat_id: int, thread_id: int) -> JSONDict | None:
        """A forum topic as created or last edited (its ForumTopic dict plus "is_closed")."""
        topic = self._topics.get((chat_id, thread_id))
        if topic is None:
            return None
        return {**topic, "is_closed": (chat_id, thread_id) in self._closed_topics}

    def topics(self, chat_id: int) -> list[JSONDict]:
        """All forum topics of a chat, as topic() gives them, oldest first."""
        return [
            t
            for (cid, tid) in sorted(self._topics)
            if cid == chat_id
            for t in [self.topic(cid, tid)]
            if t is not None
        ]

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed by the bot."""
        return list(self._pending)

    @property
    def parked_polls(self) -> int:
        """How many getUpdates requests are waiting for an update right now."""
        return self._parked

    @property
    def webhook(self) -> JSONDict:
        """The webhook as last set: {"url", "secret_token", "allowed_updates", ...}."""
        return dict(self._webhook)

    def mark(self) -> int:
        """The number of calls so far: pass as `since` to wait only for later calls."""
        return len(self._calls)

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Wait until predicate() is truthy (checked at every call and update) and return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                recent = ", ".join(f"{c.method}:{c.status}" for c in self._calls[-10:])
                raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent}")
            await self._changed.wait(min(remaining, 0.5))

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Params], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
        include_failed: bool = False,
    ) -> RecordedCall:
        """Wait for a (by default successful) call of `method` whose params match; return it."""

        def find() -> RecordedCall | None:
            for call in self._calls[since:]:
                if call.method.lower() != method.lower():
                    continue
                if not (call.ok or include_failed):
                    continue
                if predicate is None or predicate(call.params):
                    return call
            return None

        return await self.wait_for(find, timeout)

    # ---------------------------------------------------------------- building updates

    def queue_update(self, update: JSONDict) -> JSONDict:
        """Queue a raw update for getUpdates (an update_id is added when missing)."""
        update.setdefault("update_id", next(self._update_ids))
        self._pending.append(update)
        self._update_signal.fire()
        self._changed.fire()
        return update

    def _update(self, kind: str, payload: JSONDict, deliver: bool) -> JSONDict:
        # A copy: later edits of the stored message must not change an update already built.
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        if deliver:
            self.queue_update(update)
        return update

    def _user_message(self, user: FakeUser, chat: FakeChat | None, **content: Any) -> JSONDict:
        self.add_user(user)
        chat = chat or FakeChat.private(user)
        self._ensure_chat(chat)
        return self._new_message(chat.id, user.to_dict(), content)

    def user_text(
        self, user: FakeUser, text: str, chat: FakeChat | None = None, *, deliver: bool = True
    ) -> JSONDict:
        """A text message from a user (private chat unless `chat`); commands get their entity."""
        content: JSONDict = {"text": text}
        if entities := _command_entities(text):
            content["entities"] = entities
        return self._update("message", self._user_message(user, chat, **content), deliver)

    def group_text(
        self,
        chat: FakeChat,
        user: FakeUser,
        text: str,
        thread_id: int | None = None,
        reply_to: JSONDict | None = None,
        *,
        deliver: bool = True,
    ) -> JSONDict:
        """A text message in a group; in a forum topic when `thread_id` is given.

        Like Telegram, a topic message that replies to nothing carries the topic's creation
        message as reply_to_message.
        """
        content: JSONDict = {"text": text}
        if entities := _command_entities(text):
            content["entities"] = entities
        if thread_id is not None and chat.is_forum:
            content["message_thread_id"] = thread_id
            content["is_topic_message"] = True
            root = self._messages.get((chat.id, thread_id))
            if reply_to is None and root is not None:
                reply_to = root
        if reply_to is not None:
            content["reply_to_message"] = self._quoted(reply_to)
        return self._update("message", self._user_message(user, chat, **content), deliver)

    def callback(
        self, user: FakeUser, data: str, message: JSONDict, *, deliver: bool = True
    ) -> JSONDict:
        """A button press: a callback_query carrying the message the button is on."""
        self.add_user(user)
        query_id = f"{self.bot.id}{next(self._callback_ids):06d}"
        self._open_callbacks.add(query_id)
        current = self._current(message)
        payload = {
            "id": query_id,
            "from": user.to_dict(),
            "chat_instance": f"ci{current['chat']['id']}",
            "data": data,
            "message": current,
        }
        return self._update("callback_query", payload, deliver)

    def user_photo(
        self,
        user: FakeUser,
        file_id: str,
        caption: str | None = None,
        chat: FakeChat | None = None,
        *,
        deliver: bool = True,
    ) -> JSONDict:
        """A photo from a user (two sizes, the largest last, as Telegram sends them)."""
        self._ensure_file(file_id, "photos", ".jpg")
        content: JSONDict = {"photo": _photo_sizes(file_id)}
        if caption is not None:
            content["caption"] = caption
        return self._update("message", self._user_message(user, chat, **content), deliver)

    def user_document(
        self,
        user: FakeUser,
        file_id: str,
        *,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        chat: FakeChat | None = None,
        deliver: bool = True,
    ) -> JSONDict:
        """A document (file attachment) from a user."""
        self._ensure_file(file_id, "documents", os.path.splitext(file_name)[1])
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(self._files[file_id][0]),
        }
        content: JSONDict = {"document": document}
        if caption is not None:
            content["caption"] = caption
        return self._update("message", self._user_message(user, chat, **content), deliver)

    def user_sticker(
        self,
        user: FakeUser,
        file_id: str = "STICKER1",
        emoji: str = "👍",
        chat: FakeChat | None = None,
        *,
        deliver: bool = True,
    ) -> JSONDict:
        """A sticker from a user."""
        self._ensure_file(file_id, "stickers", ".webp")
        sticker = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._update("message", self._user_message(user, chat, sticker=sticker), deliver)

    def user_voice(
        self,
        user: FakeUser,
        file_id: str = "VOICE1",
        duration: int = 3,
        chat: FakeChat | None = None,
        *,
        deliver: bool = True,
    ) -> JSONDict:
        """A voice note from a user."""
        self._ensure_file(file_id, "voice", ".oga")
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        return self._update("message", self._user_message(user, chat, voice=voice), deliver)

    def edited_text(
        self, user: FakeUser, message: JSONDict, text: str, *, deliver: bool = True
    ) -> JSONDict:
        """The user edits one of their text messages: an edited_message update."""
        key = (message["chat"]["id"], message["message_id"])
        stored = self._messages.get(key, message)
        if stored["from"]["id"] != user.id:
            raise ValueError("a user can only edit their own messages")
        stored["text"] = text
        stored.pop("entities", None)
        if entities := _command_entities(text):
            stored["entities"] = entities
        stored["edit_date"] = int(time.time())
        self._messages[key] = stored
        return self._update("edited_message", stored, deliver)

    async def deliver_webhook(self, update: Mapping[str, Any]) -> int:
        """POST an update to the webhook the bot set, with its secret token; return the status."""
        if not self._webhook.get("url"):
            raise RuntimeError("the bot has not set a webhook")
        return await post_update(self._webhook["url"], update, self._webhook.get("secret_token"))

    async def post_update(
        self, url: str, update: Mapping[str, Any], secret_token: str | None = None
    ) -> int:
        """POST an update to any URL as Telegram's webhook delivery does; return the status."""
        return await post_update(url, update, secret_token)

    # ---------------------------------------------------------------- world helpers

    def _ensure_chat(self, chat: FakeChat) -> None:
        if chat.id not in self._chats:
            self.add_chat(chat)

    def _chat(self, chat_id: Any) -> FakeChat:
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise ApiError(400, CHAT_NOT_FOUND)
        return chat

    def _ensure_file(self, file_id: str, folder: str, suffix: str) -> None:
        if file_id not in self._files:
            self._store_file(file_id, f"fake file {file_id}".encode(), folder, suffix)

    def _chat_messages(self, chat_id: int) -> list[JSONDict]:
        """Copies of a chat's messages, oldest first, without deleted and service messages."""
        return [
            copy.deepcopy(m)
            for (cid, mid), m in sorted(self._messages.items())
            if cid == chat_id and (cid, mid) not in self._deleted and "forum_topic_created" not in m
        ]

    def _quoted(self, message: JSONDict) -> JSONDict:
        """A message as reply_to_message: Telegram does not nest a second reply_to_message."""
        quoted = self._current(message)
        quoted.pop("reply_to_message", None)
        return quoted

    def _current(self, message: JSONDict) -> JSONDict:
        stored = self._messages.get((message["chat"]["id"], message["message_id"]), message)
        return copy.deepcopy(stored)

    def _new_message(self, chat_id: int, sender: JSONDict, content: JSONDict) -> JSONDict:
        chat = self._chats[chat_id]
        first = 2 if chat.is_forum else 1  # in a forum, 1 is the General topic
        message_id = self._next_message_id.get(chat_id, first)
        self._next_message_id[chat_id] = message_id + 1
        message: JSONDict = {
            "message_id": message_id,
            "from": sender,
            "chat": chat.to_dict(),
            "date": int(time.time()),
            **content,
        }
        self._messages[(chat_id, message_id)] = message
        return message

    def _stored(self, chat_id: Any, message_id: Any, missing: str) -> JSONDict:
        key = (chat_id, message_id)
        if key not in self._messages or key in self._deleted:
            raise ApiError(400, f"Bad Request: {missing}")
        return self._messages[key]

    def _create_topic(
        self, chat_id: int, name: str, icon_color: int, emoji_id: str | None, creator: JSONDict
    ) -> JSONDict:
        topic: JSONDict = {"name": name, "icon_color": icon_color}
        if emoji_id:
            topic["icon_custom_emoji_id"] = emoji_id
        service = self._new_message(chat_id, creator, {"forum_topic_created": dict(topic)})
        thread_id = service["message_id"]
        service["message_thread_id"] = thread_id
        service["is_topic_message"] = True
        result = {"message_thread_id": thread_id, **topic}
        self._topics[(chat_id, thread_id)] = result
        return dict(result)

    # ---------------------------------------------------------------- HTTP

    def _record(self, method: str, params: Params, **outcome: Any) -> None:
        self._calls.append(RecordedCall(method, params, time.monotonic(), **outcome))
        self._changed.fire()

    def _error(
        self,
        method: str,
        params: Params,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        fault: str | None = None,
    ) -> web.Response:
        self._record(method, params, status=status, error=description, fault=fault)
        return web.json_response(_error_body(status, description, retry_after), status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params = await _read_params(request)
        except (ValueError, UnicodeDecodeError):
            return self._error(method, {}, 400, "Bad Request: can't parse request body")
        if request.match_info["token"] != self.token:
            return self._error(method, params, 401, "Unauthorized")
        handler = self._methods.get(method.lower())
        if handler is not None:
            method = handler.__name__.removeprefix("api_")
        fault = self._take_fault(method, params)
        aborted = (
            fault is not None and fault.delay > 0 and not await self._hold(request, method, fault)
        )
        if fault is not None and (aborted or not (fault.delay or fault.after_handling)):
            return self._faulty_answer(request, method, params, fault, aborted=aborted)
        if handler is None:
            return self._error(method, params, 400, "Bad Request: method not found")
        try:
            # Counted (sending) handlers are synchronous: nothing runs between this check and
            # _flood_take below, so concurrent calls cannot overdraw a budget.
            self._flood_check(method, params)
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            return self._error(
                method,
                params,
                exc.status,
                exc.description,
                retry_after=exc.retry_after,
                fault="flood" if isinstance(exc, _FloodError) else self._fault_name(request, fault),
            )
        self._flood_take(method, params)
        dropped = fault is not None and fault.drop  # after_handling: the answer is lost
        fault_name = "answer_dropped" if dropped else self._fault_name(request, fault)
        self._record(method, params, result=result, fault=fault_name)
        return (
            self._no_answer(request)
            if dropped
            else web.json_response({"ok": True, "result": result})
        )

    @staticmethod
    def _no_answer(request: web.Request) -> web.Response:
        """Close the connection without an answer."""
        if request.transport is not None:
            request.transport.abort()
        # aiohttp finds the transport gone when it writes this and only logs at debug level
        # (raising instead would log an "Error handling request" traceback).
        return web.Response(status=204)

    def _faulty_answer(
        self, request: web.Request, method: str, params: Params, fault: _Fault, *, aborted: bool
    ) -> web.Response:
        if aborted:  # a delayed call whose client went away: not handled at all
            self._record(method, params, status=0, error="client disconnected", fault="aborted")
            return self._no_answer(request)
        if not fault.drop:
            return self._error(
                method,
                params,
                fault.status,
                fault.description,
                retry_after=fault.retry_after,
                fault="injected",
            )
        self._record(method, params, status=0, error="dropped", fault="dropped")
        return self._no_answer(request)

    @staticmethod
    def _fault_name(request: web.Request, fault: _Fault | None) -> str | None:
        if request.transport is None or request.transport.is_closing():
            return "abandoned"  # the client left before the answer, e.g. a cancelled long poll
        return "delayed" if fault is not None else None

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized
        path = request.match_info["path"]
        for content, file_path in self._files.values():
            if file_path == path:
                return web.Response(body=content)
        raise web.HTTPNotFound

    # ---------------------------------------------------------------- method table

    def _method_table(self) -> dict[str, Handler]:
        handlers: list[Handler] = [
            self.api_getMe,
            self.api_logOut,
            self.api_close,
            self.api_deleteWebhook,
            self.api_setWebhook,
            self.api_getWebhookInfo,
            self.api_setMyCommands,
            self.api_getMyCommands,
            self.api_deleteMyCommands,
            self.api_getUpdates,
            self.api_sendMessage,
            self.api_sendChatAction,
            self.api_editMessageText,
            self.api_editMessageReplyMarkup,
            self.api_deleteMessage,
            self.api_answerCallbackQuery,
            self.api_copyMessage,
            self.api_sendPhoto,
            self.api_sendDocument,
            self.api_getChat,
            self.api_getChatMember,
            self.api_getChatAdministrators,
            self.api_createForumTopic,
            self.api_closeForumTopic,
            self.api_reopenForumTopic,
            self.api_editForumTopic,
            self.api_getFile,
        ]
        return {h.__name__.removeprefix("api_").lower(): h for h in handlers}

    # Method handlers are named api_<Bot API method> (camelCase, hence N802 off for this file)
    # so that the table can be built from their names.

    def api_getMe(self, p: Params) -> JSONDict:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }

    def api_logOut(self, p: Params) -> bool:
        return True

    def api_close(self, p: Params) -> bool:
        return True

    def api_deleteWebhook(self, p: Params) -> bool:
        self._webhook = {"url": ""}
        if p.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def api_setWebhook(self, p: Params) -> bool:
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self._webhook = {k: v for k, v in p.items() if not isinstance(v, UploadedFile)}
        self._webhook.setdefault("url", "")
        if p.get("drop_pending_updates"):
            self._pending.clear()
        if isinstance(p.get("allowed_updates"), list):
            self._allowed_updates = list(p["allowed_updates"])
        self._poll_generation += 1  # a parked getUpdates now ends with 409
        self._update_signal.fire()
        return True

    def api_getWebhookInfo(self, p: Params) -> JSONDict:
        info: JSONDict = {
            "url": self._webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    @staticmethod
    def _commands_key(p: Params) -> str:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)

    def api_setMyCommands(self, p: Params) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands must be an array")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(p)] = list(commands)
        return True

    def api_getMyCommands(self, p: Params) -> list[JSONDict]:
        return self._commands.get(self._commands_key(p), [])

    def api_deleteMyCommands(self, p: Params) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    def _is_allowed(self, update: JSONDict) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in OPT_IN_UPDATES

    async def api_getUpdates(self, p: Params) -> list[JSONDict]:
        if self._webhook.get("url"):
            raise ApiError(409, WEBHOOK_ACTIVE)
        if isinstance(p.get("allowed_updates"), list):
            self._allowed_updates = list(p["allowed_updates"])
        offset = p.get("offset")
        if isinstance(offset, int) and offset < 0:
            self._pending = self._pending[offset:]
        elif isinstance(offset, int) and offset:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        limit = p.get("limit", MAX_UPDATES_LIMIT)
        limit = max(1, min(MAX_UPDATES_LIMIT, limit if isinstance(limit, int) else 100))
        timeout = p.get("timeout") or 0.0
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0
        # A new poll ends the one still parked, as Telegram does (409 for the older one).
        self._poll_generation += 1
        generation = self._poll_generation
        self._update_signal.fire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, POLL_TERMINATED)
            batch = [u for u in self._pending if self._is_allowed(u)][:limit]
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                return batch
            self._parked += 1
            self._changed.fire()
            try:
                await self._update_signal.wait(remaining)
            finally:
                self._parked -= 1

    # ----- messages

    def _check_sendable(self, p: Params) -> tuple[FakeChat, int | None]:
        if p.get("chat_id") in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chat(p.get("chat_id"))
        if chat.id in self._blocked:
            raise ApiError(403, BLOCKED)
        thread_id = p.get("message_thread_id")
        if thread_id is not None and chat.is_forum and thread_id != 1:
            if (chat.id, thread_id) not in self._topics:
                raise ApiError(400, THREAD_NOT_FOUND)
            return chat, thread_id
        return chat, None

    @staticmethod
    def _check_markup(markup: Any) -> None:
        if markup is None:
            return
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _reply_to(self, chat: FakeChat, p: Params) -> JSONDict | None:
        reply = p.get("reply_parameters")
        reply_id = reply.get("message_id") if isinstance(reply, dict) else None
        reply_id = reply_id or p.get("reply_to_message_id")
        if reply_id is None:
            return None
        stored = self.message(chat.id, reply_id)
        if stored is None:
            allow = p.get("allow_sending_without_reply") or (
                isinstance(reply, dict) and reply.get("allow_sending_without_reply")
            )
            if allow:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return self._quoted(stored)

    def _send(self, p: Params, content: JSONDict) -> JSONDict:
        chat, thread_id = self._check_sendable(p)
        self._check_markup(p.get("reply_markup"))
        if p.get("reply_markup"):
            content["reply_markup"] = p["reply_markup"]
        if thread_id is not None:
            content["message_thread_id"] = thread_id
            content["is_topic_message"] = True
        if (reply := self._reply_to(chat, p)) is not None:
            content["reply_to_message"] = reply
        return self._new_message(chat.id, self.bot.to_dict(), content)

    def api_sendMessage(self, p: Params) -> JSONDict:
        self._check_sendable(p)
        text, entities = render_text(
            p.get("text"), p.get("parse_mode"), p.get("entities"), limit=MAX_TEXT
        )
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(p, content)

    def _caption(self, p: Params) -> JSONDict:
        if p.get("caption") is None:
            return {}
        caption, entities = render_text(
            p.get("caption"),
            p.get("parse_mode"),
            p.get("caption_entities"),
            limit=MAX_CAPTION,
            what="caption",
        )
        content: JSONDict = {"caption": caption} if caption else {}
        if entities:
            content["caption_entities"] = entities
        return content

    def _file_param(self, p: Params, name: str, folder: str) -> tuple[str, int]:
        value = p.get(name)
        if isinstance(value, UploadedFile):
            file_id = self.add_file(value.data, folder, os.path.splitext(value.filename or "")[1])
            return file_id, len(value.data)
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"Bad Request: there is no {name} in the request")
        self._ensure_file(value, folder, "")
        return value, len(self._files[value][0])

    def api_sendPhoto(self, p: Params) -> JSONDict:
        self._check_sendable(p)
        caption = self._caption(p)
        file_id, _ = self._file_param(p, "photo", "photos")
        return self._send(p, {"photo": _photo_sizes(file_id), **caption})

    def api_sendDocument(self, p: Params) -> JSONDict:
        self._check_sendable(p)
        caption = self._caption(p)
        file_id, size = self._file_param(p, "document", "documents")
        upload = p.get("document")
        name = upload.filename if isinstance(upload, UploadedFile) else None
        document: JSONDict = {"file_id": file_id, "file_unique_id": f"u{file_id}"}
        document["file_size"] = size
        if name:
            document["file_name"] = name
        return self._send(p, {"document": document, **caption})

    def api_sendChatAction(self, p: Params) -> bool:
        self._check_sendable(p)
        return True

    def api_copyMessage(self, p: Params) -> JSONDict:
        self._chat(p.get("from_chat_id"))
        source = self._stored(
            p.get("from_chat_id"), p.get("message_id"), "message to copy not found"
        )
        if "forum_topic_created" in source:
            raise ApiError(400, "Bad Request: message can't be copied")
        copied_keys = ("text", "entities", "photo", "document", "sticker", "voice", "caption")
        content = {k: copy.deepcopy(source[k]) for k in copied_keys if k in source}
        if "caption" in p:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption(p))
        message = self._send(p, content)
        return {"message_id": message["message_id"]}

    def _editable(self, p: Params) -> JSONDict:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        self._chat(p.get("chat_id"))
        stored = self._stored(p.get("chat_id"), p.get("message_id"), "message to edit not found")
        if stored["from"]["id"] != self.bot.id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return stored

    def api_editMessageText(self, p: Params) -> JSONDict:
        stored = self._editable(p)
        if "text" not in stored:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = render_text(
            p.get("text"), p.get("parse_mode"), p.get("entities"), limit=MAX_TEXT
        )
        markup = p.get("reply_markup")
        self._check_markup(markup)
        if (text, entities, markup) == (
            stored["text"],
            stored.get("entities", []),
            stored.get("reply_markup"),
        ):
            raise ApiError(400, NOT_MODIFIED)
        stored["text"] = text
        stored.pop("entities", None)
        if entities:
            stored["entities"] = entities
        stored.pop("reply_markup", None)
        if markup:
            stored["reply_markup"] = markup
        stored["edit_date"] = int(time.time())
        return stored

    def api_editMessageReplyMarkup(self, p: Params) -> JSONDict:
        stored = self._editable(p)
        markup = p.get("reply_markup") or None
        self._check_markup(markup)
        if markup == stored.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        stored.pop("reply_markup", None)
        if markup:
            stored["reply_markup"] = markup
        stored["edit_date"] = int(time.time())
        return stored

    def api_deleteMessage(self, p: Params) -> bool:
        self._chat(p.get("chat_id"))
        self._stored(p.get("chat_id"), p.get("message_id"), "message to delete not found")
        self._deleted.add((p["chat_id"], p["message_id"]))
        return True

    def api_answerCallbackQuery(self, p: Params) -> bool:
        query_id = str(p.get("callback_query_id", ""))
        if query_id not in self._open_callbacks:
            raise ApiError(400, QUERY_INVALID)
        if len(str(p.get("text") or "")) > MAX_CALLBACK_ANSWER:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        return True

    # ----- chats

    def api_getChat(self, p: Params) -> JSONDict:
        chat = self._chat(p.get("chat_id"))
        info = {
            **chat.to_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat.type == "supergroup":
            info["is_forum"] = chat.is_forum
        return info

    def _member(self, chat: FakeChat, user_id: int) -> JSONDict:
        if user_id == self.bot.id:
            changed = self._bot_member.get(chat.id, {})
            if changed.get("status", "administrator") != "administrator":
                return {"status": changed["status"], "user": self.bot.to_dict()}
            return {**self._full_admin(self.bot.to_dict()), **changed}
        known = self._users.get(user_id)
        user = known.to_dict() if known else {"id": user_id, "is_bot": False, "first_name": "User"}
        if chat.type == "private":
            status = "member" if user_id == chat.id else "left"
        elif user_id in self._admins.get(chat.id, set()):
            return {**self._full_admin(user), "can_be_edited": True}
        elif user_id in self._members.get(chat.id, set()):
            status = "member"
        else:
            status = "left"
        return {"status": status, "user": user}

    @staticmethod
    def _full_admin(user: JSONDict) -> JSONDict:
        return {
            "status": "administrator",
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": True,
            "can_restrict_members": True,
            "can_promote_members": False,
            "can_change_info": True,
            "can_invite_users": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
            "can_pin_messages": True,
            "can_manage_topics": True,
        }

    def api_getChatMember(self, p: Params) -> JSONDict:
        chat = self._chat(p.get("chat_id"))
        user_id = p.get("user_id")
        if not isinstance(user_id, int):
            raise ApiError(400, "Bad Request: invalid user_id specified")
        return self._member(chat, user_id)

    def api_getChatAdministrators(self, p: Params) -> list[JSONDict]:
        chat = self._chat(p.get("chat_id"))
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = [self.bot.id, *sorted(self._admins.get(chat.id, set()))]
        return [self._member(chat, user_id) for user_id in ids]

    # ----- forum topics

    def _forum(self, p: Params) -> FakeChat:
        chat = self._chat(p.get("chat_id"))
        if not chat.is_forum:
            raise ApiError(400, NOT_A_FORUM)
        return chat

    def _topic_key(self, p: Params) -> tuple[int, int]:
        chat = self._forum(p)
        thread_id = p.get("message_thread_id")
        if not isinstance(thread_id, int) or (chat.id, thread_id) not in self._topics:
            raise ApiError(400, TOPIC_INVALID)
        return chat.id, thread_id

    @staticmethod
    def _check_topic_name(name: Any) -> str:
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_TOPIC_NAME:
            raise ApiError(
                400, "Bad Request: TOPIC_NAME_INVALID" if name else "Bad Request: name is empty"
            )
        return name

    def api_createForumTopic(self, p: Params) -> JSONDict:
        chat = self._forum(p)
        name = self._check_topic_name(p.get("name"))
        color = p.get("icon_color", DEFAULT_TOPIC_COLOR)
        emoji_id = p.get("icon_custom_emoji_id")
        return self._create_topic(chat.id, name, color, emoji_id, self.bot.to_dict())

    def api_closeForumTopic(self, p: Params) -> bool:
        key = self._topic_key(p)
        if key in self._closed_topics:
            raise ApiError(400, TOPIC_NOT_MODIFIED)
        self._closed_topics.add(key)
        return True

    def api_reopenForumTopic(self, p: Params) -> bool:
        key = self._topic_key(p)
        if key not in self._closed_topics:
            raise ApiError(400, TOPIC_NOT_MODIFIED)
        self._closed_topics.discard(key)
        return True

    def api_editForumTopic(self, p: Params) -> bool:
        key = self._topic_key(p)
        topic = self._topics[key]
        changes: JSONDict = {}
        if p.get("name") is not None:
            changes["name"] = self._check_topic_name(p["name"])
        if p.get("icon_custom_emoji_id") is not None:
            changes["icon_custom_emoji_id"] = p["icon_custom_emoji_id"]
        if all(topic.get(k) == v for k, v in changes.items()):
            raise ApiError(400, TOPIC_NOT_MODIFIED)
        topic.update(changes)
        return True

    # ----- files

    def api_getFile(self, p: Params) -> JSONDict:
        file_id = p.get("file_id")
        if file_id not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        content, file_path = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "file_path": file_path,
        }


def _photo_sizes(file_id: str) -> list[JSONDict]:
    return [
        {"file_id": f"{file_id}-s", "file_unique_id": f"u{file_id}-s", "width": 90, "height": 67},
        {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 1280, "height": 960},
    ]


__all__ = [
    "FLOOD_COUNTED_METHODS",
    "ApiError",
    "FakeBotApi",
    "FakeChat",
    "FakeUser",
    "FloodLimits",
    "RecordedCall",
    "UploadedFile",
    "parse_html",
    "post_update",
    "render_text",
]
