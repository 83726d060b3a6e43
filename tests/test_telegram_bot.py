"""The Telegram bot end to end: the real Application over HTTP against the fake Bot API."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fake_bot_api import FakeBotApi
from telegram_harness import AGENT, ANNA, Running, running_bot

from bot.content.model import Tier

FIREWALL = "Ich habe mich mit iptables aus meinem Server ausgesperrt"
MAIL_FAULT = (
    "Ich möchte mit einem Mitarbeiter sprechen: euer Mailserver nimmt seit heute früh"
    " keine Mails mehr an, bei euch ist wohl eine Störung"
)


async def test_an_answer_carries_the_entrys_link(bot: Running) -> None:
    """A clear question is answered with the entry's link and three buttons."""
    bot.api.user_text(ANNA, "Wie ändere ich mein Passwort im Kundencenter?")
    call = await bot.reply_to(ANNA, "Passwort")
    assert "https://help.example-hoster.de/kundencenter/passwort-aendern" in call.params["text"]
    markup = call.params["reply_markup"]
    assert sum(len(row) for row in markup["inline_keyboard"]) == 3


async def test_extended_help_needs_agreement_before_staff_see_anything(bot: Running) -> None:
    """Firewall lockout + /support: the price first (agree is button 1); staff see it only after."""
    bot.api.user_text(ANNA, FIREWALL)
    await bot.reply_to(ANNA, "ausgesperrt")
    mark = bot.api.mark()
    bot.api.user_text(ANNA, "/support")
    notice = await bot.reply_to(ANNA, "25,00 €", since=mark)
    first = notice.params["reply_markup"]["inline_keyboard"][0][0]
    assert "kostenpflichtig" in first["text"]
    assert bot.staff_calls() == []
    await bot.press(ANNA, notice, first["text"])
    await bot.reply_to(ANNA, "1001")
    topic = await bot.api.wait_for_call("createForumTopic")
    assert "1001" in topic.params["name"]
    card = await bot.staff_post(FIREWALL)
    assert card.params["message_thread_id"] == await bot.thread_of(1001)
    assert bot.store.ticket(1001).tier is Tier.EXTENDED


async def test_a_fault_of_our_service_reaches_staff_without_a_price(bot: Running) -> None:
    """A mail-server fault goes to the staff chat at once, with no cost notice."""
    bot.api.user_text(ANNA, MAIL_FAULT)
    await bot.staff_post("Mailserver")
    texts = [c.params.get("text", "") for c in bot.api.calls("sendMessage")]
    assert not any("25,00 €" in str(text) for text in texts)
    assert bot.store.ticket(1001).tier is Tier.STANDARD


async def test_messages_are_relayed_both_ways_in_the_topic(bot: Running) -> None:
    """Customer follow-ups appear in the topic; agent replies there reach the customer."""
    bot.api.user_text(ANNA, MAIL_FAULT)
    await bot.staff_post("Mailserver")
    thread = await bot.thread_of(1001)
    bot.api.user_text(ANNA, "Fehler 550 beim Senden")
    await bot.staff_post("Fehler 550 beim Senden")
    bot.api.group_text(bot.staff, AGENT, "Wir haben den Dienst neu gestartet.", thread_id=thread)
    reply = await bot.reply_to(ANNA, "neu gestartet")
    assert "1001" in reply.params["text"]
    mark = bot.api.mark()
    bot.api.group_text(bot.staff, AGENT, "# intern: Kunde ist VIP", thread_id=thread)
    bot.api.group_text(bot.staff, AGENT, "/note auch intern", thread_id=thread)
    bot.api.group_text(bot.staff, AGENT, "/claim", thread_id=thread)
    await bot.staff_post("Bernd", since=mark)
    sent = [c for c in bot.api.calls("sendMessage")[mark:] if c.params["chat_id"] == ANNA.id]
    assert sent == []


async def test_close_bills_started_quarter_hours(bot: Running) -> None:
    """/close 20 on an extended ticket at 15-minute increments bills 2 units."""
    bot.api.user_text(ANNA, FIREWALL)
    await bot.reply_to(ANNA, "ausgesperrt")
    mark = bot.api.mark()
    bot.api.user_text(ANNA, "/support")
    notice = await bot.reply_to(ANNA, "25,00 €", since=mark)
    await bot.press(ANNA, notice, "kostenpflichtig")
    await bot.api.wait_for_call("createForumTopic")
    await bot.staff_post(FIREWALL)
    bot.api.group_text(bot.staff, AGENT, "/close 20", thread_id=await bot.thread_of(1001))
    summary = await bot.staff_post("50,00 €")
    assert "2 Viertelstunden" in summary.params["text"]
    await bot.reply_to(ANNA, "50,00 €")
    await bot.api.wait_for_call("closeForumTopic")
    bill = bot.store.ticket(1001).bill
    assert bill is not None
    assert bill.units == 2


async def test_forged_button_data_only_get_expired(bot: Running) -> None:
    """Callback data the bot never handed out change nothing and are answered as expired."""
    bot.api.user_text(ANNA, FIREWALL)
    message = (await bot.reply_to(ANNA, "ausgesperrt")).result
    assert isinstance(message, dict)
    mark = bot.api.mark()
    for forged in ("c:agree", "s:claim:1001", "c:AAAAAAAA"):
        bot.api.callback(ANNA, forged, message)
    await bot.api.wait_for(lambda: len(bot.api.calls("answerCallbackQuery")[0:]) >= 3)
    answers = bot.api.calls("answerCallbackQuery")
    assert all(c.params.get("text") for c in answers)
    assert bot.store.tickets() == []
    assert [c for c in bot.api.calls()[mark:] if c.method == "sendMessage"] == []


async def test_parallel_messages_of_one_customer_open_one_topic(bot: Running) -> None:
    """Five identical fault reports at once: one ticket, one topic, the rest in it."""
    for _ in range(5):
        bot.api.user_text(ANNA, MAIL_FAULT)
    await bot.api.wait_for(
        lambda: len([c for c in bot.staff_calls() if c.method == "sendMessage"]) >= 5
    )
    await asyncio.sleep(0.2)
    assert len(bot.api.calls("createForumTopic")) == 1
    assert len(bot.store.tickets()) == 1


async def test_the_worker_process_answers_in_order(api: FakeBotApi, tmp_path: Path) -> None:
    """With workers = 1 the core runs in a child process; answers and tickets still work."""
    async with running_bot(api, tmp_path, workers=1) as bot:
        bot.api.user_text(ANNA, "Wie ändere ich mein Passwort im Kundencenter?")
        await bot.reply_to(ANNA, "passwort-aendern")
        bot.api.user_text(ANNA, MAIL_FAULT)
        await bot.staff_post("Mailserver")
        assert bot.store.ticket(1001).tier is Tier.STANDARD
