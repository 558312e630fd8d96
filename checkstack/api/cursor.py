"""Keyset ("cursor") pages of an ordered queryset: a page is the rows after (or before) the
sort key of the row that ended the previous one, so a page costs the same at any depth and no
``COUNT(*)`` is run.

A cursor is the URL-safe base64 of ``{"o": ordering, "k": key, "b": backwards}``. It is not
secret (it holds the sort values of a row the client has already seen); a cursor that does not
decode, or that was made for another ordering, is a 400 naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

INVALID = "Invalid cursor: use the next or previous link of a page, or cursor= for the first."
OTHER_ORDERING = "This cursor belongs to another ordering: start again with cursor= (empty)."
NOT_AVAILABLE = "Cursor pagination is not available for this list."
MAX_CURSOR_LENGTH = 2048


@dataclass(frozen=True)
class Position:
    """Where a page starts: after ``key`` (or before it, ``backwards``) in ``ordering``."""

    ordering: tuple[str, ...]
    key: tuple[Any, ...]
    backwards: bool = False


def ordering_of(queryset: QuerySet[Any]) -> tuple[str, ...]:
    """The queryset's sort terms (``"-updated_at"``, ``"id"``...) ending in the primary key, so
    that every row has a distinct key. 400 when the ordering cannot carry a cursor: an
    expression, a related or nullable field."""
    given = tuple(queryset.query.order_by) or tuple(queryset.model._meta.ordering or ())
    terms = tuple(term for term in given if isinstance(term, str))
    if len(terms) != len(given):  # an expression
        raise ValidationError({"cursor": [NOT_AVAILABLE]})
    names = [term.lstrip("-") for term in terms]
    pk = queryset.model._meta.pk
    assert pk is not None
    if not {"pk", pk.name, pk.attname} & set(names):
        terms = (*terms, pk.name)
        names.append(pk.name)
    for name in names:
        if "__" in name or name == "?":
            raise ValidationError({"cursor": [NOT_AVAILABLE]})
        if name in queryset.query.annotations or name == "pk":
            continue
        try:
            field = queryset.model._meta.get_field(name)
        except FieldDoesNotExist:
            raise ValidationError({"cursor": [NOT_AVAILABLE]}) from None
        if getattr(field, "null", False):
            raise ValidationError({"cursor": [NOT_AVAILABLE]})
    return terms


def _encode_value(value: Any) -> list[Any]:
    if isinstance(value, dt.datetime):
        return ["dt", value.isoformat()]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"Cannot put {type(value).__name__} in a cursor")
    return ["int" if isinstance(value, int) else "str", value]


def _decode_value(item: Any) -> Any:
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], str | int)):
        raise ValueError(item)
    kind, value = item
    if kind == "dt" and isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None or parsed.tzinfo is None:
            raise ValueError(value)
        return parsed
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    raise ValueError(item)


def encode(position: Position) -> str:
    body = {
        "o": list(position.ordering),
        "k": [_encode_value(v) for v in position.key],
        "b": position.backwards,
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def key_kinds(queryset: QuerySet[Any], ordering: Sequence[str]) -> tuple[str, ...]:
    """The cursor tag (``dt``, ``int``, ``str``) each sort term's values must carry."""
    kinds = []
    for term in ordering:
        name = term.lstrip("-")
        if name in queryset.query.annotations:
            field = queryset.query.annotations[name].output_field
        else:
            field = (
                queryset.model._meta.pk if name == "pk" else queryset.model._meta.get_field(name)
            )
        internal = field.get_internal_type()  # type: ignore[union-attr]
        if internal in ("DateTimeField",):
            kinds.append("dt")
        elif "Integer" in internal or internal in ("AutoField", "BigAutoField", "SmallAutoField"):
            kinds.append("int")
        else:
            kinds.append("str")
    return tuple(kinds)


def decode(text: str, ordering: tuple[str, ...], kinds: tuple[str, ...]) -> Position | None:
    """The position of a cursor for ``ordering`` whose values are of ``kinds``
    (``key_kinds``); None for an empty cursor (the first page)."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        body = json.loads(raw)
        if not isinstance(body, dict) or set(body) != {"o", "k", "b"}:
            raise ValueError("shape")
        made_for, key, backwards = body["o"], body["k"], body["b"]
        if not isinstance(made_for, list) or not isinstance(key, list):
            raise ValueError("shape")
        if not isinstance(backwards, bool):
            raise ValueError("shape")
        values = tuple(_decode_value(item) for item in key)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": [INVALID]}) from None
    if tuple(made_for) != ordering:
        raise ValidationError({"cursor": [OTHER_ORDERING]})
    if tuple(item[0] for item in key) != kinds:  # also a key of another length
        raise ValidationError({"cursor": [INVALID]})
    return Position(ordering, values, backwards)


def key_of(row: Model, ordering: Sequence[str]) -> tuple[Any, ...]:
    return tuple(getattr(row, term.lstrip("-")) for term in ordering)


def _beyond(ordering: Sequence[str], key: Sequence[Any], *, backwards: bool) -> Q:
    """Rows strictly after ``key`` in ``ordering`` (before it when ``backwards``):
    ``a > x OR (a = x AND b > y) ...``, ANDed with ``a >= x`` so that an index on the first
    term starts its scan at the key instead of filtering every row before it."""
    either = Q()
    equal: dict[str, Any] = {}
    for term, value in zip(ordering, key, strict=True):
        name = term.lstrip("-")
        later = term.startswith("-") == backwards  # ascending forwards, or descending back
        either |= Q(**equal, **{f"{name}__{'gt' if later else 'lt'}": value})
        equal[name] = value
    first, first_value = ordering[0], key[0]
    first_later = first.startswith("-") == backwards
    bound = Q(**{f"{first.lstrip('-')}__{'gte' if first_later else 'lte'}": first_value})
    return bound & either


def reversed_terms(ordering: Sequence[str]) -> tuple[str, ...]:
    return tuple(term[1:] if term.startswith("-") else f"-{term}" for term in ordering)


def page(
    queryset: QuerySet[Any],
    position: Position | None,
    ordering: tuple[str, ...],
    size: int,
    *,
    keys_first: bool = False,
) -> tuple[list[Any], bool]:
    """The rows of the page at ``position`` in display order, and whether more rows lie
    beyond it in the direction it was read (after it forwards, before it backwards).

    ``keys_first``: the statement finds the page's primary keys on their own (a subquery with
    the page's filter, order and limit), then reads those rows. Where an index holds every
    column the filter and the order need, the keys come from an index-only walk that reads no
    row it does not return: worth it when the filter rejects most rows it walks past (a
    search); otherwise it costs a second lookup per row."""
    backwards = position is not None and position.backwards
    rows_qs = queryset.order_by(*(reversed_terms(ordering) if backwards else ordering))
    if position is not None:
        rows_qs = rows_qs.filter(_beyond(ordering, position.key, backwards=backwards))
    if keys_first:
        rows_qs = rows_qs.filter(pk__in=rows_qs.values("pk")[: size + 1])
    rows = list(rows_qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    return rows, more
