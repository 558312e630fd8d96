"""Public signals of the incidents app, sent by the services after COMMIT."""

from django.dispatch import Signal

# Every incident write (including ones that change no reactive field), once committed.
#   sender: incidents.models.Incident
#   incident_id: str
#   system_ids: list[str], sorted (the systems after the write; before it, for "deleted")
#   action: "created" | "updated" | "resolved" | "reopened" | "deleted"
#   actor: the entity actor dict
incident_changed = Signal()
