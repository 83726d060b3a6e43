"""What a customer's words ask for: a human, a description, their account, a language."""

from __future__ import annotations

import pytest

from bot.content.model import Lang
from bot.triage.intents import (
    MAX_REFERENCES,
    asks_for_human,
    customer_reference,
    describes_problem,
    language_of_client,
)

ASKS_FOR_HUMAN = [
    "Ich möchte mit einem Mitarbeiter sprechen",
    "kann ich bitte mit nem menschen reden",
    "Mitarbeiter bitte",
    "support",
    "SUPPORT BITTE!",
    "Mensch!",
    "Hilfe von einem Menschen",
    "Ich will einen echten Menschen",
    "Ich brauche einen Menschen",
    "Kann ich mit einer echten Person reden?",
    "Bitte verbinden Sie mich mit einem Techniker",
    "Können Sie mich an einen Mitarbeiter weiterleiten?",
    "Ich will mit jemandem vom Support sprechen",
    "Kann ich den Kundendienst anrufen?",
    "Wie kann ich mit einem Mitarbeiter sprechen?",
    "Ticket erstellen",
    "Könnt ihr bitte ein Ticket aufmachen?",
    "Ich möchte ein Ticket eröffnen",
    "talk to a human please",
    "I want to speak with a real person",
    "can I talk to support",
    "I'd like to chat with someone from your staff",
    "get in touch with an agent",
    "connect me to a human",
    "transfer me to an agent",
    "live agent please",
    "I need a human",
    "open a ticket",
    "Please create a support ticket for me",
    "Hello, how are you? Please open a ticket, my site is down.",
]

MERELY_MENTIONS = [
    "Unterstützt ihr PHP 8.3?",
    "does your server support http/2",
    "Does PHP 8 support enums?",
    "Mein Support-Vertrag läuft aus",
    "Der Support hat mir gestern geholfen, danke",
    "what does support cost",
    "person responsible for billing",
    "Welche Person ist für die Rechnung zuständig?",
    "wie ändere ich mein passwort",
    "Meine Mitarbeiter können keine Mails abrufen",
    "Wie viele Mitarbeiter-Accounts kann ich anlegen?",
    "Ich habe einen Mitarbeiter-Account angelegt, der sich nicht anmelden kann",
    # A question the shipped FAQ lists (email-postfach-anlegen), and its paraphrases.
    "Ich brauche eine zusätzliche Mailadresse für einen Mitarbeiter",
    "Postfach für einen Mitarbeiter erstellen",
    "Kann ich für einen Mitarbeiter einen eigenen Zugang anlegen?",
    "Wie gebe ich einem Kollegen Zugriff auf das Kundencenter?",
    "Die Domain gehört einer Person, die nicht mehr erreichbar ist",
    "Kann ich auf meinem Server ein Ticketsystem installieren?",
    "Is there a ticket system for my own customers?",
    # How to open a ticket is a question the FAQ answers (Kundencenter → Support), in both
    # languages alike; so is a question asked "before I open a ticket".
    "Wie erstelle ich ein Ticket im Kundencenter?",
    "Wie kann ich ein Ticket erstellen?",
    "How do I open a ticket in the customer center?",
    "hi, before I open a ticket: how much do you charge when a technician works on my stuff?",
]


@pytest.mark.parametrize("text", ASKS_FOR_HUMAN)
def test_asks_for_human_recognises_requests_for_a_person(text: str) -> None:
    """A message that asks for a person or a ticket, in German or English, asks for a human."""
    assert asks_for_human(text)


@pytest.mark.parametrize("text", MERELY_MENTIONS)
def test_asks_for_human_ignores_messages_that_merely_mention_people(text: str) -> None:
    """A message that only mentions support, staff, people or tickets asks the bot."""
    assert not asks_for_human(text)


def test_asks_for_human_folds_case_and_umlauts() -> None:
    """Umlauts may be written as ae/oe/ue and letters in any case: the request still counts."""
    assert asks_for_human("ICH MOECHTE EIN TICKET ERÖFFNEN")
    assert asks_for_human("ich möchte ein ticket eroeffnen")


@pytest.mark.parametrize(
    "text",
    [
        "Ich möchte mit einem Mitarbeiter sprechen",
        "Hallo, ich möchte bitte mit einem Mitarbeiter sprechen",
        "Hello, I would like to talk to a human please, thank you very much",
        "support bitte",
        "Mitarbeiter bitte, danke!",
        "Website down",
        "",
    ],
)
def test_describes_problem_rejects_bare_requests_and_politeness(text: str) -> None:
    """A request for a person padded with greetings and politeness describes no problem."""
    assert not describes_problem(text)


@pytest.mark.parametrize(
    "text",
    [
        "Ich möchte mit einem Mitarbeiter sprechen, mein Server startet nicht mehr",
        "talk to a human, my site shows error 500",
        "Mein Server ist down",
        "Seit heute kommen keine Mails mehr an",
    ],
)
def test_describes_problem_accepts_a_stated_problem(text: str) -> None:
    """At least four words with some content, besides the ask for a person, describe it."""
    assert describes_problem(text)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("Kundennummer 12345",), "12345"),
        (("Meine Kundennummer: 12345",), "12345"),
        (("Kd-Nr. K-4711",), "K-4711"),
        (("customer number 998877",), "998877"),
        (("customer id #K-123456",), "K-123456"),
        (("kunden-nr 123", "kundennr. 456"), "123, 456"),
        (("Shop.Example.COM ist down",), "shop.example.com"),
        (("https://www.example.de/kontakt geht nicht",), "www.example.de"),
        (("Kundennummer 12345, Domain example.de",), "12345, example.de"),
        (("sub-domain.example-hoster.de.",), "sub-domain.example-hoster.de"),
    ],
)
def test_customer_reference_finds_numbers_and_domains(
    texts: tuple[str, ...], expected: str
) -> None:
    """Customer numbers keep their spelling; domain names come lowercased, without a dot."""
    assert customer_reference(*texts) == expected


@pytest.mark.parametrize(
    "text",
    [
        "index.php und config.json sind kaputt",
        "wp-config.php.bak liegt noch im Webroot",
        "backup.tar.gz lässt sich nicht entpacken",
        "Das Bild logo.webp und style.scss laden nicht",
        "Version 8.3 ist installiert",
        "Kundennummer 12",
        "",
    ],
)
def test_customer_reference_ignores_file_names_and_short_numbers(text: str) -> None:
    """File names, version numbers and too short customer numbers are no reference."""
    assert customer_reference(text) is None


def test_customer_reference_skips_email_addresses() -> None:
    """An e-mail address is not taken, nor its domain; a domain beside it still is."""
    assert customer_reference("Mails an info@example.de kommen nicht an") is None
    assert customer_reference("info@example.de für shop.example.de") == "shop.example.de"


def test_customer_reference_dedupes_across_texts_and_keeps_three() -> None:
    """Repeats across texts count once (whatever their case) and only the first three stay."""
    assert customer_reference("example.de", "EXAMPLE.de", "Kundennummer 12345", "Kd-Nr. 12345") == (
        "example.de, 12345"
    )
    many = customer_reference("a.de b.de", "c.de d.de e.de")
    assert many == "a.de, b.de, c.de"
    assert many is not None
    assert len(many.split(", ")) == MAX_REFERENCES


def test_customer_reference_without_texts_is_none() -> None:
    """Without any text there is no reference."""
    assert customer_reference() is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("de", Lang.DE),
        ("de-AT", Lang.DE),
        ("DE", Lang.DE),
        ("de_CH", Lang.DE),
        ("en", Lang.EN),
        ("en-US", Lang.EN),
        ("fr", Lang.EN),
        ("pt-br", Lang.EN),
        ("", None),
        (None, None),
    ],
)
def test_language_of_client(code: str | None, expected: Lang | None) -> None:
    """German client settings give German, any other English, no setting none."""
    assert language_of_client(code) is expected
