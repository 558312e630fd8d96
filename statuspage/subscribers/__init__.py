"""Subscribers of the status page and their notifications (see docs/status-page.md).

Lowest first: ``choices``/``conf``; ``tokens`` (signed links) and ``topics`` (the catalog, when
installed); ``mail`` (building a mail); ``services`` (subscriptions) and ``events`` (which
changes are told); ``fanout`` (work-queue handlers: notification rows, batches) and
``content`` (what a mail says); ``sending`` (claim, send, record, sweep); ``tasks``,
``schedules``, ``views``; ``admin``, ``api``, ``urls``; ``registration``. The order is checked
by import-linter (contract ``statuspage-subscribers`` in pyproject.toml).
"""
