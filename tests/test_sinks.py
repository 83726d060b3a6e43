"""Sinks: ticket events mailed to a real SMTP server and posted to a real webhook receiver."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from conftest import free_port

from bot.tickets.sinks import (
    EmailSettings,
    EmailSink,
    Sink,
    SinkError,
    SinkEvent,
    WebhookSettings,
    WebhookSink,
    build_mail,
    verify_signature,
    webhook_body,
)

SUBJECT = "Ticket 1001 · extended · Anna: Ich habe mich mit iptables ausgesperrt"
OPENED = SinkEvent(
    kind="ticket_opened",
    ticket_number=1001,
    subject=SUBJECT,
    text="Ticket 1001 · extended\nKundin: Anna (@anna)\n\nVerlauf:\n> iptables -P INPUT DROP\n",
    data={"ticket": 1001, "tier": "extended", "customer_id": 42, "status": "open", "consent": 7},
    occurred_at=datetime(2026, 6, 15, 8, 0, tzinfo=UTC),
)
REPLY = SinkEvent(
    kind="agent_reply",
    ticket_number=1001,
    subject=SUBJECT,
    text="Hallo Anna, über die Rescue-Konsole kommen Sie wieder hinein. Grüße, Jörg",
    data={"ticket": 1001, "status": "claimed", "agent": "Jörg"},
    occurred_at=datetime(2026, 6, 15, 8, 20, tzinfo=UTC),
)
SENDER = "Triagebot <triagebot@example.com>"
HELPDESK = "support@helpdesk.example"
SECRET = "0123456789abcdef-test-secret"
USER, PASSWORD = "bot", "s3cret-pässword"


def parse(envelope: Envelope) -> EmailMessage:
    """Parse the mail an SMTP server received."""
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def header(message: EmailMessage, name: str) -> str:
    """Return a header's value, unfolded."""
    return " ".join(str(message[name]).split())


# ----------------------------------------------------------------------------- SMTP server


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every mail and can refuse recipients."""

    envelopes: list[Envelope] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        """Accept a recipient unless told to refuse it."""
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Keep the mail."""
        self.envelopes.append(envelope)
        self.sessions.append(session)
        return "250 Message accepted"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """Accept only USER with PASSWORD."""
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    """A running SMTP server on loopback and what it received."""

    inbox: Inbox
    port: int


@pytest.fixture
def smtp() -> Iterator[Server]:
    """Run a plain SMTP server without TLS or login."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield Server(inbox, port)
    controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Make a self-signed certificate for localhost and 127.0.0.1 with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    command += f" -keyout {key} -out {cert} -days 2 -subj /CN=localhost"
    subprocess.run(
        [*command.split(), "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """Return the server side TLS context for the test certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def smtp_starttls(certificate: tuple[Path, Path]) -> Iterator[Server]:
    """Run an SMTP server that insists on STARTTLS and a login."""
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    yield Server(inbox, port)
    controller.stop()


@pytest.fixture
def smtp_tls(certificate: tuple[Path, Path]) -> Iterator[Server]:
    """Run an SMTP server that speaks TLS from the first byte (like port 465)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, ssl_context=server_context(certificate)
    )
    controller.start()
    yield Server(inbox, port)
    controller.stop()


def mail_settings(port: int, **changes: Any) -> EmailSettings:
    """Return settings for a plain loopback server, changed as asked."""
    settings = EmailSettings(
        host="127.0.0.1",
        port=port,
        sender=SENDER,
        recipients=(HELPDESK,),
        starttls=False,
        timeout=5.0,
    )
    return replace(settings, **changes)


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """Listen on a port that accepts connections and never says a word."""

    async def wait_for_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(wait_for_close, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


# ----------------------------------------------------------------------------- e-mail


async def test_opened_then_reply_make_one_mail_thread(smtp: Server) -> None:
    """The opening mail starts the ticket's thread and the reply (and its retry) answer it."""
    sink = EmailSink(mail_settings(smtp.port))
    await sink.deliver(OPENED, "evt-1")
    await sink.deliver(REPLY, "evt-2")
    await sink.deliver(REPLY, "evt-2")  # a retry after a crash: the same Message-ID again
    first, second, again = (parse(envelope) for envelope in smtp.inbox.envelopes)
    assert smtp.inbox.envelopes[0].mail_from == "triagebot@example.com"
    assert smtp.inbox.envelopes[0].rcpt_tos == [HELPDESK]
    assert header(first, "Message-ID") == "<ticket-1001@example.com>"
    assert header(first, "Subject") == SUBJECT
    assert first["In-Reply-To"] is None
    assert first["References"] is None
    assert header(first, "From") == SENDER
    assert header(first, "To") == HELPDESK
    assert first.get_content().replace("\r\n", "\n") == OPENED.text
    assert header(second, "Message-ID") == "<ticket-1001-evt-2@example.com>"
    assert header(second, "In-Reply-To") == "<ticket-1001@example.com>"
    assert header(second, "References") == "<ticket-1001@example.com>"
    assert header(second, "Subject") == f"Re: {SUBJECT}"
    assert second.get_content().replace("\r\n", "\n") == REPLY.text + "\n"
    assert second["Date"].datetime == REPLY.occurred_at
    assert header(again, "Message-ID") == header(second, "Message-ID")


def test_keys_unfit_for_a_message_id_are_hashed_the_same_way_each_time() -> None:
    """A key with spaces or slashes becomes a stable hash inside the Message-ID."""
    settings = mail_settings(25)
    first = build_mail(settings, REPLY, "outbox/42 agent reply")
    again = build_mail(settings, REPLY, "outbox/42 agent reply")
    other = build_mail(settings, REPLY, "outbox/43 agent reply")
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert str(first["Message-ID"]).startswith("<ticket-1001-")
    assert " " not in str(first["Message-ID"])
    assert "/" not in str(first["Message-ID"])


async def test_starttls_and_login(smtp_starttls: Server, certificate: tuple[Path, Path]) -> None:
    """With starttls and a username the mail goes out encrypted and logged in."""
    settings = mail_settings(
        smtp_starttls.port,
        starttls=True,
        username=USER,
        password=PASSWORD,
        cafile=str(certificate[0]),
    )
    await EmailSink(settings).deliver(OPENED, "evt-1")
    [session] = smtp_starttls.inbox.sessions
    assert session.authenticated
    assert session.ssl is not None
    assert header(parse(smtp_starttls.inbox.envelopes[0]), "Subject") == SUBJECT


async def test_implicit_tls(smtp_tls: Server, certificate: tuple[Path, Path]) -> None:
    """With tls = true the connection is encrypted from the first byte."""
    settings = mail_settings(smtp_tls.port, tls=True, cafile=str(certificate[0]))
    await EmailSink(settings).deliver(REPLY, "evt-2")
    assert len(smtp_tls.inbox.envelopes) == 1


# aiosmtplib keeps the plain socket under a STARTTLS session whose login the server refused
# until the garbage collector finds it (about one run in twenty); the sink closes its client
# and waits for the TLS shutdown, the rest is the library's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_wrong_password_is_not_retried(
    smtp_starttls: Server, certificate: tuple[Path, Path]
) -> None:
    """A refused login needs a person to fix the settings."""
    settings = mail_settings(
        smtp_starttls.port,
        starttls=True,
        username=USER,
        password="wrong",
        cafile=str(certificate[0]),
    )
    with pytest.raises(SinkError, match="login failed") as caught:
        await EmailSink(settings).deliver(OPENED, "evt-1")
    assert caught.value.retry is False
    assert not smtp_starttls.inbox.envelopes


async def test_untrusted_certificate_is_not_retried(smtp_starttls: Server) -> None:
    """A server certificate the client does not trust is a setting to fix, not a hiccup."""
    settings = mail_settings(smtp_starttls.port, starttls=True, username=USER, password=PASSWORD)
    with pytest.raises(SinkError, match="certificate") as caught:
        await EmailSink(settings).deliver(OPENED, "evt-1")
    assert caught.value.retry is False


async def test_login_without_starttls_is_not_retried(smtp_starttls: Server) -> None:
    """A server that offers login only after STARTTLS refuses a plain login for good."""
    settings = mail_settings(smtp_starttls.port, username=USER, password=PASSWORD)
    with pytest.raises(SinkError) as caught:
        await EmailSink(settings).deliver(OPENED, "evt-1")
    assert caught.value.retry is False


async def test_smtp_down_is_retried() -> None:
    """A refused connection is temporary: try again later."""
    with pytest.raises(SinkError) as caught:
        await EmailSink(mail_settings(free_port())).deliver(OPENED, "evt-1")
    assert caught.value.retry is True
    assert "127.0.0.1" in str(caught.value)


async def test_smtp_timeout_is_retried(silent_port: int) -> None:
    """A server that never greets times out, and that is temporary."""
    settings = mail_settings(silent_port, timeout=0.2)
    with pytest.raises(SinkError) as caught:
        await EmailSink(settings).deliver(OPENED, "evt-1")
    assert caught.value.retry is True


@pytest.mark.parametrize(
    ("reply", "retry"),
    [
        ("550 5.1.1 Mailbox unavailable", False),
        ("553 5.1.3 Bad destination address", False),
        ("451 4.3.0 Try again later", True),
        ("452 4.2.2 Mailbox full", True),
    ],
)
async def test_refused_recipient(smtp: Server, reply: str, retry: bool) -> None:
    """A 5xx refusal is permanent, a 4xx one temporary."""
    smtp.inbox.refuse[HELPDESK] = reply
    with pytest.raises(SinkError, match=reply[:3]) as caught:
        await EmailSink(mail_settings(smtp.port)).deliver(OPENED, "evt-1")
    assert caught.value.retry is retry
    assert not smtp.inbox.envelopes


async def test_one_of_two_recipients_refused(smtp: Server) -> None:
    """A mail that reached one recipient but not the other still counts as failed."""
    smtp.inbox.refuse["gone@helpdesk.example"] = "550 5.1.1 No such user"
    settings = mail_settings(smtp.port, recipients=(HELPDESK, "gone@helpdesk.example"))
    with pytest.raises(SinkError, match=r"gone@helpdesk\.example") as caught:
        await EmailSink(settings).deliver(OPENED, "evt-1")
    assert caught.value.retry is False
    assert smtp.inbox.envelopes[0].rcpt_tos == [HELPDESK]


def test_email_sink_refuses_contradictory_settings() -> None:
    """TLS and STARTTLS at once, no recipient, or a sender without a domain fail early."""
    with pytest.raises(ValueError, match="tls"):
        EmailSink(mail_settings(25, tls=True, starttls=True))
    with pytest.raises(ValueError, match="recipients"):
        EmailSink(mail_settings(25, recipients=()))
    with pytest.raises(ValueError, match="domain"):
        EmailSink(mail_settings(25, sender="triagebot"))


# ----------------------------------------------------------------------------- webhook


@dataclass
class Request:
    """What the receiver saw of one request."""

    headers: dict[str, str]
    body: bytes
    genuine: bool


@dataclass
class Receiver:
    """A webhook receiver that checks signatures the documented way."""

    status: int = 200
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request; 401 when the signature is wrong, else the set status."""
        body = await request.read()
        genuine = verify_signature(
            SECRET,
            request.headers.get("X-Triagebot-Timestamp", ""),
            body,
            request.headers.get("X-Triagebot-Signature", ""),
            now=time.time(),
        )
        self.requests.append(Request(dict(request.headers), body, genuine))
        return web.Response(status=self.status if genuine else 401)


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


async def test_webhook_posts_signed_json(receiver: Receiver) -> None:
    """The receiver gets the event as compact JSON, signed with the shared secret."""
    await WebhookSink(WebhookSettings(receiver.url, SECRET)).deliver(REPLY, "evt-2")
    [request] = receiver.requests
    assert request.genuine
    assert request.body == webhook_body(REPLY, "evt-2")
    assert request.body.startswith(b'{"id":"evt-2","event":"agent_reply","ticket":1001,"subject"')
    assert "Jörg".encode() in request.body
    assert json.loads(request.body) == {
        "id": "evt-2",
        "event": "agent_reply",
        "ticket": 1001,
        "subject": SUBJECT,
        "text": REPLY.text,
        "data": REPLY.data,
        "occurred_at": "2026-06-15T08:20:00+00:00",
    }
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Triagebot-Event"] == "agent_reply"
    assert request.headers["X-Triagebot-Delivery"] == "evt-2"
    assert abs(int(request.headers["X-Triagebot-Timestamp"]) - time.time()) < 60


async def test_wrong_secret_is_detected(receiver: Receiver) -> None:
    """A request signed with another secret fails the check; the 401 is not retried."""
    sink = WebhookSink(WebhookSettings(receiver.url, "another-secret-of-16+"))
    with pytest.raises(SinkError, match="401") as caught:
        await sink.deliver(OPENED, "evt-1")
    assert caught.value.retry is False
    assert not receiver.requests[0].genuine


async def test_replayed_or_tampered_request_is_rejected(receiver: Receiver) -> None:
    """An old timestamp, a future one, a changed body or a malformed header fail the check."""
    await WebhookSink(WebhookSettings(receiver.url, SECRET)).deliver(OPENED, "evt-1")
    [request] = receiver.requests
    stamp, signature = (
        request.headers["X-Triagebot-Timestamp"],
        request.headers["X-Triagebot-Signature"],
    )
    sent = int(stamp)
    assert signature.startswith("sha256=")
    assert verify_signature(SECRET, stamp, request.body, signature, now=sent + 299)
    assert verify_signature(SECRET, sent, request.body, signature, now=sent - 299)
    assert verify_signature(
        SECRET, stamp, request.body, signature, now=datetime.fromtimestamp(sent, UTC)
    )
    assert not verify_signature(SECRET, stamp, request.body, signature, now=sent + 301)
    assert not verify_signature(SECRET, stamp, request.body, signature, now=sent - 301)
    assert not verify_signature(SECRET, stamp, request.body, signature, now=sent + 61, tolerance=60)
    assert not verify_signature(SECRET, stamp, request.body + b" ", signature, now=sent)
    assert not verify_signature(SECRET, str(sent + 1), request.body, signature, now=sent)
    assert not verify_signature(SECRET, "soon", request.body, signature, now=sent)
    assert not verify_signature(SECRET, stamp, request.body, "sha256=ä", now=sent)
    assert not verify_signature(SECRET, stamp, request.body, "", now=sent)


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (500, True),
        (502, True),
        (503, True),
        (408, True),
        (429, True),
        (400, False),
        (404, False),
        (410, False),
        (422, False),
        (301, False),
    ],
)
async def test_receiver_status_decides_the_retry(
    receiver: Receiver, status: int, retry: bool
) -> None:
    """Server errors, timeouts and rate limits are retried; other refusals are not."""
    receiver.status = status
    with pytest.raises(SinkError, match=str(status)) as caught:
        await WebhookSink(WebhookSettings(receiver.url, SECRET)).deliver(OPENED, "evt-1")
    assert caught.value.retry is retry
    assert "/hook" not in str(caught.value)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_any_2xx_is_done(receiver: Receiver, status: int) -> None:
    """Every 2xx answer counts as delivered."""
    receiver.status = status
    await WebhookSink(WebhookSettings(receiver.url, SECRET)).deliver(OPENED, "evt-1")
    assert len(receiver.requests) == 1


async def test_webhook_connection_refused_is_retried() -> None:
    """A receiver that is down is temporary: try again later."""
    sink = WebhookSink(WebhookSettings(f"http://127.0.0.1:{free_port()}/hook", SECRET))
    with pytest.raises(SinkError) as caught:
        await sink.deliver(OPENED, "evt-1")
    assert caught.value.retry is True


async def test_webhook_timeout_is_retried(silent_port: int) -> None:
    """A receiver that never answers times out, and that is temporary."""
    settings = WebhookSettings(f"http://127.0.0.1:{silent_port}/hook", SECRET, timeout=0.2)
    with pytest.raises(SinkError) as caught:
        await WebhookSink(settings).deliver(OPENED, "evt-1")
    assert caught.value.retry is True


def test_webhook_sink_refuses_weak_settings() -> None:
    """A short secret or a URL that is not http(s) fails early; the secret is not shown."""
    with pytest.raises(ValueError, match="secret"):
        WebhookSink(WebhookSettings("https://example.com/hook", "short"))
    with pytest.raises(ValueError, match="http"):
        WebhookSink(WebhookSettings("ftp://example.com/hook", SECRET))
    assert SECRET not in repr(WebhookSettings("https://example.com/hook", SECRET))


# ----------------------------------------------------------------------------- events


def test_event_json_round_trip() -> None:
    """An event survives to_json, JSON text and from_json unchanged."""
    for event in (OPENED, REPLY):
        assert SinkEvent.from_json(json.loads(json.dumps(event.to_json()))) == event


def test_event_time_is_kept_in_utc() -> None:
    """A time in another zone is stored as the same instant in UTC."""
    berlin = timezone(timedelta(hours=2))
    event = replace(OPENED, occurred_at=datetime(2026, 6, 15, 10, 0, tzinfo=berlin))
    assert event.occurred_at == OPENED.occurred_at
    assert event.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "ticket_exploded"},
        {"occurred_at": "2026-06-15T08:00:00"},
        {"ticket_number": "1001"},
        {"data": []},
        {"text": None},
    ],
)
def test_malformed_event_json_is_refused(changes: dict[str, Any]) -> None:
    """A stored event with an unknown kind, a naive time or wrong types raises ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        SinkEvent.from_json({**OPENED.to_json(), **changes})
    data = OPENED.to_json()
    del data["subject"]
    with pytest.raises(ValueError, match="subject"):
        SinkEvent.from_json(data)


def test_both_sinks_are_sinks() -> None:
    """The e-mail and webhook sinks fit the Sink protocol the outbox calls."""
    sinks: list[Sink] = [
        EmailSink(mail_settings(25)),
        WebhookSink(WebhookSettings("https://example.com/hook", SECRET)),
    ]
    assert [sink.name for sink in sinks] == ["email", "webhook"]
