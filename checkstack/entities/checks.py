"""System checks: derivers and mappers must name defined kinds and registered triggers."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from . import registry


@register()
def check_derivers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for kind, registrations in sorted(registry.all_derivers().items()):
        if registry.find_handle(kind) is None:
            messages.append(
                Warning(
                    f"Change deriver registered for entity kind {kind!r}, which is not defined.",
                    hint="Define the kind with define_entity() or remove the deriver.",
                    id="checkstack_entities.W001",
                )
            )
        for registration in registrations:
            for trigger_id in registration.emits:
                if registry.find_trigger(trigger_id) is None:
                    name = getattr(registration.derive, "__qualname__", repr(registration.derive))
                    messages.append(
                        Error(
                            f"Change deriver {name} of {kind!r} emits trigger {trigger_id!r}, "
                            "which is not registered.",
                            hint="Register it with checkstack.automation.register_trigger().",
                            id="checkstack_entities.E001",
                        )
                    )
    return messages
