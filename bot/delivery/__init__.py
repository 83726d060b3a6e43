"""Delivery of the outbox: the dispatcher and the channels that are not Telegram (sinks)."""
