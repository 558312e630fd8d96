"""Property-based run of every API operation against its own OpenAPI schema (schemathesis).

The schema is loaded in-process from the Django WSGI app at ``/api/schema/``; each operation
gets a bounded number of generated requests (examples, coverage and fuzzing phases, fixed seed,
no shrinking) sent as an authenticated manager (token). Path parameters and system id lists are
drawn partly from seeded rows so the success paths run too, not only 404s and 400s (never in a
negative case: its body stays as generated). Cases are positive and negative (schema-violating
on purpose). Checks: no 5xx; status code, content type and body conform to the schema; every
schema-violating request is refused (``negative_data_rejection``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from catalog import services as catalog
from incidents import services
from statuspage.maintenance import services as maintenance
from tests.api.helpers import add_timeline, make_incident, make_systems
from tests.api.schema_cases import body_is_schema_valid
from tests.statuspage.maintenance.helpers import make_maintenance, running

MAX_EXAMPLES = 15
SEED = 20240601
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

SEEDED: dict[str, list[str]] = {}


@pytest.fixture
def seeded(db: None, manager: Any) -> Iterator[dict[str, list[str]]]:
    """Rows the generated requests address: systems, a group, incidents with timelines,
    maintenances (scheduled, running, completed)."""
    system_ids = make_systems("db", "api", "web", "queue")
    group = catalog.create_group(id="core", name="Core", system_ids=["db", "api"])
    incidents = [
        make_incident(("db",), title="Database down", health_override="unhealthy"),
        make_incident(("api", "web"), title="API slow", initial_message="Looking", actor=manager),
        make_incident(("queue",), title="Queue stuck"),
    ]
    services.resolve_incident(incidents[2].pk)
    update_ids: list[str] = []
    link_ids: list[str] = []
    for incident in incidents[:2]:
        for update_id, link_id in add_timeline(incident, actor=manager).values():
            update_ids.append(update_id)
            link_ids.append(link_id)
    maintenances = [
        make_maintenance(["db"], title="Upgrade"),
        running(["api", "web"], title="Failover", visibility="internal"),
        running(["queue"], title="Done"),
    ]
    maintenance.complete_maintenance(maintenances[2].pk)
    SEEDED.update(
        system=system_ids,
        maintenance=[m.pk for m in maintenances],
        group=[group.pk],
        incident=[incident.pk for incident in incidents],
        update_id=update_ids,
        link_id=link_ids,
    )
    yield SEEDED
    SEEDED.clear()


def _known_ids(path: str, name: str) -> list[str]:
    if name != "id":
        return SEEDED.get(name, [])
    if path.startswith("/api/incidents/"):
        return SEEDED["incident"]
    if path.startswith("/api/catalog/systems/"):
        return SEEDED["system"]
    if path.startswith("/api/maintenances/"):
        return SEEDED["maintenance"]
    return SEEDED["group"]


# Loaded at collection time (serving the schema needs no database). The lazy
# ``schemathesis.pytest.from_fixture`` loader would be the other way, but schemathesis 4.32 sets
# ``request.node._nodeid``, which pytest 9 no longer has.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    get_wsgi_application(),
    config=schemathesis.config.SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",  # positive and negative (schema-violating) cases
                "max-examples": MAX_EXAMPLES,
                "no-shrink": True,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Each path parameter: the generated value or a seeded row's id."""
    if not path_parameters:
        return st.just(path_parameters)
    path = context.operation.path
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, *_known_ids(path, name)])
            for name, value in path_parameters.items()
        }
    )


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Ids and urls in bodies: as generated, or seeded ids / a valid url (so writes succeed)."""
    if not body_is_schema_valid(context, body):
        return st.just(body)
    if isinstance(body, dict) and isinstance(body.get("system_ids"), list):
        return st.sampled_from([body, {**body, "system_ids": SEEDED["system"][:2]}])
    if isinstance(body, dict) and isinstance(body.get("ids"), list):
        return st.sampled_from([body, {**body, "ids": SEEDED["incident"][:2]}])
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        return st.sampled_from([body, {**body, "url": "https://status.example.com/new"}])
    return st.just(body)


@pytest.mark.usefixtures("keep_test_connection", "seeded")
@schema.parametrize()
@settings(
    deadline=None,
    # The fixtures (seeded rows, token) are meant to be shared by all examples of an operation.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Any, manager_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {manager_token}"}, checks=CHECKS)
