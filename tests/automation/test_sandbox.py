"""The automation sandbox: nothing of a filter or template runs while it is compiled (saving
an automation), and arithmetic and widths are bounded when it runs."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
from rest_framework.test import APIClient

from checkstack.automation import templating
from checkstack.automation.models import Automation
from checkstack.automation.templating import TemplateFailure, evaluate_filter, render_value
from tests.api.helpers import make_user, post
from tests.automation.helpers import grant, note_step


def test_compiling_calls_no_filter_and_running_calls_it_once() -> None:
    calls: list[tuple[Any, ...]] = []

    def spy(value: Any, width: int) -> str:
        calls.append((value, width))
        return str(value)

    env = templating.sandbox()
    env.filters["spy"] = templating._at_run_time("spy", spy)

    expression = env.compile_expression('"a"|spy(3)')
    template = env.from_string('{{ "a"|spy(4) }}')

    assert calls == []  # plain Jinja2 calls it here, on its constant arguments
    assert expression() == "a"
    assert template.render() == "a"
    assert calls == [("a", 3), ("a", 4)]


@pytest.mark.parametrize(
    "source",
    [
        "10**100000",  # was a 500: the compiler worked it out and could not print it
        '"a"|center(1000000000)',
        '("a" * 2000000)|wordwrap(1)',
        '"%0999999999d" % 1',
        '"x".zfill(10**9)',
    ],
)
def test_expressions_whose_values_would_be_huge_compile_without_being_evaluated(
    source: str,
) -> None:
    # Plain Jinja2 works these out while compiling: ValueError (10**100000) or a huge string.
    expression = templating.sandbox().compile_expression(source)

    with pytest.raises(jinja2.exceptions.SecurityError):
        expression()  # evaluated only now, and refused


@pytest.mark.parametrize(
    ("source", "refusal"),
    [
        ("10**100000", "a power with a result above"),
        ("(2**64)**300", "a power with a result above"),
        ('"a"|center(1000000000)', "center() with a width"),
        ('"a"|indent(1000000000)', "indent() with a width"),
        ('"x".zfill(10**9)', "zfill() with a width"),
        ('"x".ljust(1000000)', "ljust() with a width"),
        ('"%0999999999d" % 1', "%-format width"),
        ('"%*d" % (5, 1)', "%-format width"),
        ('"%0999999999d"|format(1)', "%-format width"),
        ('"ab" * 1000000', "a repetition longer than"),
        ("[0] * 2000000", "a repetition longer than"),
        ('"{:>999999999}".format(1)', "a format field width"),
        ('"{:>1000000}".format_map({})', "a format field width"),
        ('"{:{w}}".format(1, w=10**9)', "a format field width"),
    ],
)
def test_running_refuses_huge_results(source: str, refusal: str) -> None:
    with pytest.raises(TemplateFailure, match="refused by the sandbox") as failed:
        evaluate_filter(source, {})

    assert refusal in str(failed.value)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("{{ 2**10 }}", 1024),
        ("{{ 2.5**2 }}", 6.25),
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ 3 * [1] }}", [1, 1, 1]),
        ("{{ 7 % 3 }}", 1),
        ("{{ '%05.1f' % 2.25 }}", "002.2"),
        ("{{ '%(n)s!' % {'n': 1} }}", "1!"),
        ("{{ 'x'|center(5) }}", "  x  "),
        ("{{ '%s-%s'|format(1, 2) }}", "1-2"),
        ("{{ [1, 2, 3]|select('odd')|map('string')|join(',') }}", "1,3"),
        ("{{ trigger.title|truncate(12) }}", "Database..."),
        ("{{ 4 is divisibleby(2) }}", True),
        ("{{ '{:>6.2f}'.format(3.14159) }}", "  3.14"),
        ("{{ '{:,}'.format(12345678901) }}", "12,345,678,901"),
        ("{{ '{{:>999999999}}'.format() }}", "{:>999999999}"),
    ],
)
def test_ordinary_templates_still_work(source: str, value: Any) -> None:
    scope = {"trigger": {"title": "Database down again"}}

    assert render_value(source, scope, where="config.x") == value


@pytest.mark.django_db
def test_saving_an_automation_with_a_huge_constant_filter_is_a_201_not_a_500() -> None:
    client = APIClient()
    client.force_login(grant(make_user("otto"), "automation.manage_automation"))
    body = {
        "name": "huge",
        "trigger": {"event": "incident.created", "filter": "10**100000"},
        "steps": [note_step(message="{{ 'a'|center(1000000000) }}")],
    }

    response = post(client, "/api/automation/automations/", body)

    assert response.status_code == 201, response.content[:300]  # was a 500
    assert Automation.objects.count() == 1
