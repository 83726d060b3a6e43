"""The content's vocabulary: compound splitting, joining and typo correction."""

from __future__ import annotations

import pytest

from bot.content.model import Content, Entry, Lang
from bot.matching.index import Index
from bot.matching.lexicon import Lexicon
from bot.matching.query import analyse
from bot.matching.text import Stemmers
from bot.matching.vocabulary import Vocabulary


def vocabulary(*words: str) -> Vocabulary:
    """Return a vocabulary of German content words (repeat a word to make it commoner)."""
    return Vocabulary((word, Lang.DE) for word in words)


def entry(id_: str, title: str, *questions: str) -> Entry:
    """Return a minimal German entry."""
    return Entry(
        id=id_,
        title=title,
        lang=Lang.DE,
        url=f"https://wiki.example.com/{id_}",
        body="",
        questions=questions,
    )


def index(*entries: Entry) -> Index:
    """Return an index over the entries without any synonyms."""
    return Index(Content(entries), Lexicon([]))


def stem(word: str) -> str:
    """Return the German stem of a folded word."""
    return Stemmers.stem(word, Lang.DE)


def test_split_finds_known_words_across_a_linking_s() -> None:
    """A compound joined with a linking "s" splits into parts that match the known words."""
    parts = vocabulary("abwesenheit", "notiz").split("abwesenheitsnotiz")
    assert parts is not None
    assert [stem(part) for part in parts] == [stem("abwesenheit"), stem("notiz")]


def test_split_strips_the_linking_s() -> None:
    """The parts of a compound are the words themselves, without the linking element."""
    assert vocabulary("abwesenheit", "notiz").split("abwesenheitsnotiz") == (
        "abwesenheit",
        "notiz",
    )


def test_split_takes_three_known_words_apart() -> None:
    """A compound of three known words splits into all three."""
    known = vocabulary("kundencenter", "passwort", "adresse")
    assert known.split("kundencenterpasswortadresse") == ("kundencenter", "passwort", "adresse")


@pytest.mark.parametrize("word", ["abwesenheitsquatsch", "xyzqwertz", "notizab", "e2e"])
def test_split_refuses_words_that_are_not_made_of_known_words(word: str) -> None:
    """A word is only split when every part is a known word of three letters or more."""
    assert vocabulary("abwesenheit", "notiz").split(word) is None


def test_join_returns_the_known_compound_of_two_words() -> None:
    """ "mail server" is read as "mailserver" when the content uses that word."""
    assert vocabulary("mailserver").join("mail", "server") == "mailserver"


def test_join_returns_none_for_an_unknown_compound() -> None:
    """Two words are not joined into a compound the content never uses."""
    known = vocabulary("mail", "server")
    assert known.join("mail", "server") is None
    assert vocabulary("mailserver").join("server", "mail") is None


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("domian", "domain"),
        ("odmain", "domain"),
        ("passwrot", "passwort"),
        ("kundncenter", "kundencenter"),
        ("kundncentr", "kundencenter"),
    ],
)
def test_correct_fixes_typos_and_swapped_letters(typo: str, meant: str) -> None:
    """One edit or swap in a short word, two in a long word, lead to the known word."""
    assert vocabulary("domain", "passwort", "kundencenter").correct(typo) == meant


@pytest.mark.parametrize(
    ("known", "word"),
    [
        ("bestellen", "abbestellen"),
        ("abbestellen", "bestellen"),
        ("bankverbindung", "verbindung"),
        ("verbindung", "bankverbindung"),
    ],
)
def test_correct_never_turns_a_word_into_its_prefix_or_suffix_relative(
    known: str, word: str
) -> None:
    """ "abbestellen" is not a typo of "bestellen", nor "verbindung" of "bankverbindung"."""
    assert vocabulary(known).correct(word) is None


@pytest.mark.parametrize("word", ["tomain", "pasword", "dom", "d0main"])
def test_correct_gives_up_when_unsure(word: str) -> None:
    """A changed first letter, too many edits, a very short word or digits get no guess."""
    assert vocabulary("domain", "passwort").correct(word) is None


def test_correct_prefers_the_commoner_of_equally_close_words() -> None:
    """Between two words one edit away, the one the content uses more often wins."""
    assert vocabulary("post", "post", "pest").correct("pust") == "post"
    assert vocabulary("post", "pest", "pest").correct("pust") == "pest"


def test_query_corrects_only_unknown_words() -> None:
    """A known word is taken as written even when another known word is one edit away."""
    content = index(entry("ssh-port", "SSH-Port ändern"), entry("post", "Post vom Support lesen"))
    assert content.vocabulary.correct("port") == "post"
    query = analyse("Port ändern", content)
    assert not any(note.startswith("typo") for note in query.notes)
    assert stem("port") in query.groups[0].alternatives
    assert stem("post") not in query.groups[0].alternatives


def test_query_corrects_an_unknown_word() -> None:
    """A typo in the question is looked up as the known word it most likely meant."""
    content = index(entry("ssh-port", "SSH-Port ändern"), entry("post", "Post vom Support lesen"))
    query = analyse("Prot ändern", content)
    assert "typo: prot → port" in query.notes
    assert stem("port") in query.groups[0].alternatives
    assert query.unknown == ()


def test_query_splits_an_unknown_compound_into_known_words() -> None:
    """An unknown compound in a question is looked up through its known parts."""
    content = index(entry("abwesenheit", "Abwesenheit eintragen", "Notiz für Kollegen"))
    query = analyse("Abwesenheitsnotiz", content)
    assert any(note.startswith("compound: abwesenheitsnotiz =") for note in query.notes)
    assert query.unknown == ()
    assert len(query.groups) == 2


def test_query_joins_two_words_into_a_known_compound() -> None:
    """ "mail server" in a question finds entries that write "Mailserver"."""
    content = index(entry("mailserver", "Mailserver nicht erreichbar"))
    query = analyse("mail server", content)
    assert "joined: mail server → mailserver" in query.notes
    assert all(stem("mailserver") in group.alternatives for group in query.groups)


def test_query_does_not_correct_abbestellen_into_bestellen() -> None:
    """An unknown word stays unknown rather than becoming a word that means the opposite."""
    content = index(entry("newsletter", "Newsletter bestellen"))
    query = analyse("Newsletter abbestellen", content)
    assert query.unknown == ("abbestellen",)
    assert not any(note.startswith("typo") for note in query.notes)


def test_corrections_are_remembered_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo is looked up once; the memory is emptied when it reaches its bound."""
    monkeypatch.setattr("bot.matching.vocabulary.CORRECTIONS_KEPT", 2)
    words = vocabulary("passwort", "postfach", "weiterleitung")
    searches: list[str] = []
    search = words._correct

    def counting(word: str) -> str | None:
        searches.append(word)
        return search(word)

    monkeypatch.setattr(words, "_correct", counting)
    assert words.correct("paswort") == "passwort"
    assert words.correct("paswort") == "passwort"
    assert words.correct("postfahc") == "postfach"
    assert searches == ["paswort", "postfahc"]
    assert words.correct("weiterleitng") == "weiterleitung"  # the third: memory emptied first
    assert words.correct("paswort") == "passwort"
    assert searches == ["paswort", "postfahc", "weiterleitng", "paswort"]


def test_word_readings_are_remembered_per_index_up_to_a_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A word is read once per index (typo fix, compound parts, terms); the question reads
    the same the second time, notes included; the memory is emptied at its bound."""
    monkeypatch.setattr("bot.matching.query.READINGS_KEPT", 3)
    content = index(entry("passwort", "Passwort ändern"), entry("mail", "Postfach anlegen"))
    first = analyse("Paswort vom Postfachkonto ändern", content)
    assert "typo: paswort → passwort" in first.notes
    read = dict(content.readings)
    again = analyse("Paswort vom Postfachkonto ändern", content)
    assert (again.groups, again.notes) == (first.groups, first.notes)
    assert all(content.readings[word] is reading for word, reading in read.items())
    assert len(content.readings) == 3
    analyse("Postfach", content)  # a fourth word: the memory was full, so it is emptied
    assert list(content.readings) == ["postfach"]
    other = index(entry("passwort", "Passwort ändern"))
    assert other.readings == {}  # each index remembers its own
