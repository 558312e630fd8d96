"""Incident services: every write and query of incidents, their timeline and links.

Every write runs in one transaction through the ``incident`` entity (so it is locked, logged
and turned into trigger events when a reactive field changes) and sends ``incident_changed``
after commit. Bad input raises ``ValidationError`` (field → messages) and changes nothing.

One module per question, lower ones never importing higher ones:

- ``writes``: the write protocol of one existing incident (lock, change, log, notify);
- ``fields``: validation of an incident's own fields;
- ``timeline``: timeline updates and the status they set;
- ``creation``: creating an incident, or reusing the active one of a system;
- ``lifecycle``: changing, resolving and deleting an incident;
- ``bulk``: resolving or deleting many incidents, one transaction each;
- ``links``: an incident's links;
- ``system_removal``: dropping a deleted catalog system from its incidents;
- ``queries``: the incident list and one incident as an audience sees it;
- ``systems``: what active incidents mean for given systems (suppression, health overrides).

Callers import from here (``from incidents.services import resolve_incident``); a test that
patches a name patches it in the module that looks it up.
"""

from .bulk import MAX_BULK, BulkResult, bulk_delete, bulk_resolve
from .creation import create_deduped_for_system, create_incident
from .fields import MAX_TITLE
from .lifecycle import RESOLVED_MESSAGE, delete_incident, resolve_incident, update_incident
from .links import MAX_LABEL, MAX_URL, add_link, remove_link, update_link
from .queries import (
    ORDERINGS,
    SEVERITY_RANK,
    Audience,
    detail_of,
    get_incident,
    get_many_entity_states,
    list_incidents,
)
from .system_removal import remove_system_from_incidents
from .systems import (
    active_incidents_by_system,
    active_incidents_for_system,
    get_active_health_overrides,
    has_active_incident_with_suppression,
)
from .timeline import MAX_MESSAGE, add_update, delete_update, edit_update
from .writes import Unchanged

__all__ = [
    "MAX_BULK",
    "MAX_LABEL",
    "MAX_MESSAGE",
    "MAX_TITLE",
    "MAX_URL",
    "ORDERINGS",
    "RESOLVED_MESSAGE",
    "SEVERITY_RANK",
    "Audience",
    "BulkResult",
    "Unchanged",
    "active_incidents_by_system",
    "active_incidents_for_system",
    "add_link",
    "add_update",
    "bulk_delete",
    "bulk_resolve",
    "create_deduped_for_system",
    "create_incident",
    "delete_incident",
    "delete_update",
    "detail_of",
    "edit_update",
    "get_active_health_overrides",
    "get_incident",
    "get_many_entity_states",
    "has_active_incident_with_suppression",
    "list_incidents",
    "remove_link",
    "remove_system_from_incidents",
    "resolve_incident",
    "update_incident",
    "update_link",
]
