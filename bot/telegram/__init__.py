"""Telegram adapter: python-telegram-bot translates updates into core calls and delivers."""
