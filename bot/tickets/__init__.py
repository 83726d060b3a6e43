"""Tickets: the queue, delivery to staff and customers, and the SLA clock."""
