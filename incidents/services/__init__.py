"""Incident services (moved into a package; split by responsibility in the next commit)."""

from .lifecycle import *  # noqa: F403
