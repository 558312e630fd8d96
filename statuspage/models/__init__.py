"""Tables of the status page app: maintenance (``maintenance.py``) and subscribers
(``subscribers.py``). Written only through the services of each concern."""

from .maintenance import *  # noqa: F403
from .subscribers import *  # noqa: F403
