"""The JSON parser of every Checkstack endpoint."""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from checkstack.validation import storage_problem


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with a 400 what it would let through and a later step could
    not handle: numbers out of range (``1e400`` becomes infinity, which no JSON column takes),
    ``NaN``/``Infinity``, unpaired surrogates (``"\\ud800"``: no UTF-8 encoding exists, so even
    the error response naming the field could not be rendered) and nesting deeper than
    ``MAX_JSON_DEPTH`` (or deep enough to exhaust the decoder's recursion). NUL characters are
    left to the serializers, which name the field that holds them."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})  # refuses non-text codecs
        try:
            data = json.load(
                codecs.getreader(encoding)(stream),
                parse_float=_finite_float,
                parse_constant=_no_constant,
            )
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        problem = storage_problem(data, allow_nul=True)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data
