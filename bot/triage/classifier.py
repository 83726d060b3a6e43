"""Which support tier a request needs: standard (free), extended (billed) or unclear."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.content.model import Tier
from bot.matching.matcher import Matcher
from bot.matching.text import fold


class Verdict(enum.StrEnum):
    """The triage outcome; unclear means: ask the customer."""

    STANDARD = "standard"
    EXTENDED = "extended"
    UNCLEAR = "unclear"


@dataclass(frozen=True, slots=True)
class Cue:
    """A phrase pattern that points to one tier, and how strongly."""

    pattern: re.Pattern[str]
    tier: Tier
    weight: float
    reason: str


def _cue(tier: Tier, weight: float, reason: str, *patterns: str) -> Cue:
    return Cue(re.compile("|".join(f"(?:{p})" for p in patterns)), tier, weight, reason)


# Patterns run on folded text (lowercase, ä→ae, ö→oe, ü→ue, ß→ss).
CUES: tuple[Cue, ...] = (
    _cue(
        Tier.EXTENDED, 2.0, "the customer caused it (deleted, misconfigured, locked out)",
        r"\b(selbst|selber|versehentlich|aus versehen|ausversehen|mein fehler|accidentally"
        r"|by mistake|myself|on my own)\b",
        r"\b(ich|wir|i|we) (habe|hab|haben|have|had)? ?\w* ?(geloescht|deleted|removed"
        r"|entfernt|ueberschrieben|overwritten|falsch eingetragen)",
        r"\b(ausgesperrt|locked (myself|me|us) out|lock(ed)? out)\b",
        r"\b(meine?n?|my|our|unsere?n?) (eigene[nm]? )?(firewall|iptables|ufw|nftables"
        r"|netzwerk-?konfig\w*|network config\w*|netplan|routing)\b",
        r"\b(iptables|ufw|nftables|firewalld|netplan)\b",
    ),
    _cue(
        Tier.EXTENDED, 1.5, "help with the customer's own website, code or server",
        r"\b(webdesign|web design|layout|css|theme|template|page ?builder|elementor|plugin"
        r"|design|aussehen|schriftart|font|farbe|colou?r)\b",
        r"\b(mein(e|en)?|my|our|unsere?n?) (eigene[snm]? )?(script|skript|code|programm"
        r"|shop|app|cms|datenbankabfrage|query)\b",
        r"\b(kein|keine|no|without|ohne) (eigenes? |own )?(backup|sicherung)s?\b",
        r"\b(administrier\w*|administer|administration|einrichten lassen|set up for me"
        r"|fuer mich|for me|uebernehmen|take care of)\b",
        r"\b(falsch\w* (eingetragen|eingegeben|eingestellt|konfiguriert)|wrong (entry|entries"
        r"|record|setting)s?|vertippt|typo in)\b",
    ),
    _cue(
        Tier.STANDARD, 2.0, "a fault in a service the hoster runs",
        r"\b(stoerung|ausfall|outage|down for everyone|statusseite|status page|wartung"
        r"|maintenance)\b",
        r"\b(euer|eure|euren|eurem|ihr|ihre|ihren|your) (mail-?server|server|netz\w*"
        r"|network|rechenzentrum|datacenter|data center|dns|system|dienst|service)\b",
        r"\b(bei euch|on your (side|end)|your side|eure seite|von eurer seite)\b",
        r"\b(nichts (geaendert|veraendert|gemacht)|(didn'?t|did not|haven'?t) change"
        r"|without (changing|touching)|ohne (etwas|was) (zu aendern|geaendert))\b",
        r"\b(seit (heute|gestern|stunden|einer stunde|\d+)|ploetzlich|suddenly|since (this"
        r" morning|today|yesterday))\b",
    ),
    _cue(
        Tier.STANDARD, 1.0, "help using the portal or the hoster's software",
        r"\b(wie (kann|mache|richte|finde|aendere|stelle)|wo (finde|kann|ist)|how (do|can)"
        r" i|where (do|can|is)|anleitung|tutorial)\b",
        r"\b(kundencenter|customer center|webmail|rechnung|invoice|vertrag|contract)\b",
    ),
)

ENTRY_WEIGHT = 2.0
MIN_ENTRY_SCORE = 0.5
DECISIVE_LEAD = 1.0


@dataclass(frozen=True, slots=True)
class Triage:
    """The triage verdict and the reasons that led to it."""

    verdict: Verdict
    reasons: tuple[str, ...]
    scores: dict[str, float]


class Classifier:
    """Classify requests from cue phrases plus the tier of the best matching entry."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    def classify(self, message: str) -> Triage:
        """Return standard, extended or unclear for a customer's request, with reasons."""
        text = fold(message)
        scores = {Tier.STANDARD: 0.0, Tier.EXTENDED: 0.0}
        reasons: list[str] = []
        for cue in CUES:
            found = cue.pattern.search(text)
            if found:
                scores[cue.tier] += cue.weight
                reasons.append(f"{cue.tier.value}: {cue.reason} ('{found.group(0)}')")
        ranking = self.matcher.rank(message, limit=1)
        if ranking.candidates and ranking.candidates[0].score >= MIN_ENTRY_SCORE:
            best = ranking.candidates[0]
            scores[best.entry.tier] += ENTRY_WEIGHT * best.score
            reasons.append(
                f"{best.entry.tier.value}: resembles entry '{best.entry.id}' ({best.score:.2f})"
            )
        lead = scores[Tier.EXTENDED] - scores[Tier.STANDARD]
        if lead >= DECISIVE_LEAD:
            verdict = Verdict.EXTENDED
        elif -lead >= DECISIVE_LEAD:
            verdict = Verdict.STANDARD
        else:
            verdict = Verdict.UNCLEAR
            reasons.append("no clear lead for either tier: ask the customer")
        return Triage(
            verdict=verdict,
            reasons=tuple(reasons),
            scores={tier.value: round(score, 3) for tier, score in scores.items()},
        )
