"""Typed configuration from one TOML file: the only place that reads settings."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.content.model import Lang
from bot.matching.decision import Thresholds
from bot.tickets.sinks import MIN_SECRET_LENGTH, EmailSettings, WebhookSettings, sender_domain
from bot.tickets.sla import BusinessHours, FirstResponse, Reminders
from bot.triage.billing import Tariff

DEFAULT_DATABASE = Path("triagebot.sqlite3")
DEFAULT_TARIFF = Tariff("25.00", "EUR", 15)
DEFAULT_TIMEZONE = "Europe/Berlin"
DEFAULT_BUSINESS_DAYS = "mon-fri"
DEFAULT_BUSINESS_HOURS = "08:00-18:00"
DEFAULT_HOLIDAYS_COUNTRY = "DE"
DEFAULT_FIRST_RESPONSE = FirstResponse(standard_minutes=240, extended_minutes=480)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line naming file and key."""


def default_business_hours() -> BusinessHours:
    """Return the business hours config.example.toml documents: Mon-Fri 08-18, Berlin, DE."""
    return BusinessHours(
        DEFAULT_TIMEZONE, frozenset(range(5)), time(8), time(18), DEFAULT_HOLIDAYS_COUNTRY
    )


@dataclass(frozen=True, slots=True)
class Telegram:
    """How the bot talks to Telegram (config `[telegram]`); the token may come from the env."""

    token: str = ""
    base_url: str = ""
    staff_chat_id: int = 0
    mode: str = "polling"
    listen: str = "127.0.0.1"
    port: int = 8443
    webhook_url: str = ""
    secret_token: str = ""
    concurrent_updates: int = 8
    workers: int = 1
    flood_limits: bool = True
    staff_chats: tuple[int, ...] = ()
    staff_rate_per_minute: int = 20
    digest_after: int = 5
    routing: Mapping[str, int] = field(default_factory=dict)

    @property
    def all_staff_chats(self) -> tuple[int, ...]:
        """Return every staff group: staff_chat_id first, then staff_chats and routing targets."""
        chats = [self.staff_chat_id, *self.staff_chats, *self.routing.values()]
        return tuple(dict.fromkeys(chat for chat in chats if chat))


@dataclass(frozen=True, slots=True)
class Config:
    """The settings the bot runs with; defaults match config.example.toml."""

    content_path: Path = Path("faq_content")
    thresholds: Thresholds = field(default_factory=Thresholds)
    database: Path = DEFAULT_DATABASE
    tariff: Tariff = DEFAULT_TARIFF
    business_hours: BusinessHours = field(default_factory=default_business_hours)
    first_response: FirstResponse = DEFAULT_FIRST_RESPONSE
    staff_language: Lang = Lang.DE
    staff_admins: frozenset[int] = frozenset()
    telegram: Telegram = field(default_factory=Telegram)
    reminders: Reminders = field(default_factory=Reminders)
    source: Path | None = None
    email: EmailSettings | None = None  # the e-mail sink; None when [email] is absent
    webhook: WebhookSettings | None = None  # the webhook sink; None when [webhook] is absent


# Every section and key the file may hold, with the Python type each value must have.
# Sections of later features are accepted so one file serves every command.
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "telegram": {
        "token": str,
        "base_url": str,
        "staff_chat_id": int,
        "mode": str,
        "listen": str,
        "port": int,
        "webhook_url": str,
        "secret_token": str,
        "concurrent_updates": int,
        "workers": int,
        "flood_limits": bool,
        "staff_chats": list,
        "staff_rate_per_minute": int,
        "digest_after": int,
    },
    "content": {"path": str},
    "staff": {"language": str, "admins": list},
    "storage": {"database": str},
    "billing": {"currency": str, "rate": str, "increment_minutes": int},
    "sla": {
        "timezone": str,
        "business_days": (str, list),
        "business_hours": str,
        "holidays_country": str,
        "holidays_subdivision": str,
        "first_response_minutes_standard": int,
        "first_response_minutes_extended": int,
        "reminder_every_minutes": int,
        "daily_overview": str,
    },
    "matching": {
        "answer_threshold": (float, int),
        "suggest_threshold": (float, int),
        "margin": (float, int),
        "max_suggestions": int,
    },
    "email": {
        "host": str,
        "port": int,
        "sender": str,
        "recipients": list,
        "username": str,
        "password": str,
        "starttls": bool,
        "tls": bool,
        "cafile": str,
    },
    "webhook": {"url": str, "secret": str},
}


_KINDS: dict[type | tuple[type, ...], str] = {
    bool: "true or false",
    str: "a string",
    int: "a whole number",
    (str, list): "a string or a list of strings",
}


def load_config(path: Path) -> Config:
    """Read and validate a TOML config file; raise ConfigError with one clear line."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    _check_schema(raw, path)
    content = raw.get("content", {})
    matching = raw.get("matching", {})
    thresholds = _thresholds(matching, path)
    content_path = _relative_to(path, Path(content.get("path", "faq_content")))
    sla = raw.get("sla", {})
    return Config(
        content_path=content_path,
        thresholds=thresholds,
        database=_database(raw.get("storage", {}), path),
        tariff=_tariff(raw.get("billing", {}), path),
        business_hours=_business_hours(sla, path),
        first_response=_first_response(sla, path),
        staff_language=_staff_language(raw.get("staff", {}), path),
        staff_admins=_admins(raw.get("staff", {}), path),
        telegram=_telegram(raw.get("telegram", {}), raw.get("routing", {}), path),
        reminders=_reminders(sla, path),
        source=path,
        email=_email(raw["email"], path) if "email" in raw else None,
        webhook=_webhook(raw["webhook"], path) if "webhook" in raw else None,
    )


def _staff_language(staff: dict[str, Any], path: Path) -> Lang:
    value = staff.get("language", Lang.DE.value)
    try:
        return Lang(value)
    except ValueError:
        raise ConfigError(f"{path}: [staff] language must be de or en, not {value!r}") from None


def _admins(staff: dict[str, Any], path: Path) -> frozenset[int]:
    admins = staff.get("admins", [])
    if not all(isinstance(item, int) and not isinstance(item, bool) for item in admins):
        raise ConfigError(f"{path}: [staff] admins must list Telegram user ids (whole numbers)")
    return frozenset(admins)


_MODES = ("polling", "webhook")


def _telegram(section: dict[str, Any], routing: dict[str, Any], path: Path) -> Telegram:
    chats = section.get("staff_chats", [])
    if not all(isinstance(chat, int) and not isinstance(chat, bool) for chat in chats):
        raise ConfigError(f"{path}: [telegram] staff_chats must list group ids (whole numbers)")
    for category, chat in routing.items():
        if isinstance(chat, bool) or not isinstance(chat, int):
            raise ConfigError(f"{path}: [routing] {category} must be a staff group id")
    telegram = Telegram(**{**section, "staff_chats": tuple(chats)}, routing=dict(routing))
    if telegram.workers not in (0, 1):
        raise ConfigError(f"{path}: [telegram] workers must be 0 (in the bot's process) or 1")
    if telegram.staff_rate_per_minute < 1:
        raise ConfigError(f"{path}: [telegram] staff_rate_per_minute must be at least 1")
    if telegram.digest_after < 1:
        raise ConfigError(f"{path}: [telegram] digest_after must be at least 1")
    if telegram.mode not in _MODES:
        raise ConfigError(
            f"{path}: [telegram] mode must be polling or webhook, not {telegram.mode!r}"
        )
    if not 0 < telegram.port < 65536:
        raise ConfigError(f"{path}: [telegram] port must be 1..65535, not {telegram.port}")
    if not 1 <= telegram.concurrent_updates <= 256:
        raise ConfigError(f"{path}: [telegram] concurrent_updates must be 1..256")
    if telegram.mode == "webhook" and not telegram.webhook_url.startswith("https://"):
        raise ConfigError(
            f"{path}: [telegram] webhook_url must be the public https:// address in webhook mode"
        )
    if telegram.secret_token and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", telegram.secret_token):
        raise ConfigError(
            f"{path}: [telegram] secret_token may hold only A-Z, a-z, 0-9, _ and -, 1..256 long"
        )
    return telegram


def _relative_to(config_file: Path, value: Path) -> Path:
    """Resolve a relative path against the config file's folder, not the working directory."""
    return value if value.is_absolute() else config_file.parent / value


def _check_schema(raw: dict[str, Any], path: Path) -> None:
    for section, values in raw.items():
        if section == "routing":  # category names are the editors' own: checked when read
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: [routing] must be a table of category = group id")
            continue
        keys = _SCHEMA.get(section)
        if keys is None:
            known = ", ".join(f"[{name}]" for name in _SCHEMA)
            raise ConfigError(f"{path}: unknown section [{section}] (known: {known})")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in values.items():
            expected = keys.get(key)
            if expected is None:
                known = ", ".join(keys)
                raise ConfigError(f"{path}: unknown key [{section}] {key} (known: {known})")
            if (isinstance(value, bool) and expected is not bool) or not isinstance(
                value, expected
            ):
                kind = _KINDS.get(expected, "number")
                raise ConfigError(f"{path}: [{section}] {key} must be {kind}")


def _thresholds(matching: dict[str, Any], path: Path) -> Thresholds:
    defaults = Thresholds()
    values = {
        "answer_threshold": float(matching.get("answer_threshold", defaults.answer)),
        "suggest_threshold": float(matching.get("suggest_threshold", defaults.suggest)),
        "margin": float(matching.get("margin", defaults.margin)),
    }
    for key, value in values.items():
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{path}: [matching] {key} must be between 0 and 1, not {value}")
    if values["suggest_threshold"] > values["answer_threshold"]:
        raise ConfigError(f"{path}: [matching] suggest_threshold must not exceed answer_threshold")
    max_suggestions = int(matching.get("max_suggestions", defaults.max_suggestions))
    if max_suggestions not in (2, 3):
        raise ConfigError(f"{path}: [matching] max_suggestions must be 2 or 3")
    return Thresholds(
        answer=values["answer_threshold"],
        suggest=values["suggest_threshold"],
        margin=values["margin"],
        max_suggestions=max_suggestions,
    )


def _database(storage: dict[str, Any], path: Path) -> Path:
    database = storage.get("database", str(DEFAULT_DATABASE))
    if not database.strip():
        raise ConfigError(f"{path}: [storage] database must name a file")
    return _relative_to(path, Path(database))


def _tariff(billing: dict[str, Any], path: Path) -> Tariff:
    rate = billing.get("rate", str(DEFAULT_TARIFF.rate))
    currency = billing.get("currency", DEFAULT_TARIFF.currency)
    increment = billing.get("increment_minutes", DEFAULT_TARIFF.increment_minutes)
    default = DEFAULT_TARIFF
    # Tariff validates each value; trying one at a time, the others at their defaults,
    # tells which key an error belongs to.
    trials: dict[str, Callable[[], Tariff]] = {
        "rate": lambda: Tariff(rate, default.currency, default.increment_minutes),
        "currency": lambda: Tariff(default.rate, currency, default.increment_minutes),
        "increment_minutes": lambda: Tariff(default.rate, default.currency, increment),
    }
    for key, trial in trials.items():
        try:
            trial()
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{path}: [billing] {key}: {error}") from None
    return Tariff(rate, currency, increment)


def _business_hours(sla: dict[str, Any], path: Path) -> BusinessHours:
    timezone = sla.get("timezone", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f'{path}: [sla] timezone: unknown timezone {timezone!r} (e.g. "Europe/Berlin")'
        ) from None
    weekdays = _business_days(sla.get("business_days", DEFAULT_BUSINESS_DAYS), path)
    opens, closes = _hours(sla.get("business_hours", DEFAULT_BUSINESS_HOURS), path)
    country = sla.get("holidays_country", DEFAULT_HOLIDAYS_COUNTRY).strip().upper() or None
    subdivision = sla.get("holidays_subdivision", "").strip() or None
    try:
        BusinessHours(timezone, weekdays, opens, closes, country)
    except ValueError as error:
        raise ConfigError(f"{path}: [sla] holidays_country: {error}") from None
    try:
        return BusinessHours(timezone, weekdays, opens, closes, country, subdivision)
    except ValueError as error:
        raise ConfigError(f"{path}: [sla] holidays_subdivision: {error}") from None


def _business_days(value: str | list[Any], path: Path) -> frozenset[int]:
    """Read "mon-fri", "mon,wed,fri" or ["mon", "tue"] into weekday numbers (0 = Monday)."""
    parts = value.split(",") if isinstance(value, str) else value
    days: set[int] = set()
    for part in parts:
        if not isinstance(part, str):
            raise ConfigError(f"{path}: [sla] business_days must list day names as strings")
        days.update(_day_range(part, path))
    if not days:
        raise ConfigError(f"{path}: [sla] business_days must name at least one day")
    return frozenset(days)


def _day_range(part: str, path: Path) -> list[int]:
    ends = [_day(name, path) for name in part.split("-")]
    if len(ends) == 1:
        return ends
    if len(ends) != 2:
        raise ConfigError(f"{path}: [sla] business_days: {part.strip()!r} is not a day or a range")
    first, last = ends
    # A range may wrap the week end, e.g. "sat-mon".
    return [(first + offset) % 7 for offset in range((last - first) % 7 + 1)]


def _day(name: str, path: Path) -> int:
    key = name.strip().lower()
    for number, names in enumerate(zip(DAY_NAMES, _FULL_DAY_NAMES, strict=True)):
        if key in names:
            return number
    known = ", ".join(DAY_NAMES)
    raise ConfigError(f"{path}: [sla] business_days: unknown day {name.strip()!r} (use {known})")


_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def _hours(value: str, path: Path) -> tuple[time, time]:
    """Read "08:00-18:00" into opening and closing wall-clock times."""
    match = _HOURS.fullmatch(value)
    problem = f'{path}: [sla] business_hours must be like "08:00-18:00", not {value!r}'
    if match is None:
        raise ConfigError(problem)
    numbers = [int(group) for group in match.groups()]
    try:
        opens, closes = time(numbers[0], numbers[1]), time(numbers[2], numbers[3])
    except ValueError:
        raise ConfigError(problem) from None
    if not opens < closes:
        raise ConfigError(
            f"{path}: [sla] business_hours: opening {opens:%H:%M} is not before"
            f" closing {closes:%H:%M}"
        )
    return opens, closes


def _reminders(sla: dict[str, Any], path: Path) -> Reminders:
    every = sla.get("reminder_every_minutes", Reminders().every_minutes)
    if every < 1:
        raise ConfigError(f"{path}: [sla] reminder_every_minutes must be at least 1")
    overview = sla.get("daily_overview", Reminders().daily_overview.strftime("%H:%M"))
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", overview)
    problem = f'{path}: [sla] daily_overview must be a time like "08:30", not {overview!r}'
    if match is None:
        raise ConfigError(problem)
    try:
        at = time(int(match.group(1)), int(match.group(2)))
    except ValueError:
        raise ConfigError(problem) from None
    return Reminders(every_minutes=every, daily_overview=at)


def _first_response(sla: dict[str, Any], path: Path) -> FirstResponse:
    minutes: dict[str, int] = {}
    for tier, default in (
        ("standard", DEFAULT_FIRST_RESPONSE.standard_minutes),
        ("extended", DEFAULT_FIRST_RESPONSE.extended_minutes),
    ):
        key = f"first_response_minutes_{tier}"
        value = sla.get(key, default)
        if value < 0:
            raise ConfigError(f"{path}: [sla] {key} must not be negative, got {value}")
        minutes[tier] = value
    return FirstResponse(standard_minutes=minutes["standard"], extended_minutes=minutes["extended"])


def _email(section: dict[str, Any], path: Path) -> EmailSettings:
    for key in ("host", "sender", "recipients"):
        if not section.get(key):
            raise ConfigError(f"{path}: [email] {key} is required when [email] is present")
    sender = section["sender"]
    try:
        sender_domain(sender)
    except ValueError:
        raise ConfigError(
            f'{path}: [email] sender must be an address like "triagebot@example.com",'
            f" not {sender!r}"
        ) from None
    recipients = section["recipients"]
    for recipient in recipients:
        if not isinstance(recipient, str) or "@" not in recipient:
            raise ConfigError(f"{path}: [email] recipients must list e-mail addresses")
    tls = section.get("tls", False)
    starttls = section.get("starttls", not tls)
    if tls and starttls:
        raise ConfigError(f"{path}: [email] tls and starttls exclude each other: set one")
    port = section.get("port", 465 if tls else 587)
    if not 0 < port < 65536:
        raise ConfigError(f"{path}: [email] port must be 1..65535, not {port}")
    if section.get("password") and not section.get("username"):
        raise ConfigError(f"{path}: [email] password is set but username is not")
    return EmailSettings(
        host=section["host"],
        port=port,
        sender=sender,
        recipients=tuple(recipients),
        username=section.get("username", ""),
        password=section.get("password", ""),
        starttls=starttls,
        tls=tls,
        cafile=str(_relative_to(path, Path(section["cafile"]))) if section.get("cafile") else "",
    )


def _webhook(section: dict[str, Any], path: Path) -> WebhookSettings:
    url = section.get("url", "")
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        valid = False
    if not valid:
        raise ConfigError(
            f'{path}: [webhook] url must be an http(s) address like "https://example.com/hook"'
        )
    secret = section.get("secret", "")
    # An empty secret may be given by the env TRIAGEBOT_WEBHOOK_SECRET instead.
    if secret and len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{path}: [webhook] secret must be at least {MIN_SECRET_LENGTH} characters long"
        )
    return WebhookSettings(url=url, secret=secret)
