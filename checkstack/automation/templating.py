"""Sandboxed Jinja2 for automations: trigger filters and step config templates.

Everything runs in Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``: a missing name
or key is an error rather than an empty string, and an unsafe attribute (``__class__``,
``mro``, ...) raises ``SecurityError`` as soon as it is used. Both surface as
``TemplateFailure`` with a message naming what failed, and nothing is executed.

A config string that is exactly one ``{{ expression }}`` keeps the expression's type (a list
of system ids stays a list); any other template string renders to text.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Mapping
from typing import Any, cast

import jinja2
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg

_SINGLE_EXPRESSION = re.compile(r"\s*\{\{(?P<expr>.*?)\}\}\s*", re.DOTALL)
MAX_RENDERED = 1_000_000
# Results of ``**`` above this many bits are refused (Python prints at most 4,300 digits).
MAX_POWER_BITS = 14_000
# Widths and lengths given to padding and wrapping functions, and in %-format specs.
MAX_WIDTH = 100_000
_WIDTH_FUNCTIONS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "indent", "wordwrap", "truncate"}
)
_FORMAT_WIDTHS = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?")


def _at_run_time(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (the filter or test ``name``) marked as needing the render context, which
    makes Jinja2's compiler leave calls of it alone: it otherwise calls a filter on constant
    arguments while compiling, so ``"a"|center(10**9)`` would run when an automation is saved.
    Widths are checked (``_check_widths``) before it runs."""
    pass_arg = _PassArg.from_obj(function)

    @jinja2.pass_context
    @functools.wraps(function)
    def at_run_time(context: Context, *args: Any, **kwargs: Any) -> Any:
        _check_widths(name, args, kwargs)
        if pass_arg is _PassArg.context:
            return function(context, *args, **kwargs)
        if pass_arg is _PassArg.eval_context:
            return function(context.eval_ctx, *args, **kwargs)
        if pass_arg is _PassArg.environment:
            return function(context.environment, *args, **kwargs)
        return function(*args, **kwargs)

    return at_run_time


def _check_widths(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if name in _WIDTH_FUNCTIONS:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_WIDTH:
                raise jinja2.exceptions.SecurityError(
                    f"{name}() with a width or length above {MAX_WIDTH}"
                )


def _check_format(spec: Any) -> None:
    if not isinstance(spec, str):
        return
    for match in _FORMAT_WIDTHS.finditer(spec):
        for number in match.groups():
            if number == "*" or (number and int(number) > MAX_WIDTH):
                raise jinja2.exceptions.SecurityError(
                    f"a %-format width or precision above {MAX_WIDTH} (or '*')"
                )


def _check_field_widths(template: str) -> None:
    """``str.format`` fields: a nested field in a format spec (``{:{w}}``) or a number in it
    above ``MAX_WIDTH`` is refused (``"{:>999999999}".format(1)`` would build a gigabyte)."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:  # malformed: ``format`` itself reports it
        return
    for _, _, spec, _ in fields:
        if spec and ("{" in spec or any(int(n) > MAX_WIDTH for n in re.findall(r"\d+", spec))):
            raise jinja2.exceptions.SecurityError(
                f"a format field width or precision above {MAX_WIDTH} (or from a field)"
            )


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, with no user code run while compiling and bounded arithmetic.

    - Filters and tests are never called at compile time (see ``_at_run_time``); ``**``, ``*``
      and ``%`` are intercepted, which also stops the compiler from working them out on
      constants (``10**100000`` made saving an automation fail with a 500, ``9**9**9`` would
      not finish).
    - At run time: ``**`` results above ``MAX_POWER_BITS``, repetition (``"a" * n``) past
      ``MAX_RENDERED`` items, and widths above ``MAX_WIDTH`` (``%``-formats, ``center``,
      ``indent``, ``wordwrap``, ``truncate``, ``str.ljust`` ..., ``str.format`` fields) raise
      ``SecurityError``.
    """

    intercepted_binops = frozenset({"**", "*", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        filters = cast("dict[str, Callable[..., Any]]", self.filters)
        tests = cast("dict[str, Callable[..., Any]]", self.tests)
        self.filters = {name: _at_run_time(name, f) for name, f in filters.items()}
        self.filters["format"] = self._guarded_format(self.filters["format"])
        self.tests = {name: _at_run_time(name, t) for name, t in tests.items()}

    @staticmethod
    def _guarded_format(format_filter: Callable[..., Any]) -> Callable[..., Any]:
        @jinja2.pass_context
        def format_(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
            _check_format(value)
            return format_filter(context, value, *args, **kwargs)

        return format_

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and right > 0
                and abs(left) > 1
                and abs(left).bit_length() * right > MAX_POWER_BITS
            ):
                raise jinja2.exceptions.SecurityError(
                    f"a power with a result above {MAX_POWER_BITS} bits"
                )
        elif operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, (str, list, tuple))
                    and isinstance(count, int)
                    and len(sequence) * count > MAX_RENDERED
                ):
                    raise jinja2.exceptions.SecurityError(
                        f"a repetition longer than {MAX_RENDERED} items"
                    )
        elif operator == "%":
            _check_format(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_widths(getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:  # ``value`` is the format method of a string
            _check_field_widths(value.__self__)
        return wrapped


def sandbox(**options: Any) -> SandboxedEnvironment:
    """A new environment with the rules of ``_Sandbox``."""
    return _Sandbox(**options)


_environment = sandbox(undefined=jinja2.StrictUndefined, autoescape=False)


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
