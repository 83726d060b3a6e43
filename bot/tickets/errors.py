"""What the ticket store refuses to do, each with a message a person can act on."""

from __future__ import annotations


class StoreError(Exception):
    """The ticket store cannot do what was asked; the message is one line."""


class SchemaError(StoreError):
    """The database file is not one this version of triagebot can use."""


class NotFoundError(StoreError):
    """A ticket, customer or consent that does not exist was asked for."""


class TransitionError(StoreError):
    """A ticket was asked to change status in a way the status machine forbids."""


class ConsentError(StoreError):
    """An extended-tier ticket was asked for without a valid agreement to pay."""
