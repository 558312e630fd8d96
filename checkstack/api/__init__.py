"""Shared REST API pieces: errors, pagination, permissions, strict serializers, health."""
