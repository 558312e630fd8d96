"""The history strip of each system: one cell per day, the worst state of that day.

Built from the entity change log, without the database: each incident or maintenance is a
stream of states (the one it had when the window opened, then one per change); the stretches
in which a state gave its systems a status other than operational are *spells*, and a day's
cell takes the worst spell that touches it. The reads live in ``queries``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from checkstack.system_status import SystemStatus, worst

from .states import StateLook, look_of

JSONState = Mapping[str, Any]
# What one state of an entity gives its systems (None: nothing, e.g. a resolved incident).
Contribution = Callable[[JSONState], SystemStatus | None]


@dataclasses.dataclass(frozen=True)
class Event:
    """An incident or a maintenance, as the strip names it."""

    kind: str  # "incident" | "maintenance"
    id: str
    title: str


@dataclasses.dataclass
class Stream:
    """One entity's states: ``opening`` (None: it did not exist or was not visible at the
    window's start), then ``changes`` as ``(occurred_at, next state or None)``, oldest first."""

    event: Event
    contribution: Contribution
    opening: JSONState | None = None
    changes: list[tuple[dt.datetime, JSONState | None]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Spell:
    """A stretch of time in which ``event`` gave ``system_ids`` the status ``status``."""

    event: Event
    status: SystemStatus
    system_ids: frozenset[str]
    start: dt.datetime
    end: dt.datetime


@dataclasses.dataclass
class DayCell:
    """One day of one system; ``status`` None when the system did not exist yet."""

    day: dt.date
    status: SystemStatus | None
    events: dict[Event, SystemStatus] = dataclasses.field(default_factory=dict)

    @property
    def look(self) -> StateLook | None:
        return look_of(self.status) if self.status is not None else None

    @property
    def summary(self) -> str:
        """The cell's tooltip: the day, its state and the incidents and maintenance in it."""
        day = f"{self.day:%a %d %b %Y}"
        if self.look is None:
            return f"{day}: no data"
        told = "; ".join(f"{e.title} ({look_of(s).label.lower()})" for e, s in self.events.items())
        return f"{day}: {self.look.label}" + (f". {told}" if told else "")


def spells(streams: Iterable[Stream], *, start: dt.datetime, now: dt.datetime) -> list[Spell]:
    """Every stretch from ``start`` to ``now`` in which a stream's state gave its systems a
    status (the opening state holds from ``start`` to the first change)."""
    found: list[Spell] = []
    for stream in streams:
        state, since = stream.opening, start
        for occurred_at, next_state in [*stream.changes, (now, None)]:
            status = stream.contribution(state) if state is not None else None
            if state is not None and status is not None:
                system_ids = frozenset(state.get("systemIds") or ())
                found.append(Spell(stream.event, status, system_ids, since, occurred_at))
            state, since = next_state, occurred_at
    return found


def day_window(today: dt.date, days: int) -> list[dt.date]:
    """The ``days`` days ending with ``today``, oldest first."""
    return [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def strips(
    system_ids: Sequence[str],
    found: Iterable[Spell],
    *,
    days: Sequence[dt.date],
    tz: dt.tzinfo,
    first_days: Mapping[str, dt.date] | None = None,
) -> dict[str, list[DayCell]]:
    """The cells of each system over ``days`` (dates in ``tz``); days before a system's first
    day (``first_days``) have no data, the others are operational unless a spell says worse."""
    first_days = first_days or {}
    index = {day: n for n, day in enumerate(days)}
    cells = {
        system_id: [
            DayCell(day, None if day < first_days.get(system_id, day) else SystemStatus.OPERATIONAL)
            for day in days
        ]
        for system_id in system_ids
    }
    for spell in found:
        first = max(spell.start.astimezone(tz).date(), days[0])
        # A spell ending at midnight does not touch the day that midnight begins.
        end = spell.end if spell.end == spell.start else spell.end - dt.timedelta(microseconds=1)
        last = min(end.astimezone(tz).date(), days[-1])
        if first > days[-1] or last < days[0]:
            continue
        for system_id in spell.system_ids & cells.keys():
            row = cells[system_id]
            for n in range(index[first], index[last] + 1):
                mark(row[n], spell)
    return cells


def mark(cell: DayCell, spell: Spell) -> None:
    """Let ``spell`` count in ``cell``: the worst status wins, for the day and for the event."""
    cell.status = worst((cell.status or SystemStatus.OPERATIONAL, spell.status))
    cell.events[spell.event] = worst((cell.events.get(spell.event, spell.status), spell.status))
