"""Support tiers: which requests are free and which are billed."""
