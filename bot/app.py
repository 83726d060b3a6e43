"""Composition root: builds the engine, the conversation and their parts from config."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from bot.config import Config, ConfigError
from bot.content.loader import ContentError, LoadResult, load_content
from bot.delivery.dispatcher import Channel, Dispatcher
from bot.delivery.sinks import SinkChannel
from bot.matching.engine import MatchingEngine
from bot.render import Catalogue
from bot.telegram.adapter import TelegramAdapter
from bot.telegram.budget import FloodBudget
from bot.telegram.delivery import StaffRouter, TelegramChannel
from bot.telegram.digest import Digest
from bot.telegram.reload import ContentReloader
from bot.telegram.runner import Runner, build_application
from bot.telegram.sla_jobs import SlaJobs
from bot.telegram.staff import StaffDirectory
from bot.tickets.outbox import Outbox
from bot.tickets.protocol import ConversationStore
from bot.tickets.sinks import MIN_SECRET_LENGTH, EmailSink, Sink, WebhookSink
from bot.tickets.store import TicketStore
from bot.tickets.threads import StaffThreads
from bot.tickets.watch import Watch
from bot.triage.classifier import Classifier
from bot.triage.conversation import Conversation, Policy
from bot.triage.decisions import ButtonAnswer
from bot.triage.events import CustomerEvent
from bot.workers import Core, Handled, ProcessCore, ThreadCore


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
    outbox: Outbox | None = None,
) -> Conversation:
    """Build the conversation core on a store and an engine, with the config's terms."""
    policy = Policy(
        tariff=config.tariff,
        hours=config.business_hours,
        first_response=config.first_response,
        staff_lang=config.staff_language,
    )
    texts = texts or build_catalogue(config)
    return Conversation(store, engine, build_classifier(engine), texts, policy, outbox=outbox)


TOKEN_VARIABLE = "TRIAGEBOT_TELEGRAM_TOKEN"


def load_strict_content(config: Config) -> LoadResult:
    """Load the content for the running bot, which refuses content with any error."""
    result = load_content(config.content_path)
    if result.errors or not result.content.entries:
        raise ContentError(result.problems)
    return result


SMTP_PASSWORD_VARIABLE = "TRIAGEBOT_SMTP_PASSWORD"
WEBHOOK_SECRET_VARIABLE = "TRIAGEBOT_WEBHOOK_SECRET"


def build_outbox(config: Config, store: TicketStore) -> Outbox:
    """Build the outbox, copying staff-side deliveries to the configured sinks."""
    present = {"email": config.email, "webhook": config.webhook}
    return Outbox(store, sinks=[name for name, settings in present.items() if settings])


def build_sinks(config: Config, environ: Mapping[str, str] = os.environ) -> list[tuple[str, Sink]]:
    """Build the helpdesk sinks the config names; secrets may come from the environment."""
    sinks: list[tuple[str, Sink]] = []
    where = config.source or "the built-in config"
    if config.email is not None:
        password = environ.get(SMTP_PASSWORD_VARIABLE) or config.email.password
        sinks.append(("email", EmailSink(replace(config.email, password=password))))
    if config.webhook is not None:
        secret = environ.get(WEBHOOK_SECRET_VARIABLE) or config.webhook.secret
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{where}: [webhook] secret (or {WEBHOOK_SECRET_VARIABLE}) needs at least"
                f" {MIN_SECRET_LENGTH} characters"
            )
        sinks.append(("webhook", WebhookSink(replace(config.webhook, secret=secret))))
    return sinks


def build_telegram(
    config: Config,
    store: TicketStore,
    environ: Mapping[str, str] = os.environ,
    *,
    time_scale: float = 1.0,
) -> Runner:
    """Build the Telegram bot: content, engine, conversation, outbox, adapter, runner.

    `time_scale` > 1 runs flood budgets and retry waits faster, against a test server
    whose clock runs as fast.
    """
    settings = config.telegram
    token = environ.get(TOKEN_VARIABLE, "") or settings.token
    where = config.source or "the built-in config"
    if not token:
        raise ConfigError(f"{where}: set [telegram] token or the env {TOKEN_VARIABLE}")
    if not settings.staff_chat_id:
        raise ConfigError(f"{where}: set [telegram] staff_chat_id to the staff group's id")
    engine = build_engine(config, load_strict_content(config))
    texts = build_catalogue(config)
    outbox = build_outbox(config, store)
    conversation = build_conversation(config, store, engine, texts, outbox)
    application = build_application(settings, token)
    threads = StaffThreads(store)
    budget = FloodBudget.telegram(
        settings.staff_rate_per_minute, enabled=settings.flood_limits, time_scale=time_scale
    )
    telegram = TelegramChannel(
        application.bot,
        store=store,
        threads=threads,
        view=conversation.staff_view,
        outbox=outbox,
        budget=budget,
        router=StaffRouter(settings.all_staff_chats, dict(settings.routing)),
    )
    channels: dict[str, Channel] = {"telegram": telegram}
    channels.update((name, SinkChannel(sink, store)) for name, sink in build_sinks(config, environ))
    digest = Digest(outbox, telegram, texts, config.staff_language, settings.digest_after)
    dispatcher = Dispatcher(outbox, channels, before_round=digest.fold, time_scale=time_scale)
    sla = SlaJobs(
        store=store,
        watch=Watch(store),
        view=conversation.staff_view,
        outbox=outbox,
        dispatcher=dispatcher,
        texts=texts,
        lang=config.staff_language,
        chats=settings.all_staff_chats,
        reminders=config.reminders,
        timezone=config.business_hours.timezone,
        time_scale=time_scale,
    )
    staff = StaffDirectory(application.bot, settings.all_staff_chats, config.staff_admins)
    core: Core = (
        ProcessCore(config, start_worker, handle_in_worker)
        if settings.workers
        else ThreadCore(handling(conversation, outbox))
    )
    TelegramAdapter(
        conversation,
        core,
        dispatcher=dispatcher,
        threads=threads,
        staff=staff,
        staff_chats=settings.all_staff_chats,
        overview=sla.overview,
    ).install(application)

    def rebuild(result: LoadResult) -> tuple[MatchingEngine, Classifier]:
        engine = build_engine(config, result)
        return engine, build_classifier(engine)

    reloader = ContentReloader(
        config.content_path,
        conversation,
        rebuild,
        core=core,
        outbox=outbox,
        dispatcher=dispatcher,
        staff_chat_id=settings.staff_chat_id,
        texts=texts,
    )
    return Runner(
        application,
        telegram,
        texts,
        settings,
        core=core,
        dispatcher=dispatcher,
        sla=sla,
        background=[reloader.watch],
    )


def handling(conversation: Conversation, outbox: Outbox) -> Callable[[CustomerEvent], Handled]:
    """Return a function that handles an event and collects the replies ready to go out."""

    def handle(event: CustomerEvent) -> Handled:
        with outbox.collecting() as ready:
            decisions = conversation.handle(event)
        answers = [d for d in decisions if isinstance(d, ButtonAnswer)]
        return Handled(answers, ready, len(decisions) - len(answers))

    return handle


_worker_handle: list[Callable[[CustomerEvent], Handled]] = []
"""How a worker process (see bot.workers.ProcessCore) handles events, once started."""


def start_worker(config: Config) -> None:
    """Build a worker process's own store, engine and conversation from the config."""
    store = TicketStore.open(config.database)
    engine = build_engine(config, load_usable_content(config))
    outbox = build_outbox(config, store)
    conversation = build_conversation(config, store, engine, outbox=outbox)
    _worker_handle[:] = [handling(conversation, outbox)]


def handle_in_worker(event: CustomerEvent) -> Handled:
    """Handle one customer event on the worker process's conversation."""
    return _worker_handle[0](event)
