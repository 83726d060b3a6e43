"""Every message template: renders in both languages, stays in Telegram's HTML subset, escapes."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup

from bot.render import (
    ALLOWED_TAGS,
    LANGUAGES,
    TELEGRAM_LIMIT,
    Renderer,
    RenderError,
    environment,
    html_problems,
    renderers,
    visible_length,
)
from bot.render.environment import TEMPLATES

HOSTILE = "<b>&\"'x"
"""A user-provided value that breaks the message if it is not escaped."""

ESCAPED = "&lt;b&gt;&amp;&#34;&#39;x"

SAMPLE: dict[str, Any] = {
    "agent": HOSTILE,
    "alternatives": [
        {"title": HOSTILE, "url": "https://help.example.com/a?b=1&c=2"},
        {"title": "Zweite Anleitung", "url": "https://help.example.com/b"},
    ],
    "amount": Decimal("75.00"),
    "attachment": "photo",
    "category": HOSTILE,
    "count": 3,
    "consent": {
        "decision": "agree",
        "at": dt.datetime(2026, 11, 30, 8, 1, tzinfo=dt.UTC),
        "rate": Decimal("25.00"),
        "currency": "EUR",
        "increment": 15,
        "template": "cost_notice",
        "version": "0123456789ab",
    },
    "customer": {"id": 4242, "name": HOSTILE, "username": "kunde_42", "language": "de"},
    "customer_name": HOSTILE,
    "customer_ref": HOSTILE,
    "entry_lang": "de",
    "first_response_due": dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC),
    "increment": 15,
    "kept_records": 2,
    "minutes": 40,
    "name": HOSTILE,
    "number": HOSTILE,
    "problems": [f"faq_content/a.md:3: unknown key {HOSTILE}", "faq_content/b.md:1: no id"],
    "open": 4,
    "claimed": 2,
    "waiting": 1,
    "overdue": [1001, 1004],
    "due": dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC),
    "offered": [{"title": HOSTILE, "url": "https://help.example.com/c"}],
    "rate": Decimal("25.00"),
    "request": f"{HOSTILE}\n\nSeit heute früh geht nichts mehr.",
    "sla_due": dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC),
    "status": "claimed",
    "suggestions": [
        {"title": HOSTILE, "url": "https://help.example.com/1"},
        {"title": "Domain umziehen", "url": "https://help.example.com/2"},
        {"title": "E-Mail-Passwort", "url": "https://help.example.com/3"},
    ],
    "summary": f"**Kurz:** {HOSTILE} <script>alert(1)</script>",
    "text": HOSTILE,
    "tickets": [
        {
            "number": HOSTILE,
            "status": "open",
            "tier": "extended",
            "subject": HOSTILE,
            "topic": HOSTILE,
            "opened": dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
        },
        {
            "number": "T-2",
            "status": "closed",
            "tier": "standard",
            "subject": "Mailserver antwortet nicht",
            "topic": "T-2 · standard · Anna",
            "opened": dt.datetime(2026, 11, 3, tzinfo=dt.UTC),
        },
    ],
    "tier": "extended",
    "title": HOSTILE,
    "total": 95,
    "units": 3,
    "url": "https://help.example.com/x?a=1&b=2",
}
"""One sample value for every variable any template uses; add new variables here."""

RENDERERS = renderers()
CASES = [(lang, name) for lang in LANGUAGES for name in RENDERERS[lang].names()]


def sample_for(renderer: Renderer, name: str) -> dict[str, Any]:
    """Return the sample values a template asks for; fail on a variable without a sample."""
    missing = renderer.variables(name) - SAMPLE.keys()
    assert not missing, f"add samples for {sorted(missing)} used by {name}"
    return {key: SAMPLE[key] for key in renderer.variables(name)}


def test_both_languages_have_the_same_templates() -> None:
    """Every message exists in German and in English, and there is at least the spec's set."""
    de, en = (RENDERERS[lang].names() for lang in LANGUAGES)
    assert de == en
    required = {
        "greeting", "help", "answer", "suggest", "abstain", "didnt_help", "ask_tier",
        "cost_notice", "consent_declined", "ask_description",
        "ticket_created", "ticket_message_received", "tickets_list", "ticket_closed_customer",
        "cancel_done", "forget_done", "language_set", "not_private_chat",
        "unsupported_message", "button_expired", "ticket_card", "close_summary",
        "rephrase", "choose_button", "ticket_open", "nothing_to_cancel", "consent_given",
        "tier_lowered", "ticket_reopened_customer", "ticket_withdrawn", "consent_requested",
        "consent_declined_staff", "time_logged", "staff_error", "customer_unreachable",
    }  # fmt: skip
    assert "ask_customer_ref" not in de
    assert required <= set(de)


@pytest.mark.parametrize("name", RENDERERS["de"].names())
def test_both_languages_ask_for_the_same_values(name: str) -> None:
    """A template's German and English versions need exactly the same variables."""
    assert RENDERERS["de"].variables(name) == RENDERERS["en"].variables(name)


@pytest.mark.parametrize(("lang", "name"), CASES)
def test_every_template_renders_within_limits(lang: str, name: str) -> None:
    """Each template renders with samples (StrictUndefined), fits one message, is valid HTML."""
    renderer = RENDERERS[lang]
    rendered = renderer.render(name, **sample_for(renderer, name))
    assert rendered.template == name
    assert rendered.version == renderer.version(name)
    assert rendered.text == rendered.text.strip()
    assert len(rendered.text) <= TELEGRAM_LIMIT
    if rendered.html:
        assert visible_length(rendered.text) <= TELEGRAM_LIMIT
        assert html_problems(rendered.text) == []
        assert "\n\n\n" not in rendered.text
        assert not re.search(r"^ | $", rendered.text, re.MULTILINE), "stray spaces at a line end"
    else:
        assert "<" not in rendered.text.replace(HOSTILE, "")


@pytest.mark.parametrize(("lang", "name"), CASES)
def test_user_values_are_escaped(lang: str, name: str) -> None:
    """A value with markup shows as text: autoescape turns it into entities in HTML messages."""
    renderer = RENDERERS[lang]
    rendered = renderer.render(name, **sample_for(renderer, name))
    if not rendered.html:
        return
    text = rendered.text
    assert HOSTILE not in text
    assert "<script" not in text
    if renderer.variables(name) & {"name", "title", "text", "request", "number", "agent"}:
        assert ESCAPED in text


def test_only_the_allowed_tags_are_known() -> None:
    """The checked subset is exactly the tags the brief allows."""
    expected = {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler",
        "a", "code", "pre", "blockquote",
    }  # fmt: skip
    assert expected == ALLOWED_TAGS


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_missing_value_is_an_error(lang: str) -> None:
    """StrictUndefined: forgetting a value fails loudly instead of sending a gap."""
    with pytest.raises(RenderError, match="summary"):
        RENDERERS[lang].render("answer", title="x", url="https://x.example", entry_lang=lang)


def test_an_unknown_template_is_an_error() -> None:
    """Names are checked: unknown names and paths are refused."""
    renderer = RENDERERS["de"]
    for name in ("nope", "../en/greeting", "_phrases", "greeting.html.j2"):
        with pytest.raises(RenderError, match="no template"):
            renderer.render(name)


def test_a_link_to_an_unsafe_target_is_refused() -> None:
    """A javascript: link never reaches a message."""
    with pytest.raises(RenderError, match="refusing link"):
        RENDERERS["en"].render(
            "answer", title="x", summary="y", url="javascript:alert(1)", entry_lang="en"
        )


def test_an_unknown_status_is_an_error() -> None:
    """Status names come from a table; a status it lacks fails instead of showing nothing."""
    ticket = {**SAMPLE["tickets"][0], "status": "lost"}
    with pytest.raises(RenderError):
        RENDERERS["de"].render("tickets_list", tickets=[ticket])


def test_answer_notes_the_other_language() -> None:
    """An answer from an entry in the other language says so; one in the same language doesn't."""
    values = {"title": "T", "summary": "S", "url": "https://x.example"}
    de = RENDERERS["de"]
    assert "nur auf Englisch" in de.render("answer", entry_lang="en", **values).text
    assert "Englisch" not in de.render("answer", entry_lang="de", **values).text
    en = RENDERERS["en"]
    assert "only available in German" in en.render("answer", entry_lang="de", **values).text
    assert "German" not in en.render("answer", entry_lang="en", **values).text


def test_answer_summary_is_short_plain_text() -> None:
    """The answer shows the summary as escaped plain text of at most 300 characters."""
    values = {"title": "T", "url": "https://x.example", "entry_lang": "de"}
    text = RENDERERS["de"].render("answer", summary="Wort " * 200, **values).text
    paragraph = text.split("\n\n")[1]
    assert len(paragraph) <= 300
    assert paragraph.endswith("…")


@pytest.mark.parametrize(
    ("lang", "increment", "phrase"),
    [
        ("de", 15, "25,00 € pro angefangener Viertelstunde"),
        ("de", 10, "25,00 € pro angefangenen 10 Minuten"),
        ("de", 60, "25,00 € pro angefangener Stunde"),
        ("en", 15, "€25.00 per started quarter hour"),
        ("en", 10, "€25.00 per started 10 minutes"),
        ("en", 60, "€25.00 per started hour"),
    ],
)
def test_cost_notice_states_rate_and_increment(lang: str, increment: int, phrase: str) -> None:
    """The cost notice names the price in the customer's locale per started increment."""
    text = RENDERERS[lang].render("cost_notice", rate=Decimal("25"), increment=increment).text
    assert phrase in text
    assert ("nach der Arbeit" if lang == "de" else "after the work") in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_closing_tells_billed_units_and_amount(lang: str) -> None:
    """Closing an extended ticket shows units and amount; a standard one says it was free."""
    renderer = RENDERERS[lang]
    values = {"number": "T-7", "minutes": 31, "units": 3, "increment": 15}
    money = {"rate": Decimal("25.00"), "amount": Decimal("75.00")}
    extended = renderer.render("ticket_closed_customer", tier="extended", **values, **money).text
    assert ("75,00 €" if lang == "de" else "€75.00") in extended
    assert ("3 Viertelstunden" if lang == "de" else "3 quarter hours") in extended
    standard = renderer.render("ticket_closed_customer", tier="standard", **values, **money).text
    assert "75" not in standard
    summary = renderer.render("close_summary", tier="extended", **values, **money).text
    assert ("75,00 €" if lang == "de" else "€75.00") in summary


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("de", "40 Minuten auf Ticket T-3 erfasst, insgesamt 95 Minuten."),
        ("en", "40 minutes logged on ticket T-3, 95 minutes in total."),
    ],
)
def test_time_logged_states_minutes_and_total(lang: str, expected: str) -> None:
    """Logging time tells staff the minutes just logged and the ticket's total."""
    text = RENDERERS[lang].render("time_logged", number="T-3", minutes=40, total=95).text
    assert text == expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_staff_error_is_one_warning_line(lang: str) -> None:
    """A store error reaches staff as one escaped line after a warning sign."""
    error = "ticket 1001 is closed: reopen it to log time"
    assert RENDERERS[lang].render("staff_error", text=error).text == f"⚠️ {error}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_ask_description_mentions_optional_customer_ref(lang: str) -> None:
    """With no separate step for it, the description prompt asks for number or domain."""
    text = RENDERERS[lang].render("ask_description", tier="standard").text
    assert ("Kundennummer" if lang == "de" else "customer number") in text
    assert ("freiwillig" if lang == "de" else "optional") in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_help_lists_every_command(lang: str) -> None:
    """/help names each command of the menu on its own line, and no other command."""
    renderer = RENDERERS[lang]
    text = renderer.render("help").text
    listed = re.findall(r"^/(\w+) – ", text, re.MULTILINE)
    assert listed == [command.name for command in renderer.commands()]
    assert listed == ["start", "help", "language", "support", "tickets", "cancel", "forget"]


def test_both_languages_have_the_same_labels() -> None:
    """Button keys and commands are the same in both languages, in the same order."""
    de, en = RENDERERS["de"], RENDERERS["en"]
    assert de.button_keys() == en.button_keys()
    assert [c.name for c in de.commands()] == [c.name for c in en.commands()]
    for renderer in (de, en):
        for command in renderer.commands():
            assert 3 <= len(command.description) <= 256


@pytest.mark.parametrize("lang", LANGUAGES)
def test_buttons_are_short_plain_text(lang: str) -> None:
    """Labels are plain text (no escaping), short enough for a button row."""
    renderer = RENDERERS[lang]
    for key in renderer.button_keys():
        label = renderer.button(key, title=HOSTILE + " sehr langer Titel" * 10)
        assert 0 < len(label) <= 64
    assert renderer.button("suggestion", title=HOSTILE) == HOSTILE
    with pytest.raises(RenderError):
        renderer.button("no_such_button")


def test_consent_buttons_put_agree_first_and_say_billed() -> None:
    """The agree label says it is billed; decline is a plain no."""
    assert "kostenpflichtig" in RENDERERS["de"].button("consent_agree")
    assert "billed" in RENDERERS["en"].button("consent_agree")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plain_text_templates_fit_their_limits(lang: str) -> None:
    """Callback answers fit 200 characters; topic names 128 and are not escaped."""
    renderer = RENDERERS[lang]
    assert len(renderer.render("button_expired").text) <= 200
    assert len(renderer.render("not_staff").text) <= 200
    topic = renderer.render(
        "topic_name", number="T-1", tier="extended", customer_name=HOSTILE * 40
    ).text
    assert len(topic) <= 128
    assert topic.startswith("T-1 · ")
    assert '<b>&"' in topic


def test_version_is_a_short_hash_of_the_source(tmp_path: Path) -> None:
    """Same source, same version; any change to a template or what it imports, a new one."""
    shutil.copytree(TEMPLATES, tmp_path, dirs_exist_ok=True)
    shipped = RENDERERS["de"]
    copy = Renderer("de", templates=tmp_path)
    assert copy.version("abstain") == shipped.version("abstain")
    assert re.fullmatch(r"[0-9a-f]{12}", shipped.version("abstain"))
    assert len({shipped.version(name) for name in shipped.names()}) == len(shipped.names())

    source = tmp_path / "de" / "abstain.html.j2"
    source.write_text(source.read_text(encoding="utf-8") + "Neu.\n", encoding="utf-8")
    phrases = tmp_path / "de" / "_phrases.html.j2"
    phrases.write_text(phrases.read_text(encoding="utf-8") + "{# x #}\n", encoding="utf-8")
    changed = Renderer("de", templates=tmp_path)
    assert changed.version("abstain") != shipped.version("abstain")
    assert changed.render("abstain").version == changed.version("abstain")
    assert changed.version("cost_notice") != shipped.version("cost_notice")
    assert changed.version("greeting") == shipped.version("greeting")


def test_templates_run_in_a_sandbox(tmp_path: Path) -> None:
    """Templates cannot reach Python internals or change the values they are given."""
    folder = tmp_path / "en"
    shutil.copytree(TEMPLATES / "en", folder)
    (folder / "probe.html.j2").write_text("{{ value.__class__.__mro__ }}", encoding="utf-8")
    (folder / "mutate.html.j2").write_text("{{ items.append(1) }}", encoding="utf-8")
    renderer = Renderer("en", templates=tmp_path)
    with pytest.raises(RenderError):
        renderer.render("probe", value="x")
    items: list[int] = []
    with pytest.raises(RenderError):
        renderer.render("mutate", items=items)
    assert items == []


def test_a_long_message_splits_into_valid_parts() -> None:
    """A ticket card with a huge request splits into parts that each fit and parse."""
    renderer = RENDERERS["de"]
    values = sample_for(renderer, "ticket_card") | {"request": "Absatz mit Text. " * 600}
    rendered = renderer.render("ticket_card", **values)
    assert visible_length(rendered.text) > TELEGRAM_LIMIT
    parts = rendered.parts()
    assert len(parts) >= 3
    for part in parts:
        assert visible_length(part) <= TELEGRAM_LIMIT
        assert html_problems(part) == []


def test_unknown_language_or_settings_are_refused() -> None:
    """A renderer needs a shipped language, an ISO currency and a real timezone."""
    with pytest.raises(ValueError, match="language"):
        Renderer("fr")
    with pytest.raises(ValueError, match="currency"):
        Renderer("de", currency="euro")
    with pytest.raises(ValueError, match="timezone"):
        Renderer("de", timezone="Mars/Olympus")


def test_templates_use_only_known_files() -> None:
    """Each language folder holds only templates and the labels file."""
    for lang in LANGUAGES:
        for path in (TEMPLATES / lang).iterdir():
            assert path.name == "labels.yaml" or path.name.endswith((".html.j2", ".txt.j2"))


class Shown:
    """An object that prints as its (changing) text: no key, so rendered every time."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def test_labels_are_kept_per_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Labels are kept like messages: per key and values, objects rendered each time, the
    memory bounded."""
    shutil.copytree(TEMPLATES, tmp_path, dirs_exist_ok=True)
    renderer = Renderer("de", templates=tmp_path)
    assert renderer.button("helped") == "👍 Hat geholfen"
    assert renderer.button("helped") == "👍 Hat geholfen"
    assert renderer.button("suggestion", title="Passwort ändern") == "Passwort ändern"
    assert renderer.button("suggestion", title="Domain umziehen") == "Domain umziehen"
    assert renderer.button("suggestion", title="Passwort ändern") == "Passwort ändern"

    shown = Shown("eins")
    assert renderer.button("suggestion", title=shown) == "eins"
    shown.text = "zwei"
    assert renderer.button("suggestion", title=shown) == "zwei"

    monkeypatch.setattr(environment, "RENDERED_KEPT", 3)
    for number in range(10):
        assert renderer.button("suggestion", title=f"Eintrag {number}") == f"Eintrag {number}"
    assert len(renderer._labels) <= 3


def test_rendered_messages_are_kept_per_value_and_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same values give the kept message; values that are equal but print apart (a
    Markup string, True and 1, one instant in two zones) each get their own; values without
    a key (any object) are rendered each time; the memory is bounded."""
    folder = tmp_path / "de"
    shutil.copytree(TEMPLATES / "de", folder)
    (folder / "probe.html.j2").write_text("{{ value }}", encoding="utf-8")
    renderer = Renderer("de", templates=tmp_path)

    first = renderer.render("probe", value="<b>x</b>")
    assert renderer.render("probe", value="<b>x</b>") is first
    assert first.text == "&lt;b&gt;x&lt;/b&gt;"
    assert renderer.render("probe", value=Markup("<b>x</b>")).text == "<b>x</b>"
    assert renderer.render("probe", value=True).text == "True"
    assert renderer.render("probe", value=1).text == "1"
    utc = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    berlin = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert renderer.render("probe", value=utc).text != renderer.render("probe", value=berlin).text
    assert renderer.render("probe", value=[1]).text != renderer.render("probe", value=(1,)).text

    shown = Shown("eins")
    assert renderer.render("probe", value=shown).text == "eins"
    shown.text = "zwei"
    assert renderer.render("probe", value=shown).text == "zwei"

    monkeypatch.setattr(environment, "RENDERED_KEPT", 3)
    for number in range(10):
        assert renderer.render("probe", value=number).text == str(number)
    assert len(renderer._rendered) <= 3
