"""Text analysis: folding, tokenising, stopword and filler removal, language detection."""

from __future__ import annotations

import unicodedata

import pytest

from bot.content.model import Lang
from bot.matching.text import Stemmers, content_words, detect_language, fold, stopwords, words


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Ärger", "aerger"),
        ("Öl", "oel"),
        ("ÜBEL", "uebel"),
        ("Straße", "strasse"),
        ("E-Mail", "email"),
        ("e mail", "email"),
        ("E-Mails", "email"),
        ("Wi-Fi", "wlan"),
    ],
)
def test_fold_spells_out_umlauts_and_unifies_spellings(text: str, folded: str) -> None:
    """Umlauts and ß are spelled out, and variant spellings collapse into one word."""
    assert fold(text) == folded


def test_fold_applies_nfkc() -> None:
    """Full-width letters, ligatures and decomposed umlauts fold like plain text."""
    assert fold("Ｐａｓｓｗｏｒｔ") == "passwort"
    assert fold("Proﬁl") == "profil"
    assert fold(unicodedata.normalize("NFD", "Kündigung")) == "kuendigung"


def test_fold_leaves_email_inside_longer_words_alone() -> None:
    """Only the word "E-Mail" becomes "email"; words merely containing "mail" stay as they are."""
    assert fold("Webmail") == "webmail"
    assert fold("Mailserver") == "mailserver"


def test_words_drops_punctuation_and_single_letters_but_keeps_digits() -> None:
    """Words are runs of letters and digits; lone letters go, lone digits stay."""
    assert words("Fehler 5 auf der E-Mail-Adresse, a b!") == [
        "fehler",
        "5",
        "auf",
        "der",
        "email",
        "adresse",
    ]


def test_content_words_drop_stopwords_before_stemming() -> None:
    """ "ändern" survives as "aendern" although its stem would be the stopword "and"."""
    assert "and" in stopwords()
    assert content_words("Passwort ändern and Kennwort") == ["passwort", "aendern", "kennwort"]


def test_content_words_drop_german_and_english_stopwords() -> None:
    """Function words of both languages never reach the index."""
    assert content_words("Wie kann ich mein Passwort ändern?") == ["passwort", "aendern"]
    assert content_words("How do I change my password?") == ["change", "password"]


def test_content_words_drop_greetings_and_filler() -> None:
    """Greetings, politeness and chat filler are not content."""
    german = "Hallo, ich hab da mal ne Frage zum Passwort, vielen Dank und liebe Grüße!"
    english = "Hi there, quick question please: password reset? Thanks, cheers"
    assert content_words(german) == ["passwort"]
    assert content_words(english) == ["password", "reset"]


def test_content_words_keep_hoster_words_from_the_english_stopword_list() -> None:
    """Words like "site", "down" and "mx" mean something at a hoster and are kept."""
    assert content_words("my site is down, mx broken") == ["site", "down", "mx", "broken"]


@pytest.mark.parametrize(
    "text",
    [
        "Wie ändere ich mein Passwort?",
        "ich kann mich nicht einloggen",
        "Kündigung",
        "wo finde ich die rechnung",
    ],
)
def test_detect_language_recognises_german(text: str) -> None:
    """German function words or umlauts make a message German."""
    assert detect_language(text) is Lang.DE


@pytest.mark.parametrize(
    "text",
    [
        "How do I change my password?",
        "where is my invoice",
        "I cannot log in to my account",
    ],
)
def test_detect_language_recognises_english(text: str) -> None:
    """English function words make a message English."""
    assert detect_language(text) is Lang.EN


@pytest.mark.parametrize("text", ["", "Kundencenter", "Passwort", "ok", "123"])
def test_detect_language_returns_none_when_undecidable(text: str) -> None:
    """A message without function words in either language has no language."""
    assert detect_language(text) is None


def test_detect_language_counts_sharp_s_as_german() -> None:
    """ß marks German text just like the umlauts do."""
    assert detect_language("Straße") is Lang.DE


def test_detect_language_recognises_decomposed_umlauts() -> None:
    """A decomposed umlaut (as macOS keyboards send it) marks German like a composed one."""
    assert detect_language(unicodedata.normalize("NFD", "Kündigung")) is Lang.DE


def test_stems_are_remembered_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A word is stemmed once; the memory is emptied when it reaches its bound."""
    monkeypatch.setattr("bot.matching.text.STEMS_KEPT", 2)
    monkeypatch.setattr(Stemmers, "_known", {})
    stemmed: list[str] = []
    stem = Stemmers.stem

    def counting(word: str, lang: Lang) -> str:
        stemmed.append(word)
        return stem(word, lang)

    monkeypatch.setattr(Stemmers, "stem", staticmethod(counting))
    stemmers = Stemmers()
    first = stemmers.stems("postfaecher")
    assert stemmers.stems("postfaecher") == first
    assert stemmed == ["postfaecher", "postfaecher"]  # once per language, once in all
    stemmers.stems("passwort")
    stemmers.stems("weiterleitung")  # the third word: the memory is emptied first
    assert stemmers.stems("postfaecher") == first
    assert stemmed.count("postfaecher") == 4
    assert len(Stemmers._known) <= 2
