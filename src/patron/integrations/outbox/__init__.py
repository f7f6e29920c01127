"""Delivering the transactional outbox: claim, deliver outside any transaction, settle."""
