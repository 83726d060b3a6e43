"""Starting the Telegram bot: start-up errors, config, command menu, updates, webhook, reload."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from fake_bot_api import FakeBotApi
from telegram_harness import AGENT, ANNA, CONTENT, STAFF, TOKEN, Running, config_for, running_bot

from bot.app import TOKEN_VARIABLE, build_telegram
from bot.config import Config, ConfigError
from bot.telegram.runner import StartupError
from bot.tickets.store import TicketStore

REPO = Path(__file__).parent.parent
COMMANDS = ["start", "help", "language", "support", "tickets", "cancel", "forget"]
PASSWORD = "Wie ändere ich mein Passwort im Kundencenter?"
PASSWORD_LINK = "https://help.example-hoster.de/kundencenter/passwort-aendern"
POTION = "Wie buche ich einen Zaubertrank?"
POTION_LINK = "https://help.example-hoster.de/webhosting/zaubertrank-buchen"
POTION_ENTRY = f"""---
id: zaubertrank-buchen
title: Einen Zaubertrank buchen
lang: de
tier: standard
category: Webhosting
url: {POTION_LINK}
questions:
  - {POTION}
  - Wo kann ich einen Zaubertrank bestellen?
  - Gibt es Zaubertränke im Kundencenter?
tags: [zaubertrank, trank, magie]
summary: Zaubertränke buchen Sie im Kundencenter unter Extras → Zaubertrank.
---
Einen Zaubertrank buchen Sie im Kundencenter unter **Extras → Zaubertrank**. Wählen Sie die
Sorte und bestätigen Sie die Bestellung; der Trank steht sofort bereit.
"""


def with_telegram(config: Config, **changes: Any) -> Config:
    """Return the config with some [telegram] settings changed."""
    return replace(config, telegram=replace(config.telegram, **changes))


async def start_error(config: Config) -> str:
    """Start the bot on a config that must fail; return the StartupError's message."""
    with TicketStore.open(config.database) as store:
        runner = build_telegram(config, store, environ={})
        with pytest.raises(StartupError) as raised:
            await runner.start()
        assert not runner.application.running
    message = str(raised.value)
    # Drop the bot (the traceback holds it too): an unclosed connection warns now, and
    # warnings are errors.
    del runner, raised
    gc.collect()
    assert "\n" not in message
    return message


# Start-up errors


async def test_a_wrong_token_is_one_line_about_the_token(api: FakeBotApi, tmp_path: Path) -> None:
    """A token the Bot API refuses (401) stops start-up with a line naming the token setting."""
    api.add_chat(STAFF, members=[AGENT.id])
    config = with_telegram(config_for(api, tmp_path), token="654321:WRONG-token")
    message = await start_error(config)
    assert "token" in message
    assert "TRIAGEBOT_TELEGRAM_TOKEN" in message
    assert [c.status for c in api.calls("getMe")] == [401]


async def test_an_unreachable_api_is_one_line(api: FakeBotApi, tmp_path: Path) -> None:
    """A Bot API address nobody listens on stops start-up with "cannot reach the Bot API"."""
    base_url = f"http://127.0.0.1:{free_port()}/bot"
    config = with_telegram(config_for(api, tmp_path), base_url=base_url)
    message = await start_error(config)
    assert message.startswith(f"cannot reach the Bot API at {base_url}")
    assert api.calls() == []


async def test_an_unknown_staff_chat_is_one_line(api: FakeBotApi, tmp_path: Path) -> None:
    """A staff chat the bot is not in stops start-up with a line naming [telegram] staff_chat_id."""
    config = config_for(api, tmp_path)  # the fake does not know STAFF: add_chat was not called
    message = await start_error(config)
    assert f"[telegram] staff_chat_id {STAFF.id}" in message
    assert "add the bot" in message


@pytest.mark.parametrize(
    "membership",
    [{"status": "member"}, {"status": "administrator", "can_manage_topics": False}],
    ids=["member", "admin-without-topics"],
)
async def test_a_forum_needs_the_right_to_manage_topics(
    api: FakeBotApi, tmp_path: Path, membership: dict[str, Any]
) -> None:
    """In a forum staff chat the bot must be an admin that may manage topics."""
    api.add_chat(STAFF, members=[AGENT.id])
    api.set_bot_member(STAFF.id, **membership)
    message = await start_error(config_for(api, tmp_path))
    assert f"[telegram] staff_chat_id {STAFF.id}" in message
    assert "manage topics" in message
    assert api.calls("setMyCommands") == []


async def test_the_cli_exits_2_with_one_line(api: FakeBotApi, tmp_path: Path) -> None:
    """`python -m bot run` with a token the API refuses prints one line and exits with 2."""
    api.add_chat(STAFF, members=[AGENT.id])
    config = tmp_path / "config.toml"
    config.write_text(
        f"""[telegram]
token = "654321:WRONG-token"
base_url = "{api.base_url}"
staff_chat_id = {STAFF.id}

[content]
path = "{CONTENT.as_posix()}"

[storage]
database = "{(tmp_path / "bot.sqlite3").as_posix()}"
""",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != TOKEN_VARIABLE}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(config),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    lines = stderr.decode().splitlines()
    assert process.returncode == 2, stderr.decode()
    assert stdout == b""
    assert len(lines) == 1, lines
    assert lines[0].startswith("triagebot: the Bot API refused the token")
    assert [c.status for c in api.calls("getMe")] == [401]


# Config errors


def test_no_token_is_a_config_error(api: FakeBotApi, tmp_path: Path) -> None:
    """Neither a token in the config nor the env var: ConfigError naming both."""
    config = with_telegram(config_for(api, tmp_path), token="")
    with TicketStore.open(config.database) as store, pytest.raises(ConfigError) as raised:
        build_telegram(config, store, environ={})
    assert "[telegram] token" in str(raised.value)
    assert TOKEN_VARIABLE in str(raised.value)


def test_no_staff_chat_is_a_config_error(api: FakeBotApi, tmp_path: Path) -> None:
    """staff_chat_id 0 (not set): ConfigError naming [telegram] staff_chat_id."""
    config = with_telegram(config_for(api, tmp_path), staff_chat_id=0)
    with TicketStore.open(config.database) as store, pytest.raises(ConfigError) as raised:
        build_telegram(config, store, environ={})
    assert "[telegram] staff_chat_id" in str(raised.value)


async def test_the_env_token_fills_an_empty_config_token(api: FakeBotApi, tmp_path: Path) -> None:
    """TRIAGEBOT_TELEGRAM_TOKEN is used when the config has no token; the bot then starts."""
    api.add_chat(STAFF, members=[AGENT.id])
    config = with_telegram(config_for(api, tmp_path), token="")
    with TicketStore.open(config.database) as store:
        runner = build_telegram(config, store, environ={TOKEN_VARIABLE: TOKEN})
        assert runner.application.bot.token == TOKEN
        await runner.start()
        try:
            assert [c.status for c in api.calls("getMe")] == [200]
        finally:
            await runner.stop()


# What the bot tells Telegram at start


async def test_the_command_menu_in_german_and_english(bot: Running) -> None:
    """setMyCommands: German descriptions for language_code de, English ones for everyone else."""
    calls = bot.api.calls("setMyCommands")
    assert len(calls) == 2
    by_language = {c.params.get("language_code"): c.params["commands"] for c in calls}
    assert set(by_language) == {"de", None}
    for commands in by_language.values():
        assert [c["command"] for c in commands] == COMMANDS
    german = {c["command"]: c["description"] for c in by_language["de"]}
    english = {c["command"]: c["description"] for c in by_language[None]}
    assert german["forget"] == "Meine Daten löschen"
    assert english["forget"] == "Delete my data"
    assert all(german[name] != english[name] for name in COMMANDS)


async def test_polling_asks_only_for_messages_and_button_presses(bot: Running) -> None:
    """getUpdates is called with allowed_updates ["message", "callback_query"]."""
    bot.api.user_text(ANNA, "/start")
    await bot.reply_to(ANNA, "Anna")
    polls = bot.api.calls("getUpdates")
    assert polls
    assert all(c.params["allowed_updates"] == ["message", "callback_query"] for c in polls)


# Webhook mode


async def test_the_webhook_needs_the_secret(api: FakeBotApi, tmp_path: Path) -> None:
    """setWebhook gets the url and secret; posts without the right secret are refused (403)."""
    port = free_port()
    async with running_bot(
        api,
        tmp_path,
        mode="webhook",
        listen="127.0.0.1",
        port=port,
        webhook_url="https://bot.example.test/hook",
        secret_token="s3cret",
    ) as bot:
        webhook = api.calls("setWebhook")
        assert len(webhook) == 1
        assert webhook[0].params["url"] == "https://bot.example.test/hook"
        assert webhook[0].params["secret_token"] == "s3cret"
        assert webhook[0].params["allowed_updates"] == ["message", "callback_query"]
        assert api.calls("getUpdates") == []
        url = f"http://127.0.0.1:{port}/hook"
        for secret in ("wrong", None):
            refused = api.user_text(ANNA, f"{PASSWORD} ({secret})", deliver=False)
            assert await api.post_update(url, refused, secret) == 403
        update = api.user_text(ANNA, PASSWORD, deliver=False)
        assert await api.post_update(url, update, "s3cret") == 200
        reply = await bot.reply_to(ANNA, PASSWORD_LINK)
        assert "(wrong)" not in reply.params["text"]
        assert len([c for c in api.calls("sendMessage") if c.params["chat_id"] == ANNA.id]) == 1
        store = bot.store
        questions = store.connection.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
        assert questions == 1


# Content reload


@asynccontextmanager
async def running_on(api: FakeBotApi, config: Config) -> AsyncIterator[Running]:
    """Start the real bot on a given config (running_bot always uses the shipped content)."""
    api.add_chat(STAFF, members=[AGENT.id])
    with TicketStore.open(config.database) as store:
        runner = build_telegram(config, store, environ={})
        await runner.start()
        try:
            yield Running(api, runner, store, STAFF)
        finally:
            await runner.stop()


async def test_content_is_reloaded_and_broken_content_is_refused(
    api: FakeBotApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A new entry file answers within seconds; a broken file is reported and changes nothing."""
    caplog.set_level(logging.INFO, logger="bot.telegram.reload")
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    config = replace(config_for(api, tmp_path), content_path=content)
    async with running_on(api, config) as bot:
        # Unknown so far; the round trip also gives the watcher time to start.
        mark = api.mark()
        api.user_text(ANNA, POTION)
        before = await bot.reply_to(ANNA, since=mark)
        assert POTION_LINK not in before.params["text"]

        (content / "webhosting" / "zaubertrank-buchen.md").write_text(
            POTION_ENTRY, encoding="utf-8"
        )
        await api.wait_for(
            lambda: any("content reloaded" in r.getMessage() for r in caplog.records), timeout=10
        )
        mark = api.mark()
        api.user_text(ANNA, POTION)
        await bot.reply_to(ANNA, POTION_LINK, since=mark)

        # Break the entry the password question is answered with: its last good version stays.
        broken = content / "kundencenter" / "kundencenter-passwort-aendern.md"
        broken.write_text("---\nid: [nicht geschlossen\n---\nText\n", encoding="utf-8")
        report = await bot.staff_post("Die FAQ-Inhalte haben", since=mark)
        assert broken.name in report.params["text"]
        assert report.params.get("message_thread_id") is None
        for question, link in ((POTION, POTION_LINK), (PASSWORD, PASSWORD_LINK)):
            mark = api.mark()
            api.user_text(ANNA, question)
            await bot.reply_to(ANNA, link, since=mark)
