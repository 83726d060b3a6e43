"""The HTTP client under python-telegram-bot: aiohttp instead of PTB's default httpx.

PTB lets a bot bring its own networking backend (`telegram.request.BaseRequest`). Measured
against the fake Bot API of the tests, one `sendMessage` cost about 2.5 ms of CPU through
httpx and about 0.8 ms through aiohttp (`benchmarks/bench_throughput.py`, docs/telegram.md):
for a bot that answers every message, the HTTP client was the largest cost of a reply.

Timeouts keep PTB's meaning: `connect` covers opening a connection, `pool` waiting for a
free one, `read` waiting for each chunk of the answer. aiohttp has no write timeout of its
own, so the whole call is bounded by the sum of the four (when all are finite). Proxies come
from the usual environment variables (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), as with
httpx, read once per host: aiohttp's own `trust_env` reads them and ~/.netrc on every request,
which measured a tenth of the bot's CPU.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# PTB's own encoder of one parameter (JSON for objects, files as uploads); PTB is pinned to
# 22.x in pyproject.toml, and every send of the test suite goes through it.
from telegram.request._requestparameter import RequestParameter

DEFAULT_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0
_JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """Send PTB's Bot API requests over one aiohttp session with a bounded connection pool."""

    __slots__ = ("_connect", "_connections", "_pool", "_proxies", "_read", "_session", "_write")

    def __init__(
        self,
        connections: int,
        *,
        read_timeout: float | None = DEFAULT_TIMEOUT,
        write_timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float | None = DEFAULT_TIMEOUT,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._connections = connections
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """Return the default read timeout (PTB adds it to getUpdates' long-poll timeout)."""
        return self._read

    async def initialize(self) -> None:
        """Open the session (in the running event loop, as aiohttp wants)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(  # noqa: PLR0917 (PTB's signature)
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one request; return the status code and the body (PTB reads the envelope)."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        uploads = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read)
        write = _given(write_timeout, MEDIA_WRITE_TIMEOUT if uploads else self._write)
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        timeout = aiohttp.ClientTimeout(
            total=_sum(connect, pool, write, read),
            connect=_sum(connect, pool),
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method,
                url,
                data=_body(request_data),
                headers=None if uploads or request_data is None else _JSON,
                timeout=timeout,
                proxy=self._proxy(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut(f"Bot API request timed out: {error or type(error).__name__}") from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    def _proxy(self, url: str) -> str | None:
        """Return the proxy the environment names for the URL's host, if any."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxies:
            proxies = urllib.request.getproxies()
            proxy = proxies.get(parts.scheme) or proxies.get("all")
            if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
                proxy = None
            self._proxies[key] = proxy
        return self._proxies[key]


def _body(request_data: RequestData | None) -> aiohttp.FormData | bytes | None:
    """Return the request body: JSON, or a multipart form when files go along.

    JSON is one of the Bot API's four ways to pass parameters; it is encoded in C, where
    the form encoding quoted every byte of a long message in Python.
    """
    if request_data is None:
        return None
    if not request_data.contains_files:
        return request_data.json_payload
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(*parts: float | None) -> float | None:
    """Return the sum of timeouts, or None (no limit) if any part has none."""
    total = 0.0
    for part in parts:
        if part is None:
            return None
        total += part
    return total


async def call(bot: Bot, method: str, parameters: Mapping[str, object]) -> Any:
    """Call a Bot API method with JSON-ready parameters; return its raw `result`.

    Like PTB's own methods (errors become the same TelegramError subclasses: RetryAfter,
    Forbidden, BadRequest...), without the objects on either side: the hot path sends
    plain dicts and reads one field of the answer, where `Bot.send_message` built
    keyboard objects, inserted defaults and parsed a whole `Message` (a quarter of the
    bot's CPU per reply, measured). None values are left out, as PTB does.
    """
    data = RequestData(
        [
            RequestParameter.from_input(key, value)
            for key, value in parameters.items()
            if value is not None
        ]
    )
    return await bot.request.post(f"{bot.base_url}/{method}", request_data=data)
