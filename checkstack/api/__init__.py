"""Shared REST API pieces: errors, pagination, permissions, strict serializers, health."""

# A URL id: anything but '/' and NUL (which PostgreSQL text cannot hold: such ids are 404s).
ID_PATTERN = r"[^/\x00]+"
