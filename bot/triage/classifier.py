"""Which support tier a request needs: standard (free), extended (billed) or unclear."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.content.model import Tier
from bot.matching.matcher import Matcher
from bot.matching.text import fold


class Verdict(enum.StrEnum):
    """The triage outcome; unclear means: ask the customer."""

    STANDARD = "standard"
    EXTENDED = "extended"
    UNCLEAR = "unclear"


class Signal(enum.StrEnum):
    """Kinds of evidence in a request, each pointing to a tier or to a question."""

    SELF_CAUSED = "the customer caused it (deleted, misconfigured, locked out)"
    OWN_WORK = "work on the customer's own website, code or server"
    HOSTER_FAULT = "a fault in a service the hoster runs"
    HOW_TO = "a question about using the portal or the hoster's software"
    SYMPTOM = "a symptom without a known cause"


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# Patterns run on folded text (lowercase, ä→ae, ö→oe, ü→ue, ß→ss). They describe kinds of
# situations (who caused it, who should do what), never the wording of particular entries.
SIGNALS: dict[Signal, re.Pattern[str]] = {
    Signal.SELF_CAUSED: _any(
        r"\b(selbst|selber|versehentlich|aus ?versehen|mein fehler|accidentally|by mistake"
        r"|myself|messed up|verbockt|verkonfiguriert|zerschossen)\b",
        r"\b(geloescht|gedropt|gedroppt|ueberschrieben|geleert|deleted|dropped|removed"
        r"|overwrote|overwritten|wiped|emptied)\b",
        r"\b(falsch\w* (eingetragen|eingegeben|eingestellt|gesetzt|geschrieben|konfiguriert)"
        r"|wrong (entry|entries|record|records|setting|settings)|vertippt)\b",
        r"\b(ausgesperrt|locked (myself|me|us) out|lock(ed)? out|gebannt|banned)\b",
        r"\b(iptables|ufw|nftables|firewalld|fail2ban|netplan|daemon\.json)\b",
        r"\b(ich|wir|i|we) (habe|hab|haben|have|had) (\w+ ){0,4}(umgestellt|geaendert"
        r"|changed|edited|bearbeitet|installiert|installed)\b",
        r"\b(kein|keine|no|without|ohne) (eigenes? |own )?(backup|sicherung)s?\b",
    ),
    Signal.OWN_WORK: _any(
        r"\b(webdesign|web design|layout|css|theme|page ?builder|elementor|logo|farbschema"
        r"|startseite|bildergalerie|look better|responsive|aussehen)\b",
        r"\b(mein(e|en|em)?|my|our|unsere?n?m?) (eigene[snm]? )?(script|skript|code|programm"
        r"|php-?script|python-?skript|plugin|app|node app|shop-?system)\b",
        r"\b(nginx|apache config|postfix|dovecot|docker|nextcloud|logrotate|reverse proxy"
        r"|mysql-?server|debian \d+|ubuntu \d+|apt upgrade|dist-upgrade)\b",
        r"\b(koennt ihr|koennen sie|kann jemand|could you|can you|can someone|please)"
        r" (\w+ ){0,8}(installieren|einrichten|konfigurieren|umbauen|bauen|entwerfen"
        r"|reinschauen|upgraden|install|configure|set up|build|design|upgrade|check why"
        r"|make|fix)\b",
        r"\b(fuer mich|for me|uebernehmen|take care of|jemand(en)?, der mir)\b",
    ),
    Signal.HOSTER_FAULT: _any(
        r"\b(stoerung|ausfall|outage|down for everyone|statusseite|status page|wartung"
        r"|maintenance|paketverlust|packet loss)\b",
        r"\b(euer|eure|euren|eurem|eures)\b",
        r"\b(ihr|ihre|ihren|your) (\w+ )?(mail-?server|server|netz\w*"
        r"|network|rechenzentrum|datacenter|data center|dns|nameserver|system|dienst|service"
        r"|router|firewall|plattform|platform|outgoing mail server)\b",
        r"\b(bei euch|on your (side|end)|your side|eure seite|von euch|not mine|nicht meins"
        r"|since you|seit ihr|nachdem ihr|after you)\b",
        r"\b(nichts (geaendert|veraendert|gemacht)|(didn'?t|did not|haven'?t) change"
        r"|nothing changed|without (changing|touching)|ohne (etwas|was) (zu aendern|geaendert))\b",
        r"\b(ns\d|blocklist|blacklist)\b",
    ),
    Signal.HOW_TO: _any(
        r"\b(wie (kann|mache|richte|finde|aendere|stelle|kuendige|lege|starte|bekomme)"
        r"|wo (finde|kann|richte|stelle|ist|steht)|kann ich|how (do|can|to)|where (do|can|is)"
        r"|anleitung|tutorial|doku|menuepunkt|is there a way)\b",
    ),
    Signal.SYMPTOM: _any(
        r"\b(geht nicht|gehen nicht|funktioniert nicht|kaputt|down|offline|fehler|error|weg"
        r"|kommen? nicht|reagiert nicht|langsam|slow|refused|not working|doesn'?t work"
        r"|nicht mehr|nichts geht|can'?t|cannot|nicht sicher|not secure|spam)\b",
    ),
}

MIN_ENTRY_SCORE = 0.35


@dataclass(frozen=True, slots=True)
class Triage:
    """The triage verdict and the reasons that led to it."""

    verdict: Verdict
    reasons: tuple[str, ...]


class Classifier:
    """Classify requests from situation cues plus the tier of the best matching entry."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    def classify(self, message: str) -> Triage:
        """Return standard, extended or unclear for a customer's request, with reasons."""
        text = fold(message)
        found = {signal: m.group(0) for signal, p in SIGNALS.items() if (m := p.search(text))}
        reasons = [f"{signal.value} ('{cue}')" for signal, cue in found.items()]
        ranking = self.matcher.rank(message, limit=1)
        entry = ranking.candidates[0] if ranking.candidates else None
        if entry and entry.score >= MIN_ENTRY_SCORE:
            reasons.append(
                f"resembles {entry.entry.tier.value} entry '{entry.entry.id}' ({entry.score:.2f})"
            )
        else:
            entry = None
        return Triage(_verdict(found.keys(), entry.entry.tier if entry else None), tuple(reasons))


def _verdict(signals: Iterable[Signal], entry_tier: Tier | None) -> Verdict:
    present = set(signals)
    if present & {Signal.SELF_CAUSED, Signal.OWN_WORK}:
        if Signal.HOSTER_FAULT in present:
            return Verdict.UNCLEAR
        return Verdict.EXTENDED
    if Signal.HOSTER_FAULT in present:
        return Verdict.STANDARD
    if Signal.HOW_TO in present:
        return Verdict.EXTENDED if entry_tier is Tier.EXTENDED else Verdict.STANDARD
    if Signal.SYMPTOM in present or entry_tier is None:
        return Verdict.UNCLEAR
    return Verdict(entry_tier.value)
