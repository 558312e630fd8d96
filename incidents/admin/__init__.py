"""The incidents admin, one module per job:

- ``incident_admin``: the ``Incident`` model admin (pages, columns, the incident's own writes);
- ``inlines``: the timeline and link inlines and how their rows are saved;
- ``actions``: the changelist's bulk resolve and delete actions;
- ``changelist``: the changelist's filters and its per-page lookup of system names;
- ``change_log``: the read-only change-log table on the change page;
- ``system_names``: catalog names of systems for display (none without the catalog), and
  ``SystemColumns``, the "systems" column of the incident and maintenance admins.

Every write goes through ``incidents.services``. Importing this package registers the admin.
"""

from .incident_admin import IncidentAdmin

__all__ = ["IncidentAdmin"]
