"""Incidents: incidents, their timeline and links."""
