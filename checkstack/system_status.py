"""The status of each system, gathered from every app that has a say (a port, no imports).

Apps register a *status source* in ``AppConfig.ready()``: incidents (open incidents by severity
or health override), maintenance (running maintenance). ``system_statuses`` asks each source
once and keeps the worst status per system, in Statuspage's component vocabulary:
``operational`` < ``under_maintenance`` < ``degraded_performance`` < ``partial_outage`` <
``major_outage``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from enum import StrEnum

from checkstack.errors import RegistrationError


class SystemStatus(StrEnum):
    """Listed from best to worst."""

    OPERATIONAL = "operational"
    UNDER_MAINTENANCE = "under_maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @property
    def rank(self) -> int:
        """0 (operational) to 4 (major outage): the higher, the worse."""
        return list(SystemStatus).index(self)


# ``source(system_ids or None for every system, visibilities) -> {system_id: status}``: the
# statuses the source contributes (systems it has nothing to say about are absent), computed
# from what readers of those visibilities may see, in one query.
StatusSource = Callable[[Collection[str] | None, frozenset[str]], Mapping[str, SystemStatus]]

_sources: dict[str, StatusSource] = {}


def register_status_source(name: str, source: StatusSource) -> None:
    """Called in ``AppConfig.ready()``; registering the same source again is harmless."""
    if not isinstance(name, str) or not name.strip():
        raise RegistrationError("A status source needs a non-empty name")
    if not callable(source):
        raise RegistrationError(f"Status source {name!r} must be callable")
    existing = _sources.get(name)
    if existing is not None and existing is not source:
        raise RegistrationError(f"Status source {name!r} is already registered")
    _sources[name] = source


def worst(statuses: Iterable[SystemStatus]) -> SystemStatus:
    """The worst of ``statuses``; ``operational`` when there are none."""
    return max(statuses, key=lambda status: status.rank, default=SystemStatus.OPERATIONAL)


def system_statuses(
    system_ids: Collection[str] | None, *, visibilities: frozenset[str]
) -> dict[str, SystemStatus]:
    """The worst status per system across all sources, as readers of ``visibilities`` see it.

    With ``system_ids`` every one of them is in the answer (``operational`` when no source says
    otherwise); with None, only the systems some source has something to say about. One query
    per source (none for an empty list of ids).
    """
    ids = None if system_ids is None else list(dict.fromkeys(system_ids))
    statuses = {} if ids is None else dict.fromkeys(ids, SystemStatus.OPERATIONAL)
    if ids == []:
        return statuses
    for source in _sources.values():
        for system_id, status in source(ids, frozenset(visibilities)).items():
            if ids is None or system_id in statuses:
                statuses[system_id] = worst((statuses.get(system_id, status), status))
    return statuses
