"""Patron: a self-hosted customer and loyalty-wallet server."""

__version__ = "0.1.0"
