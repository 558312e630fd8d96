"""Subscriber and notification tables."""
