"""Merchant staff: the people who use the admin console, their passwords and sessions."""
