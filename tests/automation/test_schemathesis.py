"""Property-based run of the automation operations against their OpenAPI schema, as a user
holding ``automation.manage_automation`` (the API suite's manager lacks it, so there these
operations only answer 403).

Path ids are drawn partly from a seeded automation, run, webhook endpoint and delivery, and
bodies of positive cases partly replaced by the valid example definition (or a valid webhook
URL), so the success paths run too. Cases are positive and negative (schema-violating on
purpose). Checks: no 5xx; status code, content type and body conform to the schema; every
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
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from checkstack.automation import services as automations
from checkstack.automation import webhooks
from tests.api.helpers import make_user
from tests.api.schema_cases import body_is_schema_valid
from tests.automation.helpers import critical_incident_definition, grant, make_run

HOOK_URL = "http://127.0.0.1:9/hook"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SEEDED: list[str] = []

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    get_wsgi_application(),
    config=schemathesis.config.SchemathesisConfig.from_dict(
        {
            "seed": 20261126,
            "generation": {
                "mode": "all",  # positive and negative (schema-violating) cases
                "max-examples": 25,
                "no-shrink": True,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
        }
    ),
).include(path_regex="^/api/automation/")


@pytest.fixture
def seeded(db: None, settings: Any) -> Iterator[list[str]]:
    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = True  # no DNS lookups of generated hosts
    automation = automations.create_automation(**critical_incident_definition())
    endpoint = webhooks.create_endpoint(url=HOOK_URL)
    SEEDED.extend(
        [
            automation.pk,
            str(make_run(automation).pk),
            str(endpoint.pk),
            str(webhooks.ping(str(endpoint.pk)).pk),
        ]
    )
    yield SEEDED
    SEEDED.clear()


@pytest.fixture
def automator_token(db: None) -> str:
    user = grant(make_user("otto"), "automation.manage_automation")
    return str(Token.objects.create(user=user).key)


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {name: st.sampled_from([value, *SEEDED]) for name, value in path_parameters.items()}
    )


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """A generated body, or one whose definition fields (or webhook URL) are replaced by valid
    ones."""
    if not body_is_schema_valid(context, body):
        return st.just(body)
    if isinstance(body, dict) and ("steps" in body or "trigger" in body):
        example = critical_incident_definition()
        valid = {**body, **{key: example[key] for key in ("trigger", "steps") if key in body}}
        return st.sampled_from([body, valid])
    if isinstance(body, dict) and "url" in body:
        return st.sampled_from([body, {**body, "url": HOOK_URL}, {"url": HOOK_URL}])
    return st.just(body)


@pytest.mark.usefixtures("keep_test_connection", "seeded")
@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_automation_api_conforms_to_its_schema(case: Any, automator_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {automator_token}"}, checks=CHECKS)
