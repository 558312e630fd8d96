"""Cross-app references without imports: an app that owns ids registers a checker.

``incidents`` stores system ids as opaque strings; when ``catalog`` is installed it registers a
checker that locks the referenced rows for the transaction (so a concurrent delete waits) and
reports the ids that do not exist. Without a checker, ids are not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from checkstack.errors import RegistrationError

LockExisting = Callable[[list[str]], set[str]]

_checkers: dict[str, LockExisting] = {}


def register_reference_checker(name: str, lock_existing: LockExisting) -> None:
    """``lock_existing(ids) -> ids that exist``, locking them until the transaction ends."""
    existing = _checkers.get(name)
    if existing is not None and existing is not lock_existing:
        raise RegistrationError(f"Reference checker {name!r} is already registered")
    _checkers[name] = lock_existing


def has_reference_checker(name: str) -> bool:
    return name in _checkers


def lock_and_find_missing(name: str, ids: Iterable[str]) -> list[str]:
    """Ids (in input order) that do not exist; [] when nobody registered ``name``."""
    checker = _checkers.get(name)
    wanted = list(dict.fromkeys(ids))
    if checker is None or not wanted:
        return []
    found = checker(wanted)
    return [i for i in wanted if i not in found]


def snapshot() -> dict[str, LockExisting]:
    return dict(_checkers)


def restore(state: dict[str, LockExisting]) -> None:
    _checkers.clear()
    _checkers.update(state)
