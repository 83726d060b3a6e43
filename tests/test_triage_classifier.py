"""Triage: which support tier a request needs, and why."""

from __future__ import annotations

import pytest

from bot.content.model import Content, Entry, Lang, Tier
from bot.matching.decision import Thresholds
from bot.matching.engine import MatchingEngine
from bot.triage.classifier import Classifier, Verdict


def entry(id_: str, title: str, tier: Tier, *questions: str) -> Entry:
    """Return a German entry of the given tier."""
    return Entry(
        id=id_,
        title=title,
        lang=Lang.DE,
        url=f"https://wiki.example.com/{id_}",
        body=title,
        tier=tier,
        questions=questions,
    )


CONTENT = Content(
    (
        entry(
            "server-firewall-ausgesperrt",
            "Durch eigene Firewall vom Server ausgesperrt",
            Tier.EXTENDED,
            "Ich habe mich mit iptables selbst ausgesperrt",
            "Nach ufw enable keine SSH-Verbindung mehr",
        ),
        entry(
            "webdesign-anpassen",
            "Layout und Design der eigenen Webseite anpassen lassen",
            Tier.EXTENDED,
            "Könnt ihr das Theme meiner Webseite ändern?",
        ),
        entry(
            "email-stoerung",
            "Störung beim Mailserver: keine E-Mails empfangen",
            Tier.STANDARD,
            "Kommen bei euch gerade keine Mails an?",
        ),
        entry(
            "server-stoerung",
            "Server nicht erreichbar wegen einer Störung bei uns",
            Tier.STANDARD,
            "Gibt es gerade eine Störung im Rechenzentrum?",
        ),
        entry(
            "kc-passwort",
            "Passwort im Kundencenter ändern",
            Tier.STANDARD,
            "Wie ändere ich mein Passwort?",
        ),
        entry(
            "webseite-fehler-500",
            "Webseite zeigt Fehler 500",
            Tier.STANDARD,
            "Meine Homepage zeigt nur Internal Server Error",
        ),
    )
)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """Return a classifier over the small content."""
    return Classifier(MatchingEngine(CONTENT, Thresholds()).matcher)


@pytest.mark.parametrize(
    "message",
    [
        "Ich habe mich mit iptables selbst von meinem Server ausgesperrt",
        "Habe meine Firewall falsch konfiguriert, jetzt komme ich nicht mehr per SSH drauf",
        "I locked myself out of my server with ufw",
    ],
)
def test_self_caused_firewall_lockout_is_extended(classifier: Classifier, message: str) -> None:
    """Locking oneself out with one's own firewall is billed (extended) support."""
    assert classifier.classify(message).verdict is Verdict.EXTENDED


@pytest.mark.parametrize(
    "message",
    [
        "euer Mailserver hat eine Störung",
        "Euer Mailserver hat seit heute morgen eine Störung, es kommen keine Mails an",
        "Your mail server has an outage since this morning",
    ],
)
def test_fault_in_the_hosters_service_is_standard(classifier: Classifier, message: str) -> None:
    """A fault in a service the hoster runs is free (standard) support."""
    assert classifier.classify(message).verdict is Verdict.STANDARD


@pytest.mark.parametrize("message", ["meine Webseite geht nicht", "my website is not working"])
def test_symptom_without_a_cause_is_unclear(classifier: Classifier, message: str) -> None:
    """A symptom that may be the hoster's fault or the customer's own is unclear: ask."""
    assert classifier.classify(message).verdict is Verdict.UNCLEAR


@pytest.mark.parametrize(
    "message",
    [
        "Ich habe mich mit iptables selbst von meinem Server ausgesperrt",
        "euer Mailserver hat eine Störung",
        "meine Webseite geht nicht",
    ],
)
def test_every_verdict_comes_with_reasons(classifier: Classifier, message: str) -> None:
    """Each verdict says why, in non-empty reasons."""
    reasons = classifier.classify(message).reasons
    assert reasons
    assert all(reason.strip() for reason in reasons)


def test_lockout_reason_names_the_cue(classifier: Classifier) -> None:
    """The reasons quote what in the message pointed to the tier."""
    reasons = classifier.classify("Ich habe mich mit iptables selbst ausgesperrt").reasons
    assert any("iptables" in reason or "selbst" in reason for reason in reasons)
