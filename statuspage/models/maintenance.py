"""Scheduled maintenance tables."""
