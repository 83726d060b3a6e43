"""Play the customer in a terminal: lines in, the bot's messages and numbered buttons out."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.console.plain import plain_text
from bot.triage.conversation import Conversation
from bot.triage.decisions import (
    Button,
    ButtonAnswer,
    Decision,
    Reply,
    StaffPost,
    TicketOpened,
    TopicStatus,
)
from bot.triage.events import (
    ButtonPressed,
    CustomerCommand,
    CustomerEvent,
    CustomerText,
    Person,
)

QUIT = frozenset({"/quit", "/exit"})


class ConsoleChat:
    """Translate terminal lines into customer events and print what the bot decides."""

    def __init__(
        self,
        conversation: Conversation,
        person: Person,
        write: Callable[[str], None],
        *,
        ansi: bool = False,
    ) -> None:
        self._conversation = conversation
        self._person = person
        self._write = write
        self._ansi = ansi
        self._buttons: list[Button] = []

    def run(self, lines: Iterable[str]) -> None:
        """Handle every line until the input ends or the customer types /quit."""
        for line in lines:
            text = line.strip()
            if text in QUIT:
                break
            if text:
                self.say(text)

    def say(self, text: str) -> None:
        """Handle one line: a button number, a /command, or a message."""
        self._show(self._conversation.handle(self._event(text)))

    def _event(self, text: str) -> CustomerEvent:
        if text.isdigit() and 1 <= int(text) <= len(self._buttons):
            return ButtonPressed(self._person, self._buttons[int(text) - 1].data)
        if text.startswith("/"):
            command, _, argument = text[1:].partition(" ")
            return CustomerCommand(self._person, command.split("@")[0], argument)
        return CustomerText(self._person, text)

    def _show(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            match decision:
                case Reply(message=message, buttons=rows):
                    self._write(plain_text(message.text, ansi=self._ansi))
                    if rows:
                        self._buttons = [button for row in rows for button in row]
                        for number, button in enumerate(self._buttons, 1):
                            self._write(f"  [{number}] {button.label}")
                    self._write("")
                case TicketOpened(ticket_number=number):
                    self._staff(
                        f"ticket {number} reached the support queue"
                        f" (see: triagebot queue show {number})"
                    )
                case StaffPost(ticket_number=number, message=message):
                    first_line = plain_text(message.text).strip().splitlines()[0]
                    self._staff(f"ticket {number}: {first_line}")
                case ButtonAnswer(message=message):
                    self._write(plain_text(message.text, ansi=self._ansi) + "\n")
                case TopicStatus():
                    pass

    def _staff(self, text: str) -> None:
        self._write(f"  (staff side) {text}\n")
