"""Config: a typed TOML file, and one clear line naming file and key when it is wrong."""

from __future__ import annotations

import tomllib
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import _SCHEMA, Config, ConfigError, load_config
from bot.content.model import Lang
from bot.matching.decision import Thresholds
from bot.tickets.sinks import EmailSettings, WebhookSettings
from bot.tickets.sla import BusinessHours, FirstResponse
from bot.triage.billing import Tariff

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"

VALID = """\
[telegram]
token = "123:abc"
base_url = ""
staff_chat_id = -1001234
mode = "polling"

[content]
path = "faq"

[storage]
database = "bot.sqlite3"

[billing]
currency = "EUR"
rate = "25.00"
increment_minutes = 15

[sla]
timezone = "Europe/Berlin"
business_days = "mon-fri"
business_hours = "08:00-18:00"
holidays_country = "DE"
holidays_subdivision = "BY"
first_response_minutes_standard = 240
first_response_minutes_extended = 480

[matching]
answer_threshold = 0.7
suggest_threshold = 0.25
margin = 0.2
max_suggestions = 2
"""


def write_config(folder: Path, text: str) -> Path:
    """Write a config file into the folder and return its path."""
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    """Load the config, expect a ConfigError, and return its message."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(str(path)), message
    return message


def test_valid_config_is_loaded(tmp_path: Path) -> None:
    """A file using every section loads, and remembers where it came from."""
    path = write_config(tmp_path, VALID)
    config = load_config(path)
    assert config.source == path


def test_thresholds_come_through(tmp_path: Path) -> None:
    """The [matching] keys become the engine's thresholds."""
    config = load_config(write_config(tmp_path, VALID))
    assert config.thresholds == Thresholds(answer=0.7, suggest=0.25, margin=0.2, max_suggestions=2)


def test_integer_thresholds_are_accepted(tmp_path: Path) -> None:
    """A threshold written as a whole number (1 or 0) is a valid number."""
    config = load_config(write_config(tmp_path, "[matching]\nanswer_threshold = 1\nmargin = 0\n"))
    assert config.thresholds.answer == 1.0
    assert config.thresholds.margin == 0.0


def test_missing_keys_take_the_defaults(tmp_path: Path) -> None:
    """An empty file is valid: every key has a default."""
    config = load_config(write_config(tmp_path, ""))
    assert config.thresholds == Thresholds()
    assert config.content_path == tmp_path / "faq_content"


def test_relative_content_path_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    """A relative content path means: next to the config file, not the working directory."""
    folder = tmp_path / "etc"
    folder.mkdir()
    config = load_config(write_config(folder, '[content]\npath = "faq"\n'))
    assert config.content_path == folder / "faq"


def test_absolute_content_path_is_kept(tmp_path: Path) -> None:
    """An absolute content path is used as it is."""
    target = tmp_path / "elsewhere" / "faq"
    config = load_config(write_config(tmp_path, f'[content]\npath = "{target.as_posix()}"\n'))
    assert config.content_path == target


def test_example_config_is_valid() -> None:
    """The shipped config.example.toml loads without error."""
    assert load_config(EXAMPLE).source == EXAMPLE


def test_example_config_documents_the_defaults() -> None:
    """config.example.toml shows each key with its default, so loading it changes nothing."""
    example, defaults = load_config(EXAMPLE), Config()
    assert example.thresholds == defaults.thresholds
    assert example.tariff == defaults.tariff
    assert example.business_hours == defaults.business_hours
    assert example.first_response == defaults.first_response
    assert example.database == EXAMPLE.parent / defaults.database
    assert example.telegram == defaults.telegram
    assert example.staff_language == defaults.staff_language
    assert example.staff_admins == defaults.staff_admins


# Sections config.example.toml ships commented out by design: a copied example must not
# start mailing or posting to example.com. Their keys are checked in the commented block.
OPTIONAL_SECTIONS = ("email", "webhook")


def commented_section(name: str) -> str:
    """Return the example's commented-out [name] section with the leading "# " removed."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"# [{name}]")
    block = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    return "\n".join(block) + "\n"


def test_every_key_is_in_the_example_config() -> None:
    """Each key the loader accepts appears in config.example.toml, in its section."""
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section in OPTIONAL_SECTIONS:
        assert section not in example, section
        example |= tomllib.loads(commented_section(section))
    for section, keys in _SCHEMA.items():
        assert set(example.get(section, {})) == set(keys), section


def test_example_config_has_the_sinks_off() -> None:
    """The shipped example sends no mail and posts no webhook."""
    config = load_config(EXAMPLE)
    assert (config.email, config.webhook) == (None, None)
    assert (Config().email, Config().webhook) == (None, None)


def test_commented_sink_sections_load_once_uncommented(tmp_path: Path) -> None:
    """Removing the "# " from the example's sink sections gives a valid config."""
    text = commented_section("email") + commented_section("webhook")
    config = load_config(write_config(tmp_path, text))
    assert config.email == EmailSettings(
        host="smtp.example.com", sender="triagebot@example.com", recipients=("support@example.com",)
    )
    assert config.webhook == WebhookSettings("https://helpdesk.example.com/hooks/triagebot", "")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[telegram]\nmode = "push"\n', ["[telegram] mode", "polling or webhook"]),
        ("[telegram]\nport = 0\n", ["[telegram] port"]),
        ("[telegram]\nconcurrent_updates = 0\n", ["[telegram] concurrent_updates"]),
        ('[telegram]\nmode = "webhook"\n', ["[telegram] webhook_url", "https://"]),
        ('[telegram]\nsecret_token = "a b"\n', ["[telegram] secret_token"]),
        ('[telegram]\nflood_limits = "no"\n', ["[telegram] flood_limits", "true or false"]),
        ('[staff]\nadmins = ["x"]\n', ["[staff] admins"]),
        ('[staff]\nlanguage = "fr"\n', ["[staff] language", "de or en"]),
    ],
)
def test_bad_telegram_and_staff_keys_name_the_key(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    """Wrong [telegram] and [staff] values stop with one line naming the key."""
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_telegram_and_staff_keys_are_read(tmp_path: Path) -> None:
    """The webhook settings and staff admins come through as typed values."""
    config = load_config(
        write_config(
            tmp_path,
            '[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.com/tg"\n'
            'secret_token = "abc_DEF-1"\nport = 8080\nflood_limits = false\n'
            '[staff]\nadmins = [1, 2]\nlanguage = "en"\n',
        )
    )
    assert config.telegram.mode == "webhook"
    assert config.telegram.port == 8080
    assert config.telegram.flood_limits is False
    assert config.staff_admins == frozenset({1, 2})
    assert config.staff_language is Lang.EN


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[contnet]\npath = "faq"\n', ["[contnet]"]),
        ('[content]\npaht = "faq"\n', ["[content]", "paht"]),
        ("[content]\npath = 3\n", ["[content]", "path"]),
        ('[telegram]\nstaff_chat_id = "-100"\n', ["[telegram]", "staff_chat_id"]),
        ("[telegram]\nstaff_chat_id = true\n", ["[telegram]", "staff_chat_id"]),
        ('[matching]\nanswer_threshold = "0.6"\n', ["[matching]", "answer_threshold"]),
        ("[matching]\nmax_suggestions = 2.5\n", ["[matching]", "max_suggestions"]),
        ("[matching]\nmax_suggestions = 5\n", ["[matching]", "max_suggestions"]),
        ("[matching]\nmargin = 2\n", ["[matching]", "margin"]),
        ('content = "faq"\n', ["[content]"]),
    ],
)
def test_wrong_key_or_value_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    """An unknown section or key, or a value of the wrong type, names the file and the key."""
    message = config_error(write_config(tmp_path, text))
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[matching]\nanswer_threshold = 1.5\n", "answer_threshold"),
        ("[matching]\nsuggest_threshold = 0.9\n", "suggest_threshold"),
    ],
)
def test_threshold_out_of_range_names_its_key(tmp_path: Path, text: str, key: str) -> None:
    """A threshold out of range names the config key the operator has to fix."""
    assert key in config_error(write_config(tmp_path, text))


def test_unknown_key_lists_the_known_keys(tmp_path: Path) -> None:
    """A misspelt key is reported along with the keys that section allows."""
    message = config_error(write_config(tmp_path, '[content]\npaht = "faq"\n'))
    assert "path" in message.split("paht", 1)[1]


def test_missing_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """A config path that does not exist stops with one line naming it."""
    assert "not found" in config_error(tmp_path / "nope.toml")


def test_invalid_toml_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """A syntax error stops with one line naming the file and where the error is."""
    message = config_error(write_config(tmp_path, "[content]\npath = \n"))
    assert "TOML" in message
    assert "line 2" in message


def test_unreadable_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """A file that is not UTF-8 text stops with one line naming it."""
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe[content]\n")
    config_error(path)


def test_storage_billing_and_sla_come_through(tmp_path: Path) -> None:
    """[storage], [billing] and [sla] become the database path, tariff, hours and targets."""
    config = load_config(write_config(tmp_path, VALID))
    assert config.database == tmp_path / "bot.sqlite3"
    assert config.tariff == Tariff("25.00", "EUR", 15)
    assert config.business_hours == BusinessHours(
        "Europe/Berlin", frozenset(range(5)), time(8), time(18), "DE", "BY"
    )
    assert config.first_response == FirstResponse(standard_minutes=240, extended_minutes=480)


def test_defaults_for_storage_billing_and_sla(tmp_path: Path) -> None:
    """An empty file gets the documented defaults; the database lies next to the config."""
    config = load_config(write_config(tmp_path, ""))
    assert config.database == tmp_path / "triagebot.sqlite3"
    assert config.tariff == Tariff("25.00", "EUR", 15)
    assert config.business_hours.weekdays == frozenset(range(5))
    assert (config.business_hours.opens, config.business_hours.closes) == (time(8), time(18))
    assert config.business_hours.holiday_country == "DE"
    assert config.business_hours.holiday_subdivision is None
    assert config.first_response == FirstResponse(240, 480)


def test_relative_database_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    """A relative database path means: next to the config file."""
    folder = tmp_path / "etc"
    folder.mkdir()
    config = load_config(write_config(folder, '[storage]\ndatabase = "data/t.sqlite3"\n'))
    assert config.database == folder / "data" / "t.sqlite3"


def test_absolute_database_is_kept(tmp_path: Path) -> None:
    """An absolute database path is used as it is."""
    target = tmp_path / "var" / "t.sqlite3"
    config = load_config(write_config(tmp_path, f'[storage]\ndatabase = "{target.as_posix()}"\n'))
    assert config.database == target


def test_billing_keys_make_the_tariff(tmp_path: Path) -> None:
    """Rate, currency and increment become an exact Tariff."""
    text = '[billing]\nrate = "30.50"\ncurrency = "CHF"\nincrement_minutes = 10\n'
    tariff = load_config(write_config(tmp_path, text)).tariff
    assert (tariff.rate, tariff.currency, tariff.increment_minutes) == (Decimal("30.50"), "CHF", 10)


@pytest.mark.parametrize(
    ("days", "weekdays"),
    [
        ('"mon-fri"', {0, 1, 2, 3, 4}),
        ('"mon,wed, fri"', {0, 2, 4}),
        ('"mon-wed,sat"', {0, 1, 2, 5}),
        ('"sat-mon"', {5, 6, 0}),
        ('["mon", "tue", "thu"]', {0, 1, 3}),
        ('["Monday", "fri-sun"]', {0, 4, 5, 6}),
        ('"sun"', {6}),
    ],
)
def test_business_days_as_range_list_or_names(
    tmp_path: Path, days: str, weekdays: set[int]
) -> None:
    """business_days takes a range, a comma list, a TOML list, short or full day names."""
    config = load_config(write_config(tmp_path, f"[sla]\nbusiness_days = {days}\n"))
    assert config.business_hours.weekdays == frozenset(weekdays)


def test_business_hours_and_targets(tmp_path: Path) -> None:
    """business_hours sets opening and closing; the first-response minutes per tier."""
    text = (
        '[sla]\nbusiness_hours = "9:30 - 17:15"\nholidays_country = ""\n'
        "first_response_minutes_standard = 60\nfirst_response_minutes_extended = 0\n"
    )
    config = load_config(write_config(tmp_path, text))
    assert (config.business_hours.opens, config.business_hours.closes) == (
        time(9, 30),
        time(17, 15),
    )
    assert config.business_hours.holiday_country is None
    assert config.first_response == FirstResponse(60, 0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[storage]\ndatabase = ""\n', ["[storage]", "database"]),
        ("[storage]\ndatabase = 5\n", ["[storage]", "database"]),
        ('[billing]\nrate = "abc"\n', ["[billing]", "rate"]),
        ('[billing]\nrate = "-1"\n', ["[billing]", "rate"]),
        ("[billing]\nrate = 25.0\n", ["[billing]", "rate"]),
        ('[billing]\ncurrency = "euro"\n', ["[billing]", "currency"]),
        ("[billing]\nincrement_minutes = 0\n", ["[billing]", "increment_minutes"]),
        ('[sla]\ntimezone = "Mars/Olympus"\n', ["[sla]", "timezone"]),
        ('[sla]\nbusiness_days = "mon-fry"\n', ["[sla]", "business_days", "fry"]),
        ('[sla]\nbusiness_days = "mon-tue-wed"\n', ["[sla]", "business_days"]),
        ("[sla]\nbusiness_days = []\n", ["[sla]", "business_days"]),
        ("[sla]\nbusiness_days = [1, 2]\n", ["[sla]", "business_days"]),
        ("[sla]\nbusiness_days = 5\n", ["[sla]", "business_days"]),
        ('[sla]\nbusiness_hours = "8-18"\n', ["[sla]", "business_hours"]),
        ('[sla]\nbusiness_hours = "18:00-08:00"\n', ["[sla]", "business_hours"]),
        ('[sla]\nbusiness_hours = "08:00-25:00"\n', ["[sla]", "business_hours"]),
        ('[sla]\nholidays_country = "XX"\n', ["[sla]", "holidays_country"]),
        ('[sla]\nholidays_subdivision = "ZZ"\n', ["[sla]", "holidays_subdivision"]),
        (
            '[sla]\nholidays_country = ""\nholidays_subdivision = "BY"\n',
            ["[sla]", "holidays_subdivision"],
        ),
        ("[sla]\nfirst_response_minutes_standard = -1\n", ["first_response_minutes_standard"]),
        ('[sla]\nfirst_response_minutes_extended = "8h"\n', ["first_response_minutes_extended"]),
    ],
)
def test_wrong_storage_billing_or_sla_value_names_its_key(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    """A bad database, billing or SLA value stops with one line naming file and key."""
    message = config_error(write_config(tmp_path, text))
    for word in words:
        assert word in message


def test_email_and_webhook_keys_are_read(tmp_path: Path) -> None:
    """Every [email] and [webhook] key comes through; a relative cafile lies next to the file."""
    text = (
        '[email]\nhost = "mail.example.net"\nport = 2525\nsender = "Bot <bot@example.net>"\n'
        'recipients = ["a@example.net", "b@example.net"]\nusername = "bot"\n'
        'password = "pw"\nstarttls = false\ntls = false\ncafile = "ca.pem"\n'
        '[webhook]\nurl = "http://127.0.0.1:9000/hook"\nsecret = "0123456789abcdef"\n'
    )
    config = load_config(write_config(tmp_path, text))
    assert config.email == EmailSettings(
        host="mail.example.net",
        port=2525,
        sender="Bot <bot@example.net>",
        recipients=("a@example.net", "b@example.net"),
        username="bot",
        password="pw",
        starttls=False,
        tls=False,
        cafile=str(tmp_path / "ca.pem"),
    )
    assert config.webhook == WebhookSettings("http://127.0.0.1:9000/hook", "0123456789abcdef")


def test_implicit_tls_defaults_to_port_465_without_starttls(tmp_path: Path) -> None:
    """tls = true alone means port 465 and no STARTTLS."""
    text = '[email]\nhost = "h.example"\nsender = "a@b.example"\nrecipients = ["c@d.example"]\n'
    email = load_config(write_config(tmp_path, text + "tls = true\n")).email
    assert email is not None
    assert (email.port, email.tls, email.starttls) == (465, True, False)


_MAIL = '[email]\nhost = "h.example"\nsender = "a@b.example"\nrecipients = ["c@d.example"]\n'


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[email]\nsender = "a@b.example"\nrecipients = ["c@d.example"]\n', ["[email] host"]),
        ('[email]\nhost = "h"\nrecipients = ["c@d.example"]\n', ["[email] sender"]),
        ('[email]\nhost = "h"\nsender = "a@b.example"\nrecipients = []\n', ["recipients"]),
        (_MAIL.replace('"a@b.example"', '"triagebot"'), ["[email] sender", "address"]),
        (_MAIL.replace('["c@d.example"]', '["support"]'), ["[email] recipients"]),
        (_MAIL.replace('["c@d.example"]', "[1]"), ["[email] recipients"]),
        (_MAIL.replace('["c@d.example"]', '"c@d.example"'), ["[email] recipients"]),
        (_MAIL + "tls = true\nstarttls = true\n", ["[email] tls and starttls"]),
        (_MAIL + "port = 0\n", ["[email] port"]),
        (_MAIL + 'port = "587"\n', ["[email] port", "whole number"]),
        (_MAIL + 'starttls = "yes"\n', ["[email] starttls", "true or false"]),
        (_MAIL + 'password = "pw"\n', ["[email] password", "username"]),
        (_MAIL + 'smtp_host = "x"\n', ["[email] smtp_host"]),
        ('[webhook]\nsecret = "0123456789abcdef"\n', ["[webhook] url"]),
        ('[webhook]\nurl = "ftp://example.com/x"\n', ["[webhook] url", "http(s)"]),
        ('[webhook]\nurl = "example.com/hook"\n', ["[webhook] url"]),
        ('[webhook]\nurl = "https://[::1/hook"\n', ["[webhook] url"]),
        ('[webhook]\nurl = "https://x.example"\nsecret = "short"\n', ["[webhook] secret", "16"]),
        ('[webhook]\nurl = "https://x.example"\nsecret = 1234\n', ["[webhook] secret"]),
    ],
)
def test_wrong_email_or_webhook_value_names_its_key(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    """A bad [email] or [webhook] value stops with one line naming file and key."""
    message = config_error(write_config(tmp_path, text))
    for word in words:
        assert word in message
