"""Sandboxed Jinja2 for automations: trigger filters and step config templates.

Everything runs in Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``: a missing name
or key is an error rather than an empty string, and an unsafe attribute (``__class__``,
``mro``, ...) raises ``SecurityError`` as soon as it is used. Both surface as
``TemplateFailure`` with a message naming what failed, and nothing is executed.

A config string that is exactly one ``{{ expression }}`` keeps the expression's type (a list
of system ids stays a list); any other template string renders to text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

_environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
_SINGLE_EXPRESSION = re.compile(r"\s*\{\{(?P<expr>.*?)\}\}\s*", re.DOTALL)
MAX_RENDERED = 1_000_000


class TemplateFailure(Exception):
    """A filter or template could not be evaluated (syntax, undefined name, sandbox refusal)."""


def is_template(value: Any) -> bool:
    """A string the engine renders as a Jinja2 template before validating the config."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"refused by the sandbox: {exc}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined value: {exc}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"syntax error: {exc.message} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"


def evaluate_filter(source: str, scope: Mapping[str, Any]) -> bool:
    """The truth of a trigger filter expression; an empty filter matches everything."""
    if not source.strip():
        return True
    try:
        expression = _environment.compile_expression(source, undefined_to_none=False)
        return bool(expression(**scope))
    except Exception as exc:  # any failure of user code counts as an error, never a match
        raise TemplateFailure(f"Filter {source!r}: {_describe(exc)}") from exc


def render_value(value: Any, scope: Mapping[str, Any], *, where: str) -> Any:
    """``value`` with every template string rendered (nested lists and objects included)."""
    if isinstance(value, str) and is_template(value):
        return _render_string(value, scope, where)
    if isinstance(value, dict):
        return {
            key: render_value(item, scope, where=f"{where}.{key}") for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            render_value(item, scope, where=f"{where}[{index}]") for index, item in enumerate(value)
        ]
    return value


def _render_string(source: str, scope: Mapping[str, Any], where: str) -> Any:
    single = _SINGLE_EXPRESSION.fullmatch(source)
    try:
        if single and not is_template(single.group("expr")):
            result = _environment.compile_expression(single.group("expr"), undefined_to_none=False)(
                **scope
            )
            if isinstance(result, jinja2.Undefined):
                str(result)  # raises: StrictUndefined refuses to be used
            return result
        rendered = _environment.from_string(source).render(**scope)
    except Exception as exc:  # a template is user code: report it, never crash the worker
        raise TemplateFailure(f"{where}: {_describe(exc)}") from exc
    if len(rendered) > MAX_RENDERED:
        raise TemplateFailure(f"{where}: rendered text is longer than {MAX_RENDERED} characters")
    return rendered
