"""Patron's benchmarks: ``make bench``."""
