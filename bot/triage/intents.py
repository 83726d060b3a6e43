"""What a customer's words ask for beyond a question: a human, a language, their account."""

from __future__ import annotations

import re
from functools import lru_cache

from bot.content.model import Lang
from bot.matching.text import content_words, fold, words

# Run on folded text (lowercase, umlauts as ae/oe/ue, ß as ss). Each alternative asks for a
# person, not about something that merely mentions support ("does PHP 8 support ...") or a
# person ("ein Postfach für einen Mitarbeiter", "einen Mitarbeiter-Zugang anlegen"): a German
# "a colleague/person" counts only after "mit/an/zu" or a verb of wanting.
_PERSON = (
    r"(?:echten |richtigen )?(?:mitarbeiter\w*|menschen|techniker\w*|support\w*|kollegen|person)"
)
_HUMAN = re.compile(
    r"\b(?:"
    r"(?:mit|an|zu|will|moechte|moechten|wollen|brauche|brauchen|braeuchte|benoetige|suche"
    r"|haette gerne?)(?: bitte| gerne?| jetzt| sofort| lieber| dringend| mal)?"
    r" (?:einem|einer|einen|nem|ner|nen) " + _PERSON + r"(?!-)"
    r"|mit jemandem (?:vom support |von euch |von ihnen |aus dem support )?"
    r"(?:sprechen|reden|telefonieren)"
    r"|(?:mitarbeiter\w*|menschen|techniker\w*|support|kundendienst|kundenservice|hotline)"
    r" (?:sprechen|reden|kontaktieren|erreichen|anrufen|schreiben)"
    r"|(?:echten?|richtigen?) (?:menschen|mitarbeiter\w*|person)"
    r"|(?:(?:talk|speak|chat|get in touch) (?:to|with)"
    r"|(?:connect|transfer|put) (?:me|us) (?:through )?(?:to|with))"
    r" (?:a |an |the |your |some )?"
    r"(?:human|person|someone|somebody|agent|support|staff|operator|real person|technician)"
    r"|(?:real|live) (?:human|person|agent)"
    r"|(?:i|we) (?:want|need|would like) (?:a |an |to )?(?:human|person|agent|support|operator)"
    r"|(?P<ticket>ticket (?:erstellen|aufmachen|eroeffnen|oeffnen|anlegen)"
    r"|(?:open|create|file|raise) (?:a |an )?(?:support )?ticket)"
    r")\b"
    r"|^\W*(?:mitarbeiter\w*|mensch|support|human|agent|operator|hilfe von (?:einem )?menschen)"
    r"\W*(?:bitte|please)?\W*$"
)
# A ticket phrase in a how-to or "before I ..." sentence asks about tickets, not for one:
# "Wie kann ich ein Ticket erstellen?", "before I open a ticket: how much ...".
_ABOUT_TICKETS = re.compile(r"\b(?:wie|wo|wann|bevor|ehe|how|where|when|before)\b")
_SENTENCE_END = re.compile(r"[.!?;\n]")

# Domain names and customer numbers the customer may mention, for the ticket card.
_CUSTOMER_NUMBER = re.compile(
    r"\b(?:kundennummer|kunden-?nr\.?|kd\.?-?nr\.?|customer (?:number|no\.?|id))"
    r"\s*[:#]?\s*([a-z]{0,3}-?\d{3,12})\b",
    re.IGNORECASE,
)
_DOMAIN = re.compile(
    r"(?<![@\w.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?![\w-])",
    re.IGNORECASE,
)
_NOT_TOP_LEVEL = frozenset(
    "php html htm js css txt log conf cfg ini json xml yml yaml png jpg jpeg gif svg pdf zip"
    " gz tar sql py sh rb pl md csv exe bak tmp env lock"
    " webp avif ico ts tsx jsx scss sass less vue twig phtml tpl inc db sqlite mp3 mp4"
    " doc docx xls xlsx woff woff2 ttf map pem crt csr".split()
)
SUBSTANTIAL_WORDS = 4
CONTENT_WORDS = 2
MAX_REFERENCES = 3


@lru_cache(maxsize=256)
def asks_for_human(text: str) -> bool:
    """Return whether a message asks to talk to a person rather than the bot (remembered
    for the latest messages: a turn asks twice, before matching and in the transaction)."""
    folded = fold(text)
    return any(
        match.group("ticket") is None
        or not _ABOUT_TICKETS.search(_SENTENCE_END.split(folded[: match.start()])[-1])
        for match in _HUMAN.finditer(folded)
    )


def describes_problem(text: str) -> bool:
    """Return whether a message says enough about the problem to stand as its description."""
    rest = _HUMAN.sub(" ", fold(text))
    # Greetings and politeness ("Hallo, ich möchte bitte ...") describe nothing.
    return len(words(rest)) >= SUBSTANTIAL_WORDS and len(content_words(rest)) >= CONTENT_WORDS


def customer_reference(*texts: str) -> str | None:
    """Return the customer numbers and domain names the texts mention, if any."""
    found: list[str] = []
    for text in texts:
        found.extend(match.group(1) for match in _CUSTOMER_NUMBER.finditer(text))
        found.extend(
            match.group(1).lower()
            for match in _DOMAIN.finditer(text)
            if match.group(1).rsplit(".", 1)[1].lower() not in _NOT_TOP_LEVEL
        )
    unique = list(dict.fromkeys(found))[:MAX_REFERENCES]
    return ", ".join(unique) or None


def language_of_client(language_code: str | None) -> Lang | None:
    """Return the bot language for a client's language setting: German, else English."""
    if not language_code:
        return None
    return Lang.DE if language_code.lower().startswith("de") else Lang.EN
