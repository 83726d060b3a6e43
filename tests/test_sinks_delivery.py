"""The helpdesk sinks in the running bot: tickets mailed and posted through the outbox.

The real bot runs against the fake Bot API with [email] pointing at a local aiosmtpd server
and [webhook] at a local aiohttp receiver. Faults (the SMTP server down, the receiver
answering 500) are recovered by the outbox's retries, fast under a time scale.
"""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import free_port
from fake_bot_api import FakeBotApi
from telegram_harness import ANNA, Running, running_bot

from bot.tickets.outbox import Outbox, OutboxItem
from bot.tickets.sinks import EmailSettings, WebhookSettings, verify_signature

SCALE = 50.0
SENDER = "Triagebot <triagebot@example.com>"
HELPDESK = "support@helpdesk.example"
SECRET = "0123456789abcdef-test-secret"
THREAD = "<ticket-1001@example.com>"
MAIL_FAULT = (
    "Ich möchte mit einem Mitarbeiter sprechen: euer Mailserver nimmt seit heute früh"
    " keine Mails mehr an, bei euch ist wohl eine Störung"
)
FOLLOW_UP = "Fehler 550 beim Senden an gmx.de"


# ----------------------------------------------------------------------------- SMTP


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every mail."""

    mails: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.content, bytes)
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 Message accepted"


class MailServer:
    """An aiosmtpd server on a fixed loopback port that a test starts when it likes."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self) -> EmailSettings:
        return EmailSettings(
            host="127.0.0.1",
            port=self.port,
            sender=SENDER,
            recipients=(HELPDESK,),
            starttls=False,
            timeout=5.0,
        )


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    """An SMTP server, not yet started."""
    server = MailServer()
    yield server
    server.stop()


def header(mail: EmailMessage, name: str) -> str:
    """Return a header's value, unfolded."""
    return " ".join(str(mail[name]).split())


# ----------------------------------------------------------------------------- webhook


@dataclass
class Request:
    """What the receiver saw of one request, and what it answered."""

    headers: dict[str, str]
    body: bytes
    genuine: bool
    status: int


@dataclass
class Receiver:
    """A webhook receiver checking signatures; answers the `statuses` in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        genuine = verify_signature(
            SECRET,
            request.headers.get("X-Triagebot-Timestamp", ""),
            body,
            request.headers.get("X-Triagebot-Signature", ""),
            now=time.time(),
        )
        status = (self.statuses.pop(0) if self.statuses else 200) if genuine else 401
        self.requests.append(Request(dict(request.headers), body, genuine, status))
        return web.Response(status=status)

    def accepted(self) -> list[Request]:
        return [r for r in self.requests if r.status == 200]

    def settings(self) -> WebhookSettings:
        return WebhookSettings(self.url, SECRET, timeout=5.0)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Run an aiohttp webhook receiver on loopback."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hook"
    yield receiver
    await runner.cleanup()


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
async def bot(
    api: FakeBotApi, tmp_path: Path, smtp: MailServer, receiver: Receiver
) -> AsyncIterator[Running]:
    """The bot with both sinks configured (the SMTP server is not started yet)."""
    async with running_bot(
        api, tmp_path, time_scale=SCALE, email=smtp.settings(), webhook=receiver.settings()
    ) as running:
        yield running


def sink_items(bot: Running, sink: str) -> list[OutboxItem]:
    """Return a sink's outbox items, delivered ones too, oldest first."""
    outbox = Outbox(bot.store)
    rows = bot.store.connection.execute(
        "SELECT id FROM outbox WHERE destination LIKE ? ORDER BY id", (f"{sink}:%",)
    ).fetchall()
    return [outbox.item(row[0]) for row in rows]


async def settled(bot: Running, timeout: float = 5.0) -> None:
    """Wait until the outbox has nothing left to deliver."""
    outbox = Outbox(bot.store)
    await bot.api.wait_for(lambda: not outbox.waiting(), timeout)


async def open_ticket(bot: Running) -> None:
    """Report a fault of our service: ticket 1001 at once; wait for its card."""
    bot.api.user_text(ANNA, MAIL_FAULT)
    await bot.staff_post("Mailserver")


def body(request: Request) -> dict[str, Any]:
    """Return a webhook request's JSON body."""
    data: dict[str, Any] = json.loads(request.body)
    return data


# ----------------------------------------------------------------------------- tests


async def test_a_ticket_mails_once_and_posts_once(
    bot: Running, smtp: MailServer, receiver: Receiver
) -> None:
    """A new ticket: one threaded mail, one signed POST; a follow-up: a reply mail, a POST."""
    smtp.start()
    await open_ticket(bot)
    await bot.api.wait_for(lambda: smtp.inbox.mails and receiver.requests)
    bot.api.user_text(ANNA, FOLLOW_UP)
    await bot.staff_post(FOLLOW_UP)
    await bot.api.wait_for(lambda: len(smtp.inbox.mails) >= 2 and len(receiver.requests) >= 2)
    await settled(bot)

    opened, follow_up = smtp.inbox.mails
    assert header(opened, "Message-ID") == THREAD
    assert header(opened, "Subject").startswith("Ticket 1001")
    assert "Mailserver" in opened.get_content()
    assert header(follow_up, "In-Reply-To") == THREAD
    assert header(follow_up, "References") == THREAD
    assert header(follow_up, "Subject") == "Re: " + header(opened, "Subject")
    assert header(follow_up, "Message-ID").startswith("<ticket-1001-outbox-")
    assert FOLLOW_UP in follow_up.get_content()

    assert [r.genuine for r in receiver.requests] == [True, True]
    events = [body(r) for r in receiver.requests]
    assert [e["event"] for e in events] == ["ticket_opened", "customer_message"]
    assert [e["ticket"] for e in events] == [1001, 1001]
    assert [r.headers["X-Triagebot-Delivery"] for r in receiver.requests] == [
        e["id"] for e in events
    ]
    assert len({e["id"] for e in events}) == 2


async def test_mail_waits_for_the_smtp_server_and_arrives_once(
    bot: Running, smtp: MailServer, receiver: Receiver
) -> None:
    """The SMTP server is down when the ticket opens: retried until it is up, then once."""
    await open_ticket(bot)
    (opened,) = sink_items(bot, "email")
    await bot.api.wait_for(lambda: Outbox(bot.store).item(opened.id).attempts >= 2)
    assert smtp.inbox.mails == []
    await bot.api.wait_for(receiver.accepted)  # the webhook does not wait for the mail
    smtp.start()
    await bot.api.wait_for(lambda: smtp.inbox.mails, timeout=5)
    await settled(bot)
    (mail,) = smtp.inbox.mails
    assert header(mail, "Message-ID") == THREAD
    item = Outbox(bot.store).item(opened.id)
    assert item.delivered_at is not None
    assert item.attempts >= 2
    assert item.last_error is None
    # The thread goes on as usual.
    bot.api.user_text(ANNA, FOLLOW_UP)
    await bot.api.wait_for(lambda: len(smtp.inbox.mails) == 2)
    await settled(bot)
    assert header(smtp.inbox.mails[1], "In-Reply-To") == THREAD
    assert len(smtp.inbox.mails) == 2


async def test_a_webhook_refused_twice_is_retried_with_the_same_delivery_id(
    bot: Running, smtp: MailServer, receiver: Receiver
) -> None:
    """500, 500, then 200: the event is accepted once, with one delivery id throughout."""
    smtp.start()
    receiver.statuses = [500, 500]
    await open_ticket(bot)
    await bot.api.wait_for(receiver.accepted)
    await settled(bot)
    assert [r.status for r in receiver.requests] == [500, 500, 200]
    assert all(r.genuine for r in receiver.requests)
    ids = {r.headers["X-Triagebot-Delivery"] for r in receiver.requests}
    assert ids == {body(r)["id"] for r in receiver.requests}
    assert len(ids) == 1
    assert len(smtp.inbox.mails) == 1
    (item,) = sink_items(bot, "webhook")
    assert item.delivered_at is not None
    assert item.attempts == 2
