"""What the schemathesis tests' hooks share: whether a generated body is one the schema allows.

The hooks swap ids and URLs of generated bodies for seeded ones so the success paths run. A
negative case's body must stay as generated: swapping its bad ids for good ones would make the
API accept a request that schemathesis still counts as schema-violating.
"""

from __future__ import annotations

from typing import Any

import jsonschema


def body_is_schema_valid(context: Any, body: Any) -> bool:
    operation = context.operation
    bodies = list(operation.body) if operation is not None else []
    if not bodies:
        return False
    schema = bodies[0].validation_schema
    return bool(jsonschema.validators.validator_for(schema)(schema).is_valid(body))
