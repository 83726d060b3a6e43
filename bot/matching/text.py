"""Text analysis shared by content and questions: normalise, tokenise, filter, stem."""

from __future__ import annotations

import itertools
import re
import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import Stemmer
from stop_words import get_stop_words

from bot.content.model import Lang
from bot.matching.builtin_lexicon import builtin_groups
from bot.memo import remember

# (a substring every match contains, the pattern, its canonical spelling); the substring
# test skips the regular expression for the many texts that cannot match.
_SPELLINGS = (
    ("mail", re.compile(r"\be[\s-]?mails?\b"), "email"),
    ("fi", re.compile(r"\bwi[\s-]?fi\b"), "wlan"),
)
_WORD = re.compile(r"[a-z0-9]+")
STEMS_KEPT = 16_384  # words whose stems are remembered (then forgotten all at once)
LANGUAGES_KEPT = 256  # latest messages whose language is remembered

# The English list in `stop-words` is long and contains words that carry meaning for a
# hoster ("site", "mx", "down", "bill"): those are kept as content words.
_ENGLISH_CONTENT_WORDS = frozenset(
    """
    site web page pages home homepage mx system net full down bill order open new empty
    free microsoft value group run running work working show find section point back
    backs information online line lines area areas member members number numbers
    """.split()
)

# Greetings, politeness and chat filler in both languages: they never identify an entry.
_FILLER = frozenset(
    """
    hallo hi hey moin servus huhu gruezi tag morgen abend nabend guten gute danke dank
    vielen bitte gruss gruesse lg mfg vg liebe lieben liebes sehr geehrte geehrter damen
    herren frage fragen mal ne nen ner eigentlich irgendwie bzw halt eben leider gerne
    gern kurz schon mehr moechte moechten moecht mocht wuerde wuerden wollte koennte koenntet
    koennen kannst koennt braeuchte brauche brauch benoetige gibt ok okay jemand einfach
    genau bisschen bissl evtl eventuell vielleicht bitten hilfe problem probleme hello
    hiya greetings thanks thank thx please pls plz regards cheers dear question
    questions help hey anyone somebody someone quick sir madam
    """.split()
)


def fold(text: str) -> str:
    """Return text in the canonical form: NFKC, casefolded, umlauts spelled out."""
    if text.isascii():
        # NFKC leaves ASCII alone and casefold is lower there: the common case, made cheap.
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        # Four str.replace calls are several times faster than str.translate with a table.
        text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    for needle, pattern, replacement in _SPELLINGS:
        if needle in text:
            text = pattern.sub(replacement, text)
    return text


def words(text: str) -> list[str]:
    """Split text into folded words (letters and digits), single letters dropped."""
    return [w for w in _WORD.findall(fold(text)) if len(w) > 1 or w.isdigit()]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Return the folded German and English stopwords plus chat filler."""
    german = {fold(w) for w in get_stop_words("german")}
    english = {fold(w) for w in get_stop_words("english")} - _ENGLISH_CONTENT_WORDS
    # A word the built-in lexicon lists as a synonym carries meaning ("pw", "website");
    # single letters never do (single digits may: "PHP 8").
    letters = set(string.ascii_lowercase)
    return frozenset((german | english | _FILLER | letters) - _lexicon_words())


def _lexicon_words() -> set[str]:
    return {fold(t) for group in builtin_groups() for t in group if " " not in t}


@dataclass(frozen=True, slots=True)
class Stemmers:
    """Snowball stemmers for the supported languages."""

    # PyStemmer's own cache is off: it makes stemming three to six times slower. A question
    # asks for the stems of each of its words several times (known word? synonyms? index
    # terms?), so `stems` remembers its answers in a dict, emptied when full: customers
    # keep using the same few thousand words.
    _snowball: ClassVar[dict[Lang, Stemmer.Stemmer]] = {
        Lang.DE: Stemmer.Stemmer("german", 0),
        Lang.EN: Stemmer.Stemmer("english", 0),
    }
    _known: ClassVar[dict[str, tuple[str, ...]]] = {}

    @staticmethod
    def stem(word: str, lang: Lang) -> str:
        """Return the Snowball stem of one folded word."""
        return str(Stemmers._snowball[lang].stemWord(word))

    @staticmethod
    def stem_all(words: list[str], lang: Lang) -> list[str]:
        """Return the Snowball stems of folded words, in one call."""
        return list(Stemmers._snowball[lang].stemWords(words))

    def stems(self, word: str) -> tuple[str, ...]:
        """Return the distinct stems of a word under every language."""
        found = Stemmers._known.get(word)
        if found is None:
            de = self.stem(word, Lang.DE)
            en = self.stem(word, Lang.EN)
            found = remember(Stemmers._known, word, (de,) if de == en else (de, en), STEMS_KEPT)
        return found


def content_words(text: str) -> list[str]:
    """Return the folded words of text without stopwords and filler."""
    return folded_content_words(fold(text))


def folded_content_words(folded: str) -> list[str]:
    """Return the words of folded text without stopwords and filler."""
    return list(itertools.filterfalse(stopwords().__contains__, _WORD.findall(folded)))


@lru_cache(maxsize=LANGUAGES_KEPT)
def detect_language(text: str) -> Lang | None:
    """Guess the language of a customer message from its function words (None: can't tell).

    Remembered for the latest messages: a turn asks for its message's language twice (the
    conversation, then the matcher)."""
    tokens = words(text)
    de_hits = sum(1 for w in tokens if w in _german_markers())
    en_hits = sum(1 for w in tokens if w in _english_markers())
    if any(ch in unicodedata.normalize("NFKC", text).lower() for ch in "äöüß"):
        de_hits += 1
    if de_hits == en_hits:
        return None
    return Lang.DE if de_hits > en_hits else Lang.EN


@lru_cache(maxsize=1)
def _german_markers() -> frozenset[str]:
    return frozenset(fold(w) for w in get_stop_words("german")) | _GERMAN_EXTRA


@lru_cache(maxsize=1)
def _english_markers() -> frozenset[str]:
    german = _german_markers()
    return frozenset(w for w in _ENGLISH_FUNCTION if w not in german)


_GERMAN_EXTRA = frozenset(
    """
    hallo moin servus danke bitte geht gehts nicht kein keine wo wie
    was warum ich mein meine meinen einen ein eine ist sind hab habe kann koennen moechte
    """.split()
)
_ENGLISH_FUNCTION = frozenset(
    """
    the a an is are was were be been how what why where when who which do does did my
    your our i you we it its this that these those to of for with from in on at by can
    could would should will not no yes please thanks hello hi and or but if there here
    have has had me us get set change want need cant cannot doesnt dont
    """.split()
)
