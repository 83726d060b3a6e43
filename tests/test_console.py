"""The terminal adapter: Telegram HTML as plain text, and the customer's side in a terminal."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import build_conversation, build_engine, load_usable_content
from bot.config import Config
from bot.console.chat import ConsoleChat
from bot.console.plain import BOLD, RESET, plain_text
from bot.content.model import Tier
from bot.matching.engine import MatchingEngine
from bot.tickets.model import ConsentDecision
from bot.tickets.store import TicketStore
from bot.triage.events import Person

ROOT = Path(__file__).parent.parent
CONTENT = ROOT / "faq_content"
ANNA = Person(7, "Anna", "anna", "de")
PASSWORD = "Wie ändere ich mein Passwort im Kundencenter?"
FIREWALL = "Ich habe mich mit iptables aus meinem Server ausgesperrt"
MAIL_OUTAGE = "Seit heute früh kommen bei uns keine E-Mails mehr an, alle Postfächer sind leer"
HELP_LINK = re.compile(r"<https://help\.example-hoster\.de/\S+>")


# plain_text


def test_plain_text_spells_out_links() -> None:
    """A link shows its title followed by its address in angle brackets, entities unescaped."""
    html = 'Siehe <a href="https://help.example.de/a?b=1&amp;c=2">die Anleitung</a>.'
    assert plain_text(html) == "Siehe die Anleitung <https://help.example.de/a?b=1&c=2>."


def test_plain_text_hides_tg_addresses() -> None:
    """A tg:// link (a mention) shows only its text: the address means nothing in a terminal."""
    assert plain_text('<a href="tg://user?id=7">Anna</a> schreibt') == "Anna schreibt"


def test_plain_text_link_without_address_keeps_its_text() -> None:
    """A link without href shows its text and no empty brackets."""
    assert plain_text("<a>nur Text</a>") == "nur Text"


def test_plain_text_unescapes_entities() -> None:
    """HTML entities become the characters they stand for; escaped tags stay text."""
    assert plain_text("A &amp; B &lt;b&gt; &quot;x&quot; &#8364;") == 'A & B <b> "x" €'


def test_plain_text_drops_formatting_tags_and_keeps_lines() -> None:
    """Italic, code and pre lose their tags; the text and its line breaks stay as they were."""
    html = "<i>kursiv</i>\n<pre><code>ls -l &gt; out</code></pre>\n<u>Ende</u>"
    assert plain_text(html) == "kursiv\nls -l > out\nEnde"


def test_plain_text_bold_is_plain_without_ansi() -> None:
    """Without ANSI, bold is just text: no escape codes reach a file or a pipe."""
    assert plain_text("<b>Ticket</b> 1001") == "Ticket 1001"


def test_plain_text_bold_as_ansi() -> None:
    """With ANSI, bold and strong turn the terminal's bold on and off again."""
    assert plain_text("<b>Ticket</b> 1001", ansi=True) == f"{BOLD}Ticket{RESET} 1001"
    assert plain_text("<strong>x</strong>", ansi=True) == f"{BOLD}x{RESET}"


def test_plain_text_nested_bold_stays_bold_until_the_outer_end() -> None:
    """An inner bold's end does not switch bold off while the outer bold goes on."""
    text = plain_text("<b>a <b>b</b> c</b> d", ansi=True)
    assert text.replace(BOLD, "") == f"a b c{RESET} d"
    assert text.count(RESET) == 1


def test_plain_text_indents_quotes() -> None:
    """Every line of a blockquote is indented and the quote stands on lines of its own."""
    html = "<b>Ticket 1001</b>\n<blockquote>Zeile eins\nZeile zwei</blockquote>\nEnde"
    assert plain_text(html) == "Ticket 1001\n\n  Zeile eins\n  Zeile zwei\n\nEnde"


# ConsoleChat on the real conversation core


@pytest.fixture(scope="module")
def engine() -> MatchingEngine:
    """Build the matching engine over the shipped content once for the module."""
    config = Config(content_path=CONTENT)
    return build_engine(config, load_usable_content(config))


@pytest.fixture
def lines() -> list[str]:
    """Collect what the console writes, one call per item."""
    return []


@pytest.fixture
def chat(engine: MatchingEngine, store: TicketStore, lines: list[str]) -> ConsoleChat:
    """Play Anna (German client) against the real conversation on a real SQLite store."""
    config = Config(content_path=CONTENT, database=store.path)
    return ConsoleChat(build_conversation(config, store, engine), ANNA, lines.append)


@pytest.fixture
def say(chat: ConsoleChat, lines: list[str]) -> Callable[[str], str]:
    """Return a function that types one line and returns what the console printed for it."""

    def typed(text: str) -> str:
        lines.clear()
        chat.say(text)
        return "\n".join(lines)

    return typed


def buttons(lines: list[str]) -> list[str]:
    """Return the numbered button lines among the printed lines."""
    return [line for line in lines if line.startswith("  [")]


def test_start_prints_the_greeting_with_numbered_buttons(
    say: Callable[[str], str], lines: list[str]
) -> None:
    """/start greets the customer by name in plain text and numbers the buttons from 1."""
    out = say("/start")
    assert "Hallo Anna" in out
    assert "<b>" not in out
    assert "</" not in out
    assert buttons(lines) == [
        "  [1] 🙋 Mit dem Support sprechen",
        "  [2] Meine Tickets",
        "  [3] Sprache / Language",
    ]


def test_clear_answer_prints_title_and_link(say: Callable[[str], str], lines: list[str]) -> None:
    """A question with a clear answer prints the entry's title and its help page address."""
    out = say(PASSWORD)
    assert "Passwort im Kundencenter ändern" in out
    assert HELP_LINK.search(out), out
    assert buttons(lines)[0] == "  [1] 👍 Hat geholfen"


def test_typing_a_button_number_presses_that_button(
    say: Callable[[str], str], store: TicketStore
) -> None:
    """After an answer, typing 1 presses "helped": the bot thanks and the feedback is logged."""
    say(PASSWORD)
    out = say("1")
    assert "Das freut mich" in out
    [question] = store.questions()
    assert question.feedback == "helped"


@pytest.mark.parametrize("number", ["0", "4", "12"])
def test_number_outside_the_buttons_is_sent_as_text(
    say: Callable[[str], str], store: TicketStore, number: str
) -> None:
    """A number that is no button of the latest message goes to the bot as a message."""
    say(PASSWORD)
    out = say(number)
    assert "Das freut mich" not in out
    assert [q.question for q in store.questions()] == [PASSWORD, number]
    assert store.questions()[0].feedback is None


def test_escalation_with_cost_notice_consent_and_ticket(
    say: Callable[[str], str], lines: list[str], store: TicketStore
) -> None:
    """Extended help: price with agree as [1]; pressing 1 opens ticket 1001 with the consent."""
    answer = say(FIREWALL)
    assert HELP_LINK.search(answer)
    notice = say("/support")
    assert "25,00 €" in notice
    assert buttons(lines) == ["  [1] ✅ Ja, kostenpflichtig beauftragen", "  [2] Nein, danke"]
    assert "(staff side)" not in notice
    assert store.tickets() == []

    created = say("1")
    assert "Ticket 1001" in created
    assert (
        "  (staff side) ticket 1001 reached the support queue (see: triagebot queue show 1001)\n"
        in lines
    )
    ticket = store.ticket(1001)
    assert ticket.tier is Tier.EXTENDED
    assert ticket.customer_id == ANNA.id
    assert ticket.request == FIREWALL
    assert ticket.consent_id is not None
    consent = store.consent(ticket.consent_id)
    assert consent.decision is ConsentDecision.AGREE
    assert consent.customer_id == ANNA.id
    assert "25,00 €" in consent.text


def test_command_with_bot_suffix_and_argument_reaches_the_ticket(
    say: Callable[[str], str], lines: list[str], store: TicketStore
) -> None:
    """The support command with a bot suffix and a described outage opens a standard ticket."""
    created = say(f"/support@triagebot {MAIL_OUTAGE}")
    assert "Ticket 1001" in created
    assert any(line.startswith("  (staff side) ticket 1001 reached") for line in lines)
    ticket = store.ticket(1001)
    assert ticket.tier is Tier.STANDARD
    assert ticket.request == MAIL_OUTAGE
    assert ticket.consent_id is None


def test_number_without_any_buttons_goes_to_the_open_ticket(
    say: Callable[[str], str], lines: list[str], store: TicketStore
) -> None:
    """With no buttons shown, "1" is a message: with a ticket open it reaches the staff side."""
    say(f"/support {MAIL_OUTAGE}")
    say("1")
    assert any(line.startswith("  (staff side) ticket 1001: ") for line in lines)
    assert [m.text for m in store.messages(1001)][-1] == "1"


@pytest.mark.parametrize("quit_command", ["/quit", "/exit"])
def test_run_ignores_blank_lines_and_stops_at_quit(
    chat: ConsoleChat, lines: list[str], store: TicketStore, quit_command: str
) -> None:
    """run() skips blank lines and handles nothing after /quit (or /exit)."""
    chat.run(["", "   ", "/start", "\t", f"  {quit_command}  ", PASSWORD, "/start"])
    assert sum("Hallo Anna" in line for line in lines) == 1
    assert lines.count("") == 1  # one reply, each followed by one empty line
    assert store.questions() == []


def test_ansi_console_prints_bold_titles(
    engine: MatchingEngine, store: TicketStore, lines: list[str]
) -> None:
    """With ansi=True the answer's title is bold in the terminal; by default no escapes appear."""
    config = Config(content_path=CONTENT, database=store.path)
    conversation = build_conversation(config, store, engine)
    ConsoleChat(conversation, ANNA, lines.append, ansi=True).say(PASSWORD)
    assert f"{BOLD}Passwort im Kundencenter ändern{RESET}" in "\n".join(lines)
    lines.clear()
    ConsoleChat(conversation, ANNA, lines.append).say(PASSWORD)
    assert "\033" not in "\n".join(lines)


# The real command line


def triagebot(config: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` with a config file and piped input; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_demo_cli_escalates_and_queue_lists_the_ticket(tmp_path: Path) -> None:
    """`demo` reads piped lines to EOF and exits 0; its ticket shows in `queue list`."""
    database = tmp_path / "demo.sqlite3"
    config = tmp_path / "triagebot.toml"
    config.write_text(
        f"[content]\npath = {str(CONTENT)!r}\n\n[storage]\ndatabase = {str(database)!r}\n",
        encoding="utf-8",
    )
    demo = triagebot(
        config, "demo", "--name", "Anna", "--lang", "de", stdin=f"{FIREWALL}\n\n/support\n1\n"
    )
    assert demo.returncode == 0, demo.stderr
    assert "Hallo Anna" in demo.stdout
    assert "25,00 €" in demo.stdout
    assert "(staff side) ticket 1001 reached the support queue" in demo.stdout

    queue = triagebot(config, "queue", "list")
    assert queue.returncode == 0, queue.stderr
    [row] = queue.stdout.splitlines()
    assert row.split()[:3] == ["1001", "open", "extended"]
    assert "Anna" in row
