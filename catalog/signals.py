"""Public signals of the catalog app, sent by the services after COMMIT."""

from django.dispatch import Signal

# A system was created, updated or deleted.
#   sender: catalog.models.System
#   system_id: str
#   action: "created" | "updated" | "deleted"
#   actor: the entity actor dict
system_changed = Signal()

# A group was created, updated (including its members) or deleted.
#   sender: catalog.models.Group
#   group_id: str
#   action: "created" | "updated" | "deleted"
#   actor: the entity actor dict
group_changed = Signal()
