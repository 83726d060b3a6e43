"""Optional sinks that copy ticket events to an existing helpdesk: by e-mail or by webhook.

Each sink has one method, `deliver(event, key)`, and raises SinkError when a delivery fails,
saying whether trying again later may succeed. The outbox that calls them owns the retries;
`key` is the event's idempotency key and stays the same on every retry, so a helpdesk can
drop a copy it already has: the e-mail sink derives the Message-ID from it, the webhook sink
sends it as the body's "id" and the X-Triagebot-Delivery header.

Receiving the webhook: read the raw body (before parsing JSON) and the headers
X-Triagebot-Timestamp and X-Triagebot-Signature, and accept the request only when
`verify_signature(secret, timestamp, body, signature, now=time.time())` is true. The
signature is `sha256=` + hex HMAC-SHA256 with the shared secret over
`f"{timestamp}.".encode() + body`; the timestamp is the time of sending (fresh on each retry),
and a request more than five minutes off is refused, so a captured request cannot be replayed
later. Deduplicate on the body's "id": a retry after a lost answer sends the same id again.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import hashlib
import hmac
import json
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import HeaderRegistry, MessageIDHeader
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiosmtplib
import httpx

KINDS = (
    "ticket_opened",
    "customer_message",
    "agent_reply",
    "ticket_update",
    "ticket_closed",
    "ticket_reopened",
)
MIN_SECRET_LENGTH = 16
SIGNATURE_TOLERANCE = 300  # seconds a webhook timestamp may be off: the replay window


@dataclass(frozen=True, slots=True)
class SinkEvent:
    """One thing that happened to a ticket, in the form every sink can deliver."""

    kind: str  # one of KINDS
    ticket_number: int
    subject: str  # one line: "Ticket 1001 · extended · Anna: Ich habe mich … ausgesperrt"
    text: str  # plain-text body: the card and transcript when opened, else the message
    data: dict[str, Any] = field(hash=False)  # JSON-able facts for the webhook
    occurred_at: datetime  # aware; kept in UTC

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown sink event kind {self.kind!r} (known: {', '.join(KINDS)})")
        if isinstance(self.ticket_number, bool) or not isinstance(self.ticket_number, int):
            raise ValueError(f"ticket_number must be a whole number, not {self.ticket_number!r}")
        if self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))

    def to_json(self) -> dict[str, Any]:
        """Return the event as a JSON-able object, for the outbox to store."""
        return {
            "kind": self.kind,
            "ticket_number": self.ticket_number,
            "subject": self.subject,
            "text": self.text,
            "data": dict(self.data),
            "occurred_at": self.occurred_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SinkEvent:
        """Read an event back from `to_json`'s form; raise ValueError when it is malformed."""
        try:
            kind, number = data["kind"], data["ticket_number"]
            subject, text, facts = data["subject"], data["text"], data["data"]
            occurred_at = data["occurred_at"]
        except KeyError as missing:
            raise ValueError(f"sink event lacks {missing}") from None
        if not (isinstance(subject, str) and isinstance(text, str) and isinstance(kind, str)):
            raise ValueError("sink event kind, subject and text must be strings")
        if not isinstance(facts, dict) or not isinstance(occurred_at, str):
            raise ValueError("sink event data must be an object and occurred_at a string")
        return cls(kind, number, subject, text, dict(facts), datetime.fromisoformat(occurred_at))


class SinkError(Exception):
    """A delivery failed; `retry` says whether trying again later may succeed."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Sink(Protocol):
    """Something that copies ticket events elsewhere; the outbox calls it with retries."""

    name: str

    async def deliver(self, event: SinkEvent, key: str) -> None:
        """Deliver one event; `key` is its stable idempotency key (same on every retry)."""


CLOSE_WAIT = 2.0  # seconds to let a closed SMTP connection finish (a TLS shutdown)


async def _closed(protocol: Any) -> None:
    """Wait until a closed SMTP connection is really gone (its socket released).

    Closing a TLS connection takes a shutdown exchange with the server; until it ends, the
    socket stays open.
    """
    if protocol is None:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_WAIT):
            while protocol.transport is not None:
                await asyncio.sleep(0.005)


def _certificate_rejected(error: BaseException) -> bool:
    """Return whether an error was caused by a TLS certificate that failed verification."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# ----------------------------------------------------------------------------- e-mail


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings:
    """How to reach the helpdesk's mailbox (config `[email]`)."""

    host: str
    port: int = 587
    sender: str  # the From address, e.g. "Triagebot <triagebot@example.com>"
    recipients: tuple[str, ...]
    username: str = ""  # log in when set
    password: str = ""
    starttls: bool = True  # upgrade a plain connection (port 587)
    tls: bool = False  # TLS from the first byte (port 465)
    timeout: float = 30.0  # seconds for connecting and for each SMTP command
    cafile: str = ""  # a PEM file of CAs to trust instead of the system's


def sender_domain(sender: str) -> str:
    """Return the domain of a From address ("Bot <bot@example.com>" gives "example.com")."""
    _, address = parseaddr(sender)
    local, at, domain = address.rpartition("@")
    if not (local and at and re.fullmatch(r"[A-Za-z0-9.-]+", domain) and "." in domain):
        raise ValueError(f"not an e-mail address with a domain: {sender!r}")
    return domain.lower()


_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_MAX_KEY_IN_ID = 64


def thread_id(ticket_number: int, domain: str) -> str:
    """Return the Message-ID of a ticket's first mail, which every later mail refers to."""
    return f"<ticket-{ticket_number}@{domain}>"


def message_id(event: SinkEvent, key: str, domain: str) -> str:
    """Return the event's Message-ID: the same for the same key, so a retry is a duplicate."""
    if event.kind == "ticket_opened":
        return thread_id(event.ticket_number, domain)
    if not (_SAFE_KEY.fullmatch(key) and len(key) <= _MAX_KEY_IN_ID):
        key = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<ticket-{event.ticket_number}-{key}@{domain}>"


def _mail_policy() -> email.policy.EmailPolicy[EmailMessage]:
    # In-Reply-To and References hold message ids; read as unstructured text (the default),
    # a long one would be folded into RFC 2047 encoded words and no longer match.
    # (typeshed does not know MessageIDHeader is a header class, hence the ignores.)
    registry = HeaderRegistry()
    registry.map_to_type("in-reply-to", MessageIDHeader)  # type: ignore[arg-type]
    registry.map_to_type("references", MessageIDHeader)  # type: ignore[arg-type]
    return email.policy.SMTP.clone(header_factory=registry)


_POLICY = _mail_policy()


def build_mail(settings: EmailSettings, event: SinkEvent, key: str) -> EmailMessage:
    """Return the mail for one event: the ticket's first mail, or a reply in its thread."""
    domain = sender_domain(settings.sender)
    subject = " ".join(event.subject.split())
    mail = EmailMessage(policy=_POLICY)
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.recipients)
    mail["Date"] = format_datetime(event.occurred_at)
    mail["Message-ID"] = message_id(event, key, domain)
    if event.kind == "ticket_opened":
        mail["Subject"] = subject
    else:
        mail["Subject"] = f"Re: {subject}"
        mail["In-Reply-To"] = thread_id(event.ticket_number, domain)
        mail["References"] = thread_id(event.ticket_number, domain)
    mail["X-Triagebot-Event"] = event.kind
    mail["X-Triagebot-Ticket"] = str(event.ticket_number)
    mail.set_content(event.text, charset="utf-8", cte="quoted-printable")
    return mail


def _smtp_failure(error: aiosmtplib.SMTPException, host: str) -> SinkError:
    """Classify an SMTP failure: temporary (4xx, network, timeout) or permanent."""
    where = f"e-mail via {host}"
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        refused = "; ".join(
            f"{item.recipient}: {item.code} {item.message}" for item in error.recipients
        )
        return SinkError(
            f"{where}: recipients refused: {refused}", retry=any(c < 500 for c in codes)
        )
    if isinstance(error, aiosmtplib.SMTPResponseException):
        kind = (
            "login failed" if isinstance(error, aiosmtplib.SMTPAuthenticationError) else "refused"
        )
        return SinkError(
            f"{where}: {kind}: {error.code} {error.message}", retry=400 <= error.code < 500
        )
    if _certificate_rejected(error):
        return SinkError(f"{where}: TLS certificate not trusted: {error}", retry=False)
    if isinstance(error, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPConnectError):
        return SinkError(f"{where}: {error}", retry=True)
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        return SinkError(f"{where}: connection lost: {error}", retry=True)
    # What is left is the server lacking something the settings ask for (STARTTLS, AUTH,
    # SMTPUTF8): retrying will not help until someone changes the settings or the server.
    return SinkError(f"{where}: {error}", retry=False)


class EmailSink:
    """Mails each event to the helpdesk, one mail thread per ticket.

    The first mail of a ticket has the Message-ID <ticket-NUMBER@DOMAIN> (DOMAIN from the
    sender address); every later one <ticket-NUMBER-KEY@DOMAIN>, in reply to the first, with
    the subject "Re: " + the ticket's subject. The ids depend only on ticket and key, so a
    retry after a crash sends the same id again and the helpdesk can drop the duplicate.
    """

    name = "email"

    def __init__(self, settings: EmailSettings) -> None:
        if not settings.recipients:
            raise ValueError("EmailSettings.recipients must name at least one address")
        if settings.tls and settings.starttls:
            raise ValueError("EmailSettings: tls and starttls exclude each other")
        sender_domain(settings.sender)
        self.settings = settings

    async def deliver(self, event: SinkEvent, key: str) -> None:
        """Send the event's mail; raise SinkError saying whether a retry may help."""
        settings = self.settings
        mail = build_mail(settings, event, key)
        _, sender = parseaddr(settings.sender)
        recipients = [parseaddr(address)[1] or address for address in settings.recipients]
        # Not aiosmtplib.send: a login refused while it connects leaves its client open.
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            use_tls=settings.tls,
            start_tls=settings.starttls,
            cert_bundle=settings.cafile or None,
            timeout=settings.timeout,
        )
        try:
            try:
                await client.connect()
                if settings.username:
                    await client.login(settings.username, settings.password)
                rejected, _ = await client.sendmail(
                    sender, recipients, mail.as_bytes(policy=_POLICY)
                )
                with contextlib.suppress(aiosmtplib.SMTPException):
                    await client.quit()
            finally:
                protocol = client.protocol
                client.close()
                await _closed(protocol)
        except aiosmtplib.SMTPException as error:
            raise _smtp_failure(error, settings.host) from error
        except OSError as error:  # e.g. a TLS handshake failing outside aiosmtplib's wrapping
            retry = not _certificate_rejected(error)
            raise SinkError(f"e-mail via {settings.host}: {error}", retry=retry) from error
        if rejected:
            # Some recipients have the mail, others refused it. A retry resends it to all, with
            # the same Message-ID, so those that have it can drop it.
            refused = "; ".join(f"{to}: {r.code} {r.message}" for to, r in rejected.items())
            temporary = any(response.code < 500 for response in rejected.values())
            raise SinkError(
                f"e-mail via {settings.host}: some recipients refused: {refused}", retry=temporary
            )


# ----------------------------------------------------------------------------- webhook


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """Where to POST events and the secret to sign them with (config `[webhook]`)."""

    url: str
    secret: str = field(repr=False)
    timeout: float = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the X-Triagebot-Signature value for a body sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    *,
    now: float | datetime,
    tolerance: float = SIGNATURE_TOLERANCE,
) -> bool:
    """Return whether a received webhook is genuine and fresh: the receiver-side check.

    `timestamp` and `signature` are the X-Triagebot-Timestamp and X-Triagebot-Signature
    headers, `body` the raw request body as received, `now` the receiver's clock (unix
    seconds or an aware datetime). A timestamp more than `tolerance` seconds from now is
    refused, so a recorded request cannot be replayed; the comparison is constant-time.

        ok = verify_signature(SECRET, request.headers["X-Triagebot-Timestamp"],
                              await request.read(), request.headers["X-Triagebot-Signature"],
                              now=time.time())
    """
    stamp = str(timestamp).strip()
    if not stamp.isascii() or not stamp.isdigit():
        return False
    current = now.timestamp() if isinstance(now, datetime) else now
    if abs(current - int(stamp)) > tolerance:
        return False
    expected = sign(secret, stamp, body).encode()
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def webhook_body(event: SinkEvent, key: str) -> bytes:
    """Return the compact UTF-8 JSON body the webhook sink posts for an event."""
    payload = {
        "id": key,
        "event": event.kind,
        "ticket": event.ticket_number,
        "subject": event.subject,
        "text": event.text,
        "data": event.data,
        "occurred_at": event.occurred_at.isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


_RETRY_STATUSES = frozenset({408, 425, 429})


class WebhookSink:
    """POSTs each event as signed JSON to the helpdesk's webhook URL."""

    name = "webhook"

    def __init__(self, settings: WebhookSettings) -> None:
        if urlsplit(settings.url).scheme not in ("http", "https"):
            raise ValueError("WebhookSettings.url must be an http:// or https:// address")
        if len(settings.secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"WebhookSettings.secret must be at least {MIN_SECRET_LENGTH} long")
        self.settings = settings
        self._host = urlsplit(settings.url).hostname or settings.url  # errors name no path

    async def deliver(self, event: SinkEvent, key: str) -> None:
        """POST the event; 2xx is done, else raise SinkError saying whether a retry may help."""
        body = webhook_body(event, key)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Triagebot-Event": event.kind,
            "X-Triagebot-Delivery": key,
            "X-Triagebot-Timestamp": timestamp,
            "X-Triagebot-Signature": sign(self.settings.secret, timestamp, body),
        }
        where = f"webhook to {self._host}"
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout) as client:
                response = await client.post(self.settings.url, content=body, headers=headers)
        except httpx.UnsupportedProtocol as error:
            raise SinkError(f"{where}: {error}", retry=False) from error
        except httpx.TransportError as error:  # connect, read, timeouts, broken connections
            retry = not _certificate_rejected(error)
            reason = str(error) or type(error).__name__
            raise SinkError(f"{where}: {reason}", retry=retry) from error
        status = response.status_code
        if 200 <= status < 300:
            return
        retry = status in _RETRY_STATUSES or status >= 500
        raise SinkError(f"{where}: HTTP {status} {response.reason_phrase}".rstrip(), retry=retry)
