"""Composition root: builds the engine, the conversation and their parts from config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bot.config import Config, ConfigError
from bot.content.loader import ContentError, LoadResult, load_content
from bot.matching.engine import MatchingEngine
from bot.render import Catalogue
from bot.telegram.adapter import TelegramAdapter
from bot.telegram.delivery import Delivery
from bot.telegram.reload import ContentReloader
from bot.telegram.runner import Runner, build_application
from bot.telegram.staff import StaffDirectory
from bot.tickets.protocol import ConversationStore
from bot.tickets.store import TicketStore
from bot.tickets.threads import StaffThreads
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


def build_catalogue(config: Config) -> Catalogue:
    """Build the message templates in every language, with the config's money and timezone."""
    return Catalogue(config.tariff.currency, config.business_hours.timezone)


def build_conversation(
    config: Config,
    store: ConversationStore,
    engine: MatchingEngine,
    texts: Catalogue | None = None,
) -> Conversation:
    """Build the conversation core on a store and an engine, with the config's terms."""
    policy = Policy(
        tariff=config.tariff,
        hours=config.business_hours,
        first_response=config.first_response,
        staff_lang=config.staff_language,
    )
    texts = texts or build_catalogue(config)
    return Conversation(store, engine, build_classifier(engine), texts, policy)


TOKEN_VARIABLE = "TRIAGEBOT_TELEGRAM_TOKEN"


def load_strict_content(config: Config) -> LoadResult:
    """Load the content for the running bot, which refuses content with any error."""
    result = load_content(config.content_path)
    if result.errors or not result.content.entries:
        raise ContentError(result.problems)
    return result


def build_telegram(
    config: Config, store: TicketStore, environ: Mapping[str, str] = os.environ
) -> Runner:
    """Build the Telegram bot: content, engine, conversation, adapter, reloader, runner."""
    settings = config.telegram
    token = environ.get(TOKEN_VARIABLE, "") or settings.token
    where = config.source or "the built-in config"
    if not token:
        raise ConfigError(f"{where}: set [telegram] token or the env {TOKEN_VARIABLE}")
    if not settings.staff_chat_id:
        raise ConfigError(f"{where}: set [telegram] staff_chat_id to the staff group's id")
    engine = build_engine(config, load_strict_content(config))
    texts = build_catalogue(config)
    conversation = build_conversation(config, store, engine, texts)
    application = build_application(settings, token)
    threads = StaffThreads(store)
    delivery = Delivery(
        application.bot, store, threads, conversation.staff_view, settings.staff_chat_id
    )
    staff = StaffDirectory(application.bot, settings.staff_chat_id, config.staff_admins)
    TelegramAdapter(conversation, delivery, threads, staff, settings.staff_chat_id).install(
        application
    )

    def rebuild(result: LoadResult) -> tuple[MatchingEngine, Classifier]:
        engine = build_engine(config, result)
        return engine, build_classifier(engine)

    reloader = ContentReloader(
        config.content_path,
        conversation,
        rebuild,
        bot=application.bot,
        staff_chat_id=settings.staff_chat_id,
        texts=texts,
    )
    return Runner(application, delivery, texts, settings, reloader.watch)
