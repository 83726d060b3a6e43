"""A test driver for the conversation core: a customer who types, presses and reads."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from bot.app import build_classifier, build_engine, load_usable_content
from bot.config import Config
from bot.matching.engine import MatchingEngine
from bot.render import Catalogue
from bot.tickets.store import TicketStore
from bot.triage.conversation import Conversation, Policy
from bot.triage.decisions import ButtonAnswer, Decision, Reply, StaffPost, TicketOpened
from bot.triage.events import (
    Attachment,
    ButtonPressed,
    CustomerCommand,
    CustomerFile,
    CustomerOther,
    CustomerText,
    Person,
)

CONTENT = Path(__file__).parent.parent / "faq_content"
# A Wednesday morning in business hours: first responses are due the same day.
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@lru_cache(maxsize=1)
def shipped_engine() -> MatchingEngine:
    """Return the engine over the shipped content, built once per test session."""
    config = Config(content_path=CONTENT)
    return build_engine(config, load_usable_content(config))


def conversation(store: TicketStore, config: Config | None = None) -> Conversation:
    """Return a conversation core on the shipped content with the config's terms."""
    config = config or Config()
    engine = shipped_engine()
    policy = Policy(
        config.tariff, config.business_hours, config.first_response, config.staff_language
    )
    texts = Catalogue(config.tariff.currency, config.business_hours.timezone)
    return Conversation(store, engine, build_classifier(engine), texts, policy, clock=lambda: NOW)


class Customer:
    """One customer in a private chat: sends events and keeps what the bot sent back."""

    def __init__(
        self, conversation: Conversation, customer_id: int = 4242, language_code: str = "de"
    ) -> None:
        self.conversation = conversation
        self.person = Person(customer_id, "Anna", "anna_k", language_code)
        self.decisions: list[Decision] = []

    def say(self, text: str) -> list[Decision]:
        """Send a text message."""
        return self._handle(CustomerText(self.person, text))

    def command(self, command: str, argument: str = "") -> list[Decision]:
        """Send a command such as /support."""
        return self._handle(CustomerCommand(self.person, command, argument))

    def send_file(self, kind: str = "photo", caption: str = "") -> list[Decision]:
        """Send a photo or document."""
        file = Attachment(kind, "file-1", caption, 77, self.person.id)
        return self._handle(CustomerFile(self.person, file))

    def send_other(self, kind: str = "sticker") -> list[Decision]:
        """Send something the bot cannot read."""
        return self._handle(CustomerOther(self.person, kind))

    def press(self, label: str) -> list[Decision]:
        """Press the button whose label contains `label` on the latest message with buttons."""
        return self._handle(ButtonPressed(self.person, self.button(label)))

    def press_data(self, data: str) -> list[Decision]:
        """Press a button by its raw callback data (forged, stale or kept from before)."""
        return self._handle(ButtonPressed(self.person, data))

    def button(self, label: str) -> str:
        """Return the callback data of a button on the latest message with buttons."""
        for row in self.latest_buttons():
            for button in row:
                if label.lower() in button.label.lower():
                    return button.data
        raise AssertionError(f"no button {label!r} in {self.latest_buttons()}")

    def latest_buttons(self) -> tuple[tuple[object, ...], ...]:
        """Return the button rows of the latest reply that had buttons."""
        for decision in reversed(self.decisions):
            if isinstance(decision, Reply) and decision.buttons:
                return decision.buttons
        return ()

    def _handle(self, event: object) -> list[Decision]:
        decisions = self.conversation.handle(event)  # type: ignore[arg-type]
        self.decisions.extend(decisions)
        return decisions


def replies(decisions: list[Decision]) -> list[str]:
    """Return the template names of the messages sent to the customer (or button answers)."""
    return [d.message.template for d in decisions if isinstance(d, Reply | ButtonAnswer)]


def reply_text(decisions: list[Decision]) -> str:
    """Return the texts sent to the customer, joined."""
    return "\n".join(d.message.text for d in decisions if isinstance(d, Reply))


def to_staff(decisions: list[Decision]) -> list[Decision]:
    """Return what goes to the staff side: new tickets and thread posts."""
    return [d for d in decisions if isinstance(d, TicketOpened | StaffPost)]
