"""Composition root: builds the engine, the conversation and their parts from config."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.content.loader import ContentError, LoadResult, load_content
from bot.matching.engine import MatchingEngine
from bot.render import Catalogue
from bot.tickets.protocol import ConversationStore
from bot.triage.classifier import Classifier
from bot.triage.conversation import Conversation, Policy


def load_usable_content(config: Config, content_path: Path | None = None) -> LoadResult:
    """Load the content, keeping the valid entries; raise ContentError when none is usable."""
    result = load_content(content_path or config.content_path)
    if not result.content.entries:
        raise ContentError(result.problems)
    return result


def build_engine(config: Config, result: LoadResult) -> MatchingEngine:
    """Build the matching engine over the valid entries of loaded content."""
    return MatchingEngine(result.content, config.thresholds)


def build_classifier(engine: MatchingEngine) -> Classifier:
    """Build the triage classifier on top of the engine's matcher."""
    return Classifier(engine.matcher)


def build_conversation(
    config: Config, store: ConversationStore, engine: MatchingEngine
) -> Conversation:
    """Build the conversation core on a store and an engine, with the config's terms."""
    policy = Policy(
        tariff=config.tariff,
        hours=config.business_hours,
        first_response=config.first_response,
        staff_lang=config.staff_language,
    )
    texts = Catalogue(config.tariff.currency, config.business_hours.timezone)
    return Conversation(store, engine, build_classifier(engine), texts, policy)
