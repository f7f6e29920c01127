"""Talking to other systems: the outbox dispatcher and what it delivers to (HTTP lives here)."""
