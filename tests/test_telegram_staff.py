"""The staff side end to end: files, blocked customers, card buttons, commands, plain groups."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_bot_api import FakeBotApi, FakeChat, RecordedCall
from telegram_harness import AGENT, ANNA, JOHN, STRANGER, Running, running_bot

from bot.content.model import Tier
from bot.tickets.model import ConsentDecision, TicketStatus
from bot.tickets.threads import StaffThreads

MAIL_FAULT = (
    "Ich möchte mit einem Mitarbeiter sprechen: euer Mailserver nimmt seit heute früh"
    " keine Mails mehr an, bei euch ist wohl eine Störung"
)
PASSWORD = "Wie ändere ich mein Passwort im Kundencenter?"
PASSWORD_LINK = "https://help.example-hoster.de/kundencenter/passwort-aendern"
PLAIN_STAFF = FakeChat(id=-2002, type="supergroup", title="Staff", is_forum=False)


@pytest.fixture(autouse=True)
def no_logged_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test when a handler raised: the Application's error handler logs at ERROR."""
    caplog.set_level(logging.INFO, logger="bot.telegram")
    yield
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


async def open_ticket(bot: Running) -> tuple[RecordedCall, int | None]:
    """Let Anna report a fault of ours; return the card's call and the ticket's topic."""
    bot.api.user_text(ANNA, MAIL_FAULT)
    card = await bot.staff_post("Mailserver")
    await bot.reply_to(ANNA, "1001")
    thread = await bot.thread_of(1001)
    assert thread == card.params.get("message_thread_id")
    return card, thread


def in_topic(api: FakeBotApi, update: dict[str, Any], chat: FakeChat, thread: int) -> None:
    """Move a built (undelivered) group message into a forum topic and deliver it."""
    message = update["message"]
    message["message_thread_id"] = thread
    message["is_topic_message"] = True
    root = api.message(chat.id, thread)
    assert root is not None
    message["reply_to_message"] = root
    api.queue_update(update)


def sends_to(api: FakeBotApi, chat_id: int, since: int = 0) -> list[RecordedCall]:
    """Successful sendMessage and copyMessage calls to a chat after a mark."""
    return [
        c
        for c in api.calls()[since:]
        if c.method in ("sendMessage", "copyMessage") and c.ok and c.params["chat_id"] == chat_id
    ]


# Files


async def test_customer_files_are_copied_into_the_topic(bot: Running) -> None:
    """A photo and a document of the customer are announced and copied into the ticket's topic."""
    _, thread = await open_ticket(bot)
    assert thread is not None
    photo = bot.api.user_photo(ANNA, "PHOTO1", caption="Screenshot vom Fehler")
    post = await bot.staff_post("Foto")
    assert "Screenshot vom Fehler" in post.params["text"]
    assert post.params["message_thread_id"] == thread
    copied = await bot.api.wait_for_call(
        "copyMessage", lambda p: p["message_id"] == photo["message"]["message_id"]
    )
    assert copied.params["chat_id"] == bot.staff.id
    assert copied.params["from_chat_id"] == ANNA.id
    assert copied.params["message_thread_id"] == thread

    document = bot.api.user_document(ANNA, "DOC1", file_name="mail.log", mime_type="text/plain")
    await bot.staff_post("Dokument")
    copied = await bot.api.wait_for_call(
        "copyMessage", lambda p: p["message_id"] == document["message"]["message_id"]
    )
    assert (copied.params["from_chat_id"], copied.params["message_thread_id"]) == (ANNA.id, thread)
    topic = bot.api.messages_in_topic(bot.staff.id, thread)
    assert [m["photo"][-1]["file_id"] for m in topic if "photo" in m] == ["PHOTO1"]
    assert [m["document"]["file_id"] for m in topic if "document" in m] == ["DOC1"]


async def test_an_agents_photo_is_copied_to_the_customer(bot: Running) -> None:
    """A photo an agent posts in the topic reaches the customer as a copy, with its caption."""
    _, thread = await open_ticket(bot)
    assert thread is not None
    update = bot.api.user_photo(
        AGENT, "PHOTO2", caption="So muss es aussehen", chat=bot.staff, deliver=False
    )
    in_topic(bot.api, update, bot.staff, thread)
    copied = await bot.api.wait_for_call("copyMessage", lambda p: p["chat_id"] == ANNA.id)
    assert copied.params["from_chat_id"] == bot.staff.id
    assert copied.params["message_id"] == update["message"]["message_id"]
    assert "message_thread_id" not in copied.params
    await bot.reply_to(ANNA, "So muss es aussehen")
    photos = [m for m in bot.api.sent_to(ANNA.id) if "photo" in m]
    assert [m["photo"][-1]["file_id"] for m in photos] == ["PHOTO2"]


# Blocked customers


async def test_a_blocked_customer_is_reported_in_the_topic_until_they_write(bot: Running) -> None:
    """A reply to a customer who blocked the bot posts a warning; their next message clears it."""
    _, thread = await open_ticket(bot)
    bot.api.block(ANNA.id)
    bot.api.group_text(bot.staff, AGENT, "Bitte senden Sie uns das Log.", thread_id=thread)
    warning = await bot.staff_post("blockiert")
    assert warning.params["message_thread_id"] == thread
    assert "1001" in warning.params["text"]

    def unreachable_at() -> Any:
        row = bot.store.connection.execute(
            "SELECT unreachable_at FROM customers WHERE id = ?", (ANNA.id,)
        ).fetchone()
        return row[0]

    assert unreachable_at() is not None
    bot.api.unblock(ANNA.id)
    mark = bot.api.mark()
    bot.api.user_text(ANNA, "Ich hatte den Bot aus Versehen blockiert")
    await bot.staff_post("aus Versehen blockiert", since=mark)
    assert unreachable_at() is None


# Card buttons and who counts as staff


async def test_only_staff_can_press_card_buttons_or_reply(bot: Running) -> None:
    """A stranger's press gets an alert and changes nothing; the agent's press claims the ticket."""
    card, thread = await open_ticket(bot)
    mark = bot.api.mark()
    await bot.press(STRANGER, card, "Übernehmen")
    refused = await bot.api.wait_for_call("answerCallbackQuery", since=mark)
    assert refused.params.get("show_alert") is True
    assert refused.params["text"] == "Only members of the support team can do that."
    ticket = bot.store.ticket(1001)
    assert (ticket.status, ticket.agent_id) == (TicketStatus.OPEN, None)

    bot.api.group_text(bot.staff, STRANGER, "Ich bin auch Support, versprochen", thread_id=thread)
    mark = bot.api.mark()
    await bot.press(AGENT, card, "Übernehmen")
    claimed = await bot.staff_post("wird von Bernd bearbeitet", since=mark)
    assert claimed.params["message_thread_id"] == thread
    answer = await bot.api.wait_for_call("answerCallbackQuery", since=mark)
    assert not answer.params.get("show_alert")
    assert bot.store.ticket(1001).agent_id == AGENT.id
    bot.api.group_text(bot.staff, AGENT, "Wir sehen uns das an.", thread_id=thread)
    await bot.reply_to(ANNA, "Wir sehen uns das an.")
    relayed = [str(c.params.get("text")) for c in sends_to(bot.api, ANNA.id)]
    assert not any("versprochen" in text for text in relayed)
    messages = bot.store.connection.execute("SELECT text FROM ticket_messages").fetchall()
    assert not any("versprochen" in row[0] for row in messages)


# Staff commands


async def test_staff_commands_in_the_topic(bot: Running) -> None:
    """/tier extended asks the customer first; bad arguments get the usage; close, reopen."""
    _, thread = await open_ticket(bot)
    mark = bot.api.mark()
    bot.api.group_text(bot.staff, AGENT, "/tier extended", thread_id=thread)
    notice = await bot.reply_to(ANNA, "25,00 €", since=mark)
    await bot.staff_post("um Zustimmung", since=mark)
    assert bot.store.ticket(1001).tier is Tier.STANDARD
    assert bot.store.ticket(1001).consent_id is None
    await bot.press(ANNA, notice, "kostenpflichtig")
    await bot.reply_to(ANNA, "Zustimmung ist gespeichert", since=mark)
    await bot.staff_post("jetzt erweiterter Support", since=mark)
    ticket = bot.store.ticket(1001)
    assert ticket.tier is Tier.EXTENDED
    assert ticket.consent_id is not None
    consent = bot.store.consent(ticket.consent_id)
    assert (consent.decision, consent.ticket_number) == (ConsentDecision.AGREE, 1001)

    for command, shown in (("/tier foo", "foo"), ("/time abc", "abc")):
        mark = bot.api.mark()
        bot.api.group_text(bot.staff, AGENT, command, thread_id=thread)
        usage = await bot.staff_post("nicht verstanden", since=mark)
        assert f"<code>{shown}</code>" in usage.params["text"]
        assert usage.params["message_thread_id"] == thread

    mark = bot.api.mark()
    bot.api.group_text(bot.staff, AGENT, "/time 15", thread_id=thread)
    logged = await bot.staff_post("erfasst", since=mark)
    assert "15 Minuten" in logged.params["text"]
    assert bot.store.ticket(1001).minutes_logged == 15

    bot.api.group_text(bot.staff, AGENT, "/close", thread_id=thread)
    await bot.api.wait_for_call("closeForumTopic")
    assert bot.store.ticket(1001).status is TicketStatus.CLOSED
    mark = bot.api.mark()
    bot.api.group_text(bot.staff, AGENT, "/close", thread_id=thread)
    error = await bot.staff_post("⚠️", since=mark)
    assert "1001" in error.params["text"]
    assert "reopen" in error.params["text"]

    mark = bot.api.mark()
    bot.api.group_text(bot.staff, AGENT, "/reopen", thread_id=thread)
    reopened = await bot.api.wait_for_call("reopenForumTopic", since=mark)
    assert reopened.params["message_thread_id"] == thread
    await bot.reply_to(ANNA, "wieder geöffnet", since=mark)
    await bot.staff_post("wieder offen", since=mark)
    assert bot.store.ticket(1001).status is TicketStatus.OPEN


# A plain group without topics


async def test_a_plain_group_works_by_replies_to_the_card(api: FakeBotApi, tmp_path: Path) -> None:
    """Without topics the card is a message; replies to it reach the customer and back."""
    async with running_bot(api, tmp_path, staff=PLAIN_STAFF) as bot:
        card, thread = await open_ticket(bot)
        assert thread is None
        assert card.params.get("reply_parameters") is None
        assert api.calls("createForumTopic") == []
        card_message = card.result
        assert isinstance(card_message, dict)
        bot.api.group_text(
            PLAIN_STAFF, AGENT, "Der Mailserver läuft wieder.", reply_to=card_message
        )
        await bot.reply_to(ANNA, "Der Mailserver läuft wieder.")
        mark = api.mark()
        api.user_text(ANNA, "Danke, Mails kommen wieder an")
        follow_up = await bot.staff_post("Mails kommen wieder an", since=mark)
        assert follow_up.params["reply_parameters"]["message_id"] == card_message["message_id"]
        assert follow_up.params.get("message_thread_id") is None
        # A reply to the follow-up post (not the card) belongs to the ticket as well.
        posted = follow_up.result
        assert isinstance(posted, dict)
        api.group_text(PLAIN_STAFF, AGENT, "Gern geschehen!", reply_to=posted)
        await bot.reply_to(ANNA, "Gern geschehen!")


async def test_a_reply_to_a_post_not_yet_recorded_waits_for_the_record(
    api: FakeBotApi, tmp_path: Path
) -> None:
    """The bot records a post's ticket just after Telegram's answer; an agent's reply that
    comes first is relayed once the record is there, not dropped."""
    async with running_bot(api, tmp_path, staff=PLAIN_STAFF) as bot:
        card, _ = await open_ticket(bot)
        card_message = card.result
        assert isinstance(card_message, dict)
        assert card_message["from"]["is_bot"]
        # A post of the bot's whose ticket the bot has not recorded yet.
        post = {**card_message, "message_id": card_message["message_id"] + 1000}
        api.group_text(PLAIN_STAFF, AGENT, "Ist erledigt.", reply_to=post)
        await asyncio.sleep(0.3)
        assert not [c for c in sends_to(api, ANNA.id) if "Ist erledigt." in str(c.params)]
        await asyncio.to_thread(
            StaffThreads(bot.store).remember, PLAIN_STAFF.id, post["message_id"], 1001
        )
        await bot.reply_to(ANNA, "Ist erledigt.")


# The customer withdraws


async def test_cancel_withdraws_the_ticket_and_closes_its_topic(bot: Running) -> None:
    """/cancel with an open ticket closes it, tells staff in the topic and closes the topic."""
    _, thread = await open_ticket(bot)
    mark = bot.api.mark()
    bot.api.user_text(ANNA, "/cancel")
    closed = await bot.api.wait_for_call("closeForumTopic", since=mark)
    assert closed.params["message_thread_id"] == thread
    withdrawn = await bot.staff_post("zurückgezogen", since=mark)
    assert withdrawn.params["message_thread_id"] == thread
    await bot.reply_to(ANNA, "1001", since=mark)
    assert bot.store.ticket(1001).status is TicketStatus.CLOSED


# Updates the bot does not act on


async def test_other_update_kinds_never_raise(bot: Running) -> None:
    """Stickers get a hint, edits nothing, other groups one line, the general topic nothing."""
    mark = bot.api.mark()
    bot.api.user_sticker(ANNA)
    hint = await bot.reply_to(ANNA, "kann ich leider nicht verarbeiten", since=mark)

    question = bot.api.user_text(JOHN, PASSWORD)
    await bot.reply_to(JOHN, PASSWORD_LINK)
    mark = bot.api.mark()
    bot.api.edited_text(JOHN, question["message"], "How do I change my password?")

    group = bot.api.add_chat(FakeChat(-3003, "group", title="Freunde"))
    bot.api.user_text(JOHN, "/help", chat=group)
    bot.api.user_text(JOHN, "Just chatting in the group", chat=group)
    bot.api.group_text(bot.staff, AGENT, "Guten Morgen zusammen!")
    bot.api.group_text(bot.staff, AGENT, "/close")
    line = await bot.api.wait_for_call(
        "sendMessage", lambda p: p["chat_id"] == group.id, since=mark
    )
    assert line.params["text"].startswith("Please write to me in a private chat")
    # A last message that is answered: everything before it has been handled by then.
    bot.api.user_text(JOHN, "/help")
    await bot.reply_to(JOHN, "/support", since=mark)
    sent = [c for c in bot.api.calls()[mark:] if not c.method.startswith("get")]
    assert [(c.method, c.params["chat_id"]) for c in sent] == [
        ("sendMessage", group.id),
        ("sendMessage", JOHN.id),
    ]
    assert hint.ok
    assert bot.store.tickets() == []


# Flood limits


async def test_a_429_burst_loses_nothing(bot: Running) -> None:
    """Three 429 answers in a row for the customer's chat: the reply still arrives, once."""
    bot.api.fail_next(
        "sendMessage", 429, retry_after=1, count=3, predicate=lambda p: p.get("chat_id") == ANNA.id
    )
    bot.api.user_text(ANNA, PASSWORD)
    await bot.api.wait_for_call(
        "sendMessage",
        lambda p: p["chat_id"] == ANNA.id and PASSWORD_LINK in str(p.get("text")),
        timeout=10,
    )
    to_anna = [c for c in bot.api.calls("sendMessage") if c.params["chat_id"] == ANNA.id]
    assert [c.status for c in to_anna] == [429, 429, 429, 200]
