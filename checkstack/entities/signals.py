"""Public signals of the entity framework."""

from django.dispatch import Signal

# Sent after COMMIT, in the committing process, once per change.
#   sender: the entity kind (str)
#   change: the EntityChange
# Receivers' exceptions are logged, never raised into the write.
entity_changed = Signal()
