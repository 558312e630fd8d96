"""Fixtures of the maintenance tests: the REST API tests' own (clients for every audience,
catalog systems ``db``, ``api`` and ``web``, no broker), shared rather than repeated."""

from tests.api.conftest import (  # noqa: F401
    anon,
    keep_test_connection,
    manager,
    manager_client,
    manager_token,
    managers_group,
    no_enqueue,
    superuser,
    superuser_client,
    systems,
    token_client,
    user,
    user_client,
)
