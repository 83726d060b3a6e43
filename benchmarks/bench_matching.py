"""Benchmark the matching engine on synthetic content: index build, query latency, memory.

    python benchmarks/bench_matching.py [--sizes 1000 10000] [--queries 500] [--seed 1] [--json]

Every size runs in a fresh interpreter (`--one SIZE`), so its peak RSS is its own.
`--one SIZE --profile` also prints the top functions of the build and of the queries.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import itertools
import json
import math
import pstats
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bot.content.model import Content, Entry, Lang, Tier
from bot.matching.decision import Thresholds
from bot.matching.engine import MatchingEngine

WARMUP = 20
# The build is timed this many times and the fastest counts (as timeit does): on a shared
# two-core machine the slower runs measure the neighbours, not the code.
BUILDS = 3
TARGET_SIZE = 10_000
GERMAN_SHARE = 0.7
# Share of all entries that belong to a German/English translation pair.
PAIRED_SHARE = 0.2
EXTENDED_SHARE = 0.15
# Invented words (products, compounds, error codes): real help centres keep coining words,
# so the vocabulary grows with the content instead of saturating. Calibrated so that 10,000
# entries hold about 40,000 distinct content words, what Heaps' law extrapolates from the
# real faq_content (96 entries, 2,584 distinct words).
INVENTED_PER_ENTRY = 8
INVENTED_ZIPF = 0.65
NOUN_ZIPF = 0.8
PROFILE_LINES = 15

# German hosting nouns with their English counterpart; English repeats where German has
# two words for one thing ("Passwort", "Kennwort").
NOUNS = (
    ("Kundencenter", "dashboard"), ("Postfach", "mailbox"), ("Domain", "domain"),
    ("Datenbank", "database"), ("Zertifikat", "certificate"), ("Server", "server"),
    ("Rechnung", "invoice"), ("Weiterleitung", "forwarding"), ("Passwort", "password"),
    ("Kennwort", "password"), ("Benutzername", "username"), ("Kundennummer", "account"),
    ("Vertrag", "contract"), ("Tarif", "plan"), ("Paket", "package"),
    ("Speicherplatz", "storage"), ("Webspace", "webspace"), ("Subdomain", "subdomain"),
    ("Nameserver", "nameserver"), ("Eintrag", "record"), ("Umleitung", "redirect"),
    ("Abwesenheitsnotiz", "autoreply"), ("Spamfilter", "spamfilter"),
    ("Virenscanner", "antivirus"), ("Backup", "backup"), ("Sicherung", "backup"),
    ("Wiederherstellung", "restore"), ("Snapshot", "snapshot"), ("Festplatte", "disk"),
    ("Arbeitsspeicher", "memory"), ("Prozessor", "cpu"), ("Betriebssystem", "system"),
    ("Firewall", "firewall"), ("Port", "port"), ("Zugang", "access"),
    ("Zugangsdaten", "credentials"), ("Benutzer", "user"), ("Unterbenutzer", "subuser"),
    ("Rolle", "role"), ("Berechtigung", "permission"), ("Anmeldung", "login"),
    ("Abmeldung", "logout"), ("Sitzung", "session"), ("Sicherheitscode", "code"),
    ("Authentifizierung", "authentication"), ("Verschlüsselung", "encryption"),
    ("Schlüssel", "key"), ("Signatur", "signature"), ("Adresse", "address"),
    ("Absender", "sender"), ("Empfänger", "recipient"), ("Anhang", "attachment"),
    ("Nachricht", "message"), ("Ordner", "folder"), ("Kalender", "calendar"),
    ("Kontakt", "contact"), ("Verteiler", "distribution"), ("Kontingent", "quota"),
    ("Limit", "limit"), ("Traffic", "traffic"), ("Bandbreite", "bandwidth"),
    ("Ausfall", "outage"), ("Wartung", "maintenance"), ("Störung", "incident"),
    ("Statusseite", "statuspage"), ("Ticket", "ticket"), ("Anfrage", "request"),
    ("Rückruf", "callback"), ("Telefonnummer", "phone"), ("Zahlung", "payment"),
    ("Lastschrift", "debit"), ("Kreditkarte", "card"), ("Bankverbindung", "bank"),
    ("Mahnung", "reminder"), ("Gutschrift", "credit"), ("Rabatt", "discount"),
    ("Preis", "price"), ("Laufzeit", "term"), ("Kündigung", "cancellation"),
    ("Kündigungsfrist", "notice"), ("Umzug", "migration"), ("Transfer", "transfer"),
    ("Authcode", "authcode"), ("Registrar", "registrar"), ("Inhaber", "owner"),
    ("Whois", "whois"), ("Endung", "extension"), ("Verlängerung", "renewal"),
    ("Website", "website"), ("Homepage", "homepage"), ("Baukasten", "builder"),
    ("Vorlage", "template"), ("Bild", "image"), ("Datei", "file"),
    ("Verzeichnis", "directory"), ("Protokoll", "log"), ("Fehlermeldung", "error"),
    ("Fehler", "error"), ("Skript", "script"), ("Cronjob", "cronjob"),
    ("Version", "version"), ("Erweiterung", "addon"), ("Plugin", "plugin"),
    ("Theme", "theme"), ("Shop", "shop"), ("Warenkorb", "cart"),
    ("Bestellung", "order"), ("Produkt", "product"), ("Statistik", "statistics"),
    ("Besucher", "visitor"), ("Suchmaschine", "search"), ("Ladezeit", "speed"),
    ("Cache", "cache"), ("Konfiguration", "configuration"), ("Einstellung", "setting"),
    ("Oberfläche", "interface"), ("Konsole", "console"), ("Terminal", "terminal"),
    ("Zugriff", "access"), ("Verbindung", "connection"), ("Client", "client"),
    ("Programm", "program"), ("Smartphone", "smartphone"), ("Tablet", "tablet"),
    ("Browser", "browser"), ("Cookie", "cookie"), ("Datenschutz", "privacy"),
    ("Impressum", "imprint"), ("Rechnungsadresse", "billing"), ("Firma", "company"),
    ("Ansprechpartner", "contact"), ("Telefon", "phone"), ("Rufnummer", "number"),
    ("Benachrichtigung", "notification"), ("Warnung", "warning"), ("Sperre", "lock"),
    ("Missbrauch", "abuse"), ("Blacklist", "blacklist"), ("Zustellung", "delivery"),
    ("Warteschlange", "queue"), ("Mailserver", "mailserver"), ("Webserver", "webserver"),
    ("Loadbalancer", "loadbalancer"), ("Cluster", "cluster"), ("Container", "container"),
    ("Abbild", "image"), ("Volume", "volume"), ("Netzwerk", "network"),
    ("Adressbereich", "subnet"), ("Uptime", "uptime"), ("Monitoring", "monitoring"),
    ("Schnittstelle", "api"), ("Token", "token"),
)  # fmt: skip
VERBS = (
    ("ändern", "change"), ("einrichten", "set up"), ("löschen", "delete"),
    ("kündigen", "cancel"), ("anlegen", "create"), ("erstellen", "create"),
    ("bearbeiten", "edit"), ("verschieben", "move"), ("umziehen", "migrate"),
    ("übertragen", "transfer"), ("verlängern", "renew"), ("aktivieren", "activate"),
    ("deaktivieren", "deactivate"), ("sperren", "block"), ("entsperren", "unlock"),
    ("zurücksetzen", "reset"), ("wiederherstellen", "restore"),
    ("herunterladen", "download"), ("hochladen", "upload"), ("prüfen", "check"),
    ("finden", "find"), ("verbinden", "connect"), ("freischalten", "enable"),
    ("bestellen", "order"), ("upgraden", "upgrade"), ("erhöhen", "increase"),
    ("verknüpfen", "link"), ("sichern", "back up"), ("installieren", "install"),
    ("aktualisieren", "update"), ("exportieren", "export"), ("importieren", "import"),
    ("konfigurieren", "configure"), ("beantragen", "request"), ("bezahlen", "pay"),
)  # fmt: skip
ADJECTIVES = (
    ("neue", "new"), ("alte", "old"), ("eigene", "own"), ("kostenlose", "free"),
    ("automatische", "automatic"), ("manuelle", "manual"), ("sichere", "secure"),
    ("zusätzliche", "additional"), ("externe", "external"), ("interne", "internal"),
    ("monatliche", "monthly"), ("jährliche", "yearly"), ("dauerhafte", "permanent"),
    ("vorübergehende", "temporary"), ("gesperrte", "locked"),
)  # fmt: skip
CATEGORIES = (
    ("E-Mail", "Email"), ("Domains", "Domains"), ("Server", "Servers"),
    ("Rechnungen", "Billing"), ("Kundencenter", "Customer center"),
    ("Webhosting", "Web hosting"), ("Backup", "Backup"), ("Sicherheit", "Security"),
)  # fmt: skip
SYLLABLES = (
    "ta ko ri ven lux mar tel sen dor vi zen tra nex ion qua bel fin ra mo sta gra "
    "plex cor dia no vo ka lin ter sol um bra fy".split()
)
# Words a customer of a hoster may write that no entry knows.
UNRELATED = {
    Lang.DE: "fritzbox netflix gmail handy laptop drucker whatsapp steuererklärung fahrrad "
    "urlaub playstation fernseher".split(),
    Lang.EN: "iphone spotify printer taxes bike vacation playstation television gmail".split(),
}

TITLES = {
    Lang.DE: (
        "{N1} für {N2} {V}", "{N1} im {N2} {V}", "{A} {N1} {V}", "{N1} und {N2} {V}",
        "{N1} in {P} {V}", "So können Sie {N1} {V}", "{N1} {V}: {N2} und {N3}",
    ),
    Lang.EN: (
        "{V} {N1} for {N2}", "{V} the {N1} in {N2}", "{V} a {A} {N1}", "{V} {N1} and {N2}",
        "How to {V} {N1} in {P}", "{N1}: {V} {N2}",
    ),
}  # fmt: skip
QUESTIONS = {
    Lang.DE: (
        "Wie kann ich {N1} {V}?", "{N1} {V} – wie geht das?", "Wo kann ich {N1} für {N2} {V}?",
        "Kann ich {N1} auch in {P} {V}?", "{N1} lässt sich nicht {V}",
        "Ich möchte {A} {N1} {V}", "Warum kann ich {N1} im {N2} nicht {V}?",
    ),
    Lang.EN: (
        "How do I {V} my {N1}?", "Can I {V} the {N1} for {N2}?", "Where can I {V} {N1}?",
        "The {N1} won't {V}", "I want to {V} my {N1} in {P}", "Why can't I {V} the {N2}?",
    ),
}  # fmt: skip
SUMMARIES = {
    Lang.DE: (
        "Im {N2} unter „{N1}“ können Sie {N1} {V}; die Änderung ist nach wenigen Minuten aktiv.",
        "{N1} lässt sich für {N2} jederzeit {V}, auch in {P}.",
    ),
    Lang.EN: (
        'In the {N2} under "{N1}" you can {V} your {N1}; changes apply within minutes.',
        "You can {V} {N1} for {N2} at any time, also in {P}.",
    ),
}
BODY = {
    Lang.DE: (
        "Öffnen Sie im {N2} den Bereich „{N1}“.",
        "Klicken Sie dort auf „{N1} {V}“ und bestätigen Sie die Änderung.",
        "Beachten Sie, dass eine Änderung an {N1} bis zu {num} Minuten dauern kann.",
        "Wenn {N1} nicht funktioniert, prüfen Sie zuerst {N2} und {N3}.",
        "Für {N1} mit {P} gelten eigene Regeln.",
        "Sie können {N1} jederzeit {V}, auch über {N2}.",
        "Ein Ausfall von {N1} betrifft nicht {N2} oder {N3}.",
        "Im Tarif {P} ist {N1} bereits enthalten; jede weitere {A} {N2} kostet {num} Euro.",
        "Tipp: Notieren Sie sich {N1}, bevor Sie {N2} {V}.",
        "Die Einstellungen für {N1} finden Sie unter {N2} → {N3}.",
        "Bei Fragen zu {N1} hilft Ihnen unser Support per Ticket oder Telefon.",
        "Eine {A} {N1} richten wir auf Wunsch auch für Sie ein.",
        "Nach {num} Tagen wird {N1} automatisch gelöscht, sofern Sie {N2} nicht {V}.",
        "Weitere Hinweise zu {W} finden Sie in unserer Anleitung.",
        "Das gilt auch für {W} und {W}.",
        "Die Option {W} ist nur im Tarif {P} verfügbar.",
        "Hinweis: {W} wird von {N1} nicht unterstützt.",
    ),
    Lang.EN: (
        'Open the "{N1}" section in the {N2}.',
        'Click "{V} {N1}" and confirm the change.',
        "Note that a change to the {N1} can take up to {num} minutes.",
        "If the {N1} does not work, check the {N2} and the {N3} first.",
        "Special rules apply to {N1} with {P}.",
        "You can {V} the {N1} at any time, also through the {N2}.",
        "An outage of the {N1} does not affect the {N2} or the {N3}.",
        "The {P} plan includes the {N1}; each {A} {N2} costs {num} euros.",
        "Tip: write down the {N1} before you {V} the {N2}.",
        "You find the settings for the {N1} under {N2} → {N3}.",
        "Our support team helps with questions about the {N1} by ticket or phone.",
        "On request we set up a {A} {N1} for you.",
        "After {num} days the {N1} is deleted unless you {V} the {N2}.",
        "See our guide for more on {W}.",
        "This also applies to {W} and {W}.",
        "The {W} option is only available in the {P} plan.",
        "Note: the {N1} does not support {W}.",
    ),
}
CUSTOMER = {
    Lang.DE: (
        "wie kann ich {n1} {v}", "{n1} {v} geht nicht", "{n1} im {n2} {v}??",
        "wo kann man {n1} {v}", "ich will {n1} {v}", "{n1} {v} klappt nicht, was tun",
        "kann ich {n1} für {p} {v}", "{n1} {n2} {v}", "warum kann ich {n1} nicht mehr {v}",
    ),
    Lang.EN: (
        "how do i {v} my {n1}", "{n1} {v} not working", "cant {v} {n1} in {n2}",
        "need to {v} the {n1} for {p}", "where do i {v} {n1}", "{v} {n1}?",
        "is it possible to {v} {n1} on the {n2}",
    ),
}  # fmt: skip
FILLERS = {
    Lang.DE: ("hallo ich hab ne frage, ", "moin, ", "Hallo zusammen, ", "guten tag, kurze frage: "),
    Lang.EN: ("hi, quick question: ", "hello, ", "hey there, "),
}
SPELL_OUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
DROP_DOTS = str.maketrans("äöü", "aou")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Term:
    """A word or short phrase in both languages."""

    de: str
    en: str

    def text(self, lang: Lang) -> str:
        """Return the term as written in the given language."""
        return self.de if lang is Lang.DE else self.en


@dataclass(frozen=True, slots=True)
class Words:
    """The vocabulary synthetic content is drawn from, invented words included."""

    nouns: tuple[Term, ...]
    invented: tuple[Term, ...]
    verbs: tuple[Term, ...]
    adjectives: tuple[Term, ...]
    noun_weights: tuple[float, ...]
    invented_weights: tuple[float, ...]

    def noun(self, rng: random.Random) -> Term:
        """Draw a hosting noun, the common ones more often (Zipf)."""
        return rng.choices(self.nouns, cum_weights=self.noun_weights)[0]

    def coined(self, rng: random.Random) -> Term:
        """Draw an invented word, with a long tail of rare ones (Zipf)."""
        return rng.choices(self.invented, cum_weights=self.invented_weights)[0]


@dataclass(frozen=True, slots=True)
class Topic:
    """What one entry (and its translation) is about."""

    nouns: tuple[Term, ...]
    verb: Term
    category: Term
    tier: Tier


@dataclass(frozen=True, slots=True)
class SizeResult:
    """The measurements for one content size."""

    size: int
    german: int
    english: int
    paired: int
    vocabulary: int
    terms: int
    build_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    content_rss_mb: float
    peak_rss_mb: float
    decisions: dict[str, int]


@dataclass(frozen=True, slots=True)
class Target:
    """A performance target checked at TARGET_SIZE entries."""

    label: str
    limit: float
    unit: str
    value: Callable[[SizeResult], float]


TARGETS = (
    Target("p99 latency", 5.0, "ms", lambda r: r.p99_ms),
    Target("index build", 5.0, "s", lambda r: r.build_s),
    Target("peak RSS", 300.0, "MB", lambda r: r.peak_rss_mb),
)


def zipf_cumulative(count: int, exponent: float) -> tuple[float, ...]:
    """Return cumulative Zipf weights for ranks 1..count."""
    return tuple(itertools.accumulate(1.0 / rank**exponent for rank in range(1, count + 1)))


def coin_word(rng: random.Random) -> str:
    """Return a made-up product-like name from random syllables."""
    return "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))).capitalize()


def compound(first: Term, second: Term) -> Term:
    """Join two nouns into a German compound ("Postfachweiterleitung")."""
    link = "s" if first.de.endswith(("ung", "heit", "keit", "ion", "tät")) else ""
    return Term(first.de + link + second.de.lower(), f"{first.en} {second.en}")


def build_words(size: int, rng: random.Random) -> Words:
    """Return the vocabulary for content of `size` entries."""
    nouns = tuple(Term(de, en) for de, en in NOUNS)
    shuffled = list(nouns)
    rng.shuffle(shuffled)
    invented: dict[str, Term] = {}
    while len(invented) < INVENTED_PER_ENTRY * size:
        roll = rng.random()
        if roll < 0.5:
            name = coin_word(rng)
            term = Term(name, name)
        elif roll < 0.9:
            term = compound(*rng.sample(nouns, 2))
        else:
            code = rng.randint(1000, 9999)
            term = Term(f"Fehler {code}", f"error {code}")
        invented.setdefault(term.de, term)
    return Words(
        nouns=tuple(shuffled),
        invented=tuple(invented.values()),
        verbs=tuple(Term(de, en) for de, en in VERBS),
        adjectives=tuple(Term(de, en) for de, en in ADJECTIVES),
        noun_weights=zipf_cumulative(len(shuffled), NOUN_ZIPF),
        invented_weights=zipf_cumulative(len(invented), INVENTED_ZIPF),
    )


def slug(text: str) -> str:
    """Return a lowercase ASCII slug of a title."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower().translate(SPELL_OUT)))[:50]


def typo(word: str, rng: random.Random) -> str:
    """Return the word with one slip: two letters swapped, one missing or one doubled."""
    at = rng.randint(1, len(word) - 2)
    match rng.randrange(3):
        case 0:
            return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        case 1:
            return word[:at] + word[at + 1 :]
        case _:
            return word[:at] + word[at] + word[at:]


def garble(text: str, rng: random.Random) -> str:
    """Make a question look typed in a hurry: typos, umlauts spelled out, lowercase."""
    if rng.random() < 0.6:
        text = text.translate(SPELL_OUT)
    elif rng.random() < 0.3:
        text = text.translate(DROP_DOTS)
    tokens = [
        typo(token, rng) if token.isalpha() and len(token) >= 5 and rng.random() < 0.12 else token
        for token in text.split()
    ]
    text = " ".join(tokens)
    return text.lower() if rng.random() < 0.8 else text


class Writer:
    """Write synthetic entries and customer questions from one vocabulary and one seed."""

    def __init__(self, words: Words, rng: random.Random) -> None:
        self.words = words
        self.rng = rng

    def content(self, size: int) -> list[tuple[Entry, Topic]]:
        """Return `size` entries with their topics, 70 % German, 20 % in translation pairs."""
        rng = self.rng
        pairs = round(size * PAIRED_SHARE / 2)
        german = round(size * GERMAN_SHARE) - pairs
        english = size - 2 * pairs - german
        layout = [Lang.DE] * german + [Lang.EN] * english + [None] * pairs
        rng.shuffle(layout)
        entries: list[tuple[Entry, Topic]] = []
        for lang in layout:
            topic = self.topic()
            if lang is not None:
                entries.append((self.entry(topic, lang, len(entries)), topic))
                continue
            de_id = f"{slug(topic.nouns[0].de)}-{len(entries)}"
            en_id = f"{slug(topic.nouns[0].en)}-{len(entries) + 1}"
            de = self.entry(topic, Lang.DE, len(entries), entry_id=de_id, translation=en_id)
            en = self.entry(topic, Lang.EN, len(entries) + 1, entry_id=en_id, translation=de_id)
            entries += [(de, topic), (en, topic)]
        return entries

    def question(self, content: Sequence[tuple[Entry, Topic]]) -> str:
        """Return a question as a customer would type it, mostly about some entry's topic."""
        rng = self.rng
        entry, topic = rng.choice(content)
        lang = entry.lang if rng.random() < 0.9 else entry.lang.other
        if rng.random() < 0.1:
            unknown = Term(rng.choice(UNRELATED[Lang.DE]), rng.choice(UNRELATED[Lang.EN]))
            topic = dataclasses.replace(topic, nouns=(unknown, *topic.nouns[1:]))
        question = self.fill(rng.choice(CUSTOMER[lang]), topic, lang)
        if rng.random() < 0.15:
            extra = rng.choice(UNRELATED[lang]) if rng.random() < 0.5 else coin_word(rng)
            question = f"{question} {extra.lower()}"
        if rng.random() < 0.3:
            question = rng.choice(FILLERS[lang]) + question
        return garble(question, rng)

    def topic(self) -> Topic:
        """Return a topic: two or three nouns, often with invented words, and a verb."""
        rng, words = self.rng, self.words
        nouns = [words.noun(rng) for _ in range(rng.randint(2, 3))]
        for _ in range(rng.randint(0, 2)):
            nouns.insert(rng.randint(0, len(nouns)), words.coined(rng))
        tier = Tier.EXTENDED if rng.random() < EXTENDED_SHARE else Tier.STANDARD
        category = Term(*rng.choice(CATEGORIES))
        return Topic(tuple(dict.fromkeys(nouns)), rng.choice(words.verbs), category, tier)

    def entry(
        self,
        topic: Topic,
        lang: Lang,
        number: int,
        entry_id: str | None = None,
        translation: str | None = None,
    ) -> Entry:
        """Render one entry of a topic in one language, its id made from the title unless given."""
        rng = self.rng
        title = self.title(topic, lang)
        entry_id = entry_id or f"{slug(title)}-{number}"
        category = topic.category.text(lang)
        wanted = rng.randint(3, 6)
        tags = dict.fromkeys(noun.text(lang).lower() for noun in topic.nouns[:wanted])
        while len(tags) < wanted:
            tags[self.words.noun(rng).text(lang).lower()] = None
        return Entry(
            id=entry_id,
            title=title,
            lang=lang,
            url=f"https://help.example-hoster.de/{lang}/{slug(category)}/{entry_id}",
            body=self.body(topic, lang),
            tier=topic.tier,
            category=category,
            questions=tuple(
                self.fill(rng.choice(QUESTIONS[lang]), topic, lang)
                for _ in range(rng.randint(3, 5))
            ),
            tags=tuple(tags),
            summary=self.fill(rng.choice(SUMMARIES[lang]), topic, lang),
            translation=translation,
            path=f"{slug(category)}/{entry_id}.md",
        )

    def title(self, topic: Topic, lang: Lang) -> str:
        """Return a title of three to six words."""
        while True:
            title = self.fill(self.rng.choice(TITLES[lang]), topic, lang)
            if 3 <= len(title.split()) <= 6:
                return title

    def body(self, topic: Topic, lang: Lang) -> str:
        """Return a body of about 80 to 150 words, in paragraphs of three sentences."""
        target = self.rng.randint(80, 135)
        sentences: list[str] = []
        count = 0
        while count < target:
            sentence = self.fill(self.rng.choice(BODY[lang]), topic, lang)
            sentences.append(sentence)
            count += len(sentence.split())
        paragraphs = (
            " ".join(sentences[start : start + 3]) for start in range(0, len(sentences), 3)
        )
        return "\n\n".join(paragraphs)

    def fill(self, template: str, topic: Topic, lang: Lang) -> str:
        """Fill a template's placeholders from the topic, now and then from all the words."""
        text = _PLACEHOLDER.sub(lambda match: self._value(match[1], topic, lang), template)
        return text[0].upper() + text[1:]

    def _value(self, placeholder: str, topic: Topic, lang: Lang) -> str:
        rng, words = self.rng, self.words
        name = placeholder.upper()
        if name in {"N1", "N2", "N3"}:
            position = int(name[1]) - 1
            if position < len(topic.nouns) and rng.random() < 0.8:
                return topic.nouns[position].text(lang)
            pool = topic.nouns if rng.random() < 0.5 else (words.noun(rng), words.coined(rng))
            return rng.choice(pool).text(lang)
        if name == "V":
            verb = topic.verb if rng.random() < 0.8 else rng.choice(words.verbs)
            return verb.text(lang)
        choices: dict[str, Callable[[], str]] = {
            "P": lambda: words.coined(rng).text(lang),
            "W": lambda: words.coined(rng).text(lang),
            "A": lambda: rng.choice(words.adjectives).text(lang),
            "NUM": lambda: str(rng.choice((2, 3, 5, 10, 14, 15, 30, 60))),
        }
        return choices[name]()


def peak_rss_mb() -> float:
    """Return the peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(ordered: Sequence[float], share: float) -> float:
    """Return the nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@contextlib.contextmanager
def profiling(profiler: cProfile.Profile | None) -> Iterator[None]:
    """Run the block under the profiler, if there is one."""
    if profiler is None:
        yield
        return
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()


def print_profile(profiler: cProfile.Profile, phase: str) -> None:
    """Print the functions that took the most time, own and cumulative, to stderr."""
    for key in ("tottime", "cumulative"):
        print(f"\n=== {phase}: top {PROFILE_LINES} by {key} ===", file=sys.stderr)
        stats = pstats.Stats(profiler, stream=sys.stderr).strip_dirs().sort_stats(key)
        stats.print_stats(PROFILE_LINES)


def measure(size: int, queries: int, seed: int, profile: bool = False) -> SizeResult:
    """Generate content of `size` entries, build the engine and time the queries."""
    rng = random.Random(f"{seed}/{size}")
    writer = Writer(build_words(size, rng), rng)
    generated = writer.content(size)
    questions = [writer.question(generated) for _ in range(WARMUP + queries)]
    content = Content(tuple(entry for entry, _ in generated))
    del generated
    content_rss = peak_rss_mb()

    build_profiler = cProfile.Profile() if profile else None
    timings: list[float] = []
    engines: list[MatchingEngine] = []
    for _ in range(1 if profile else BUILDS):
        engines.clear()  # the previous engine is freed before the next build
        start = time.perf_counter()
        with profiling(build_profiler):
            engines.append(MatchingEngine(content, Thresholds()))
        timings.append(time.perf_counter() - start)
    engine = engines[0]
    build_s = min(timings)

    for question in questions[:WARMUP]:
        engine.decide(question)
    query_profiler = cProfile.Profile() if profile else None
    latencies: list[float] = []
    decisions: Counter[str] = Counter()
    for question in questions[WARMUP:]:
        start_ns = time.perf_counter_ns()
        with profiling(query_profiler):
            decision = engine.decide(question)
        latencies.append((time.perf_counter_ns() - start_ns) / 1e6)
        decisions[decision.kind.value] += 1
    if build_profiler and query_profiler:
        print_profile(build_profiler, f"index build, {size} entries")
        print_profile(query_profiler, f"{queries} queries, {size} entries")

    latencies.sort()
    index = engine.matcher.index
    return SizeResult(
        size=size,
        german=sum(1 for entry in content if entry.lang is Lang.DE),
        english=sum(1 for entry in content if entry.lang is Lang.EN),
        paired=sum(1 for entry in content if entry.translation),
        vocabulary=len(index.vocabulary.words),
        terms=len(index.postings),
        build_s=build_s,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1],
        mean_ms=sum(latencies) / len(latencies),
        content_rss_mb=content_rss,
        peak_rss_mb=peak_rss_mb(),
        decisions=dict(decisions),
    )


def measure_in_subprocess(size: int, queries: int, seed: int) -> SizeResult:
    """Run one size in a fresh interpreter so that its peak RSS is not cumulative."""
    command = [sys.executable, __file__, "--one", str(size)]
    command += ["--queries", str(queries), "--seed", str(seed)]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE)
    return SizeResult(**json.loads(output.stdout))


def verdicts(results: Sequence[SizeResult]) -> list[dict[str, object]]:
    """Return each target with the value measured at TARGET_SIZE entries and PASS/FAIL."""
    at_target = next((r for r in results if r.size == TARGET_SIZE), None)
    checks: list[dict[str, object]] = []
    for target in TARGETS:
        value = target.value(at_target) if at_target else None
        checks.append(
            {
                "target": target.label,
                "limit": target.limit,
                "unit": target.unit,
                "size": TARGET_SIZE,
                "value": value,
                "passed": None if value is None else value <= target.limit,
            }
        )
    return checks


def print_report(results: Sequence[SizeResult], queries: int, seed: int) -> None:
    """Print the results as a table, followed by the targets and whether they are met."""
    print(f"Matching benchmark: {queries} queries per size after {WARMUP} warm-up, seed {seed}\n")
    header = (
        f"{'entries':>8} {'de/en/paired':>18} {'vocab':>7} {'build s':>8} {'p50 ms':>7}"
        f" {'p99 ms':>7} {'max ms':>7} {'RSS MB before/peak':>19}  answer/suggest/abstain"
    )
    print(header)
    for r in results:
        mix = "/".join(str(r.decisions.get(kind, 0)) for kind in ("answer", "suggest", "abstain"))
        split = f"{r.german}/{r.english}/{r.paired}"
        rss = f"{r.content_rss_mb:.1f} / {r.peak_rss_mb:.1f}"
        print(
            f"{r.size:>8,} {split:>18} {r.vocabulary:>7,} {r.build_s:>8.2f} {r.p50_ms:>7.2f}"
            f" {r.p99_ms:>7.2f} {r.max_ms:>7.2f} {rss:>19}  {mix}"
        )
    print(f"\nTargets at {TARGET_SIZE:,} entries:")
    for check in verdicts(results):
        limit = f"{check['target']} ≤ {check['limit']:g} {check['unit']}"
        value = check["value"]
        if not isinstance(value, float):
            print(f"  {limit:<24} {'not measured':>12}  n/a")
            continue
        verdict = "PASS" if check["passed"] else "FAIL"
        print(f"  {limit:<24} {value:>9.2f} {check['unit']:<2}  {verdict}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print a JSON document instead")
    parser.add_argument(
        "--one", type=int, metavar="SIZE", help="measure one size here and print it as JSON"
    )
    parser.add_argument(
        "--profile", action="store_true", help="with --one: print cProfile tops to stderr"
    )
    args = parser.parse_args(argv)
    if args.queries < 1 or any(size < 1 for size in args.sizes):
        parser.error("--sizes and --queries must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and report; exit 0 whatever the figures, it is a report."""
    args = parse_args(argv)
    if args.one is not None:
        result = measure(args.one, args.queries, args.seed, profile=args.profile)
        print(json.dumps(dataclasses.asdict(result)))
        return 0
    results = [measure_in_subprocess(size, args.queries, args.seed) for size in args.sizes]
    if args.json:
        document = {
            "queries": args.queries,
            "warmup": WARMUP,
            "seed": args.seed,
            "python": sys.version.split()[0],
            "results": [dataclasses.asdict(r) for r in results],
            "targets": verdicts(results),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print_report(results, args.queries, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
