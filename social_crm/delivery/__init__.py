"""Delivery: the outbox, alert channels, message rendering, digests and quiet hours."""
