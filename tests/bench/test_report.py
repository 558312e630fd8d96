"""``bench.report``: the results as JSON, the report as plain text or Markdown tables."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from bench import report

RESULTS: dict[str, Any] = {
    "list": {"p50_ms": 11.834, "p99_ms": 16.39, "queries": 4},
    "detail": {"p50_ms": 6.18, "p99_ms": None, "queries": 7},
    "cleanup": {"queued_tasks": 3, "trigger_events": 2},
}


def report_of(results: dict[str, Any]) -> list[report.Block]:
    table = report.Table(
        [
            report.Column("request", left=True),
            report.Column("p50 ms", ".2f"),
            report.Column("p99 ms", ".2f"),
            report.Column("queries"),
        ]
    )
    for key, label in (("list", "GET /api/incidents/"), ("detail", "GET /api/incidents/{id}/")):
        row = results[key]
        table.add(label, row["p50_ms"], row["p99_ms"], row["queries"])
    return [
        "bench_test on sqlite",
        "",
        table,
        report.Preformatted(["Limit  (cost=0.29..3.1 rows=50)", "  ->  Index Scan"]),
        report.cleanup_line(results["cleanup"]),
    ]


def written(**options: Any) -> str:
    out = io.StringIO()
    report.write(out, RESULTS, report_of, options)
    return out.getvalue()


def test_json_is_the_results_as_they_are() -> None:
    assert json.loads(written(json=True)) == RESULTS


def test_markdown_writes_the_given_rows_as_a_table() -> None:
    markdown = written(markdown=True)

    assert markdown.split("\n\n") == [
        "bench_test on sqlite",
        "| request | p50 ms | p99 ms | queries |\n"
        "|:---|---:|---:|---:|\n"
        "| GET /api/incidents/ | 11.83 | 16.39 | 4 |\n"
        "| GET /api/incidents/{id}/ | 6.18 | - | 7 |",
        "```\nLimit  (cost=0.29..3.1 rows=50)\n  ->  Index Scan\n```",
        "Benchmark cleanup: 3 queued tasks, 2 trigger events deleted.",
    ]


def test_text_aligns_the_columns() -> None:
    assert written().splitlines() == [
        "bench_test on sqlite",
        "",
        "request                   p50 ms  p99 ms  queries",
        "GET /api/incidents/        11.83   16.39        4",
        "GET /api/incidents/{id}/    6.18       -        7",
        "Limit  (cost=0.29..3.1 rows=50)",
        "  ->  Index Scan",
        "Benchmark cleanup: 3 queued tasks, 2 trigger events deleted.",
    ]


def test_markdown_escapes_pipes_and_drops_leading_blanks() -> None:
    table = report.Table([report.Column("sql", left=True)])
    table.add("a || b")

    assert report.render_markdown(["  indented", table]) == (
        "indented\n\n| sql |\n|:---|\n| a \\|\\| b |"
    )


def test_an_indented_table_is_shifted_in_text_only() -> None:
    table = report.Table([report.Column("#"), report.Column("statement", left=True)], indent=4)
    table.add(1, "BEGIN")

    assert report.render_text([table]).splitlines() == ["    #  statement", "    1  BEGIN"]
    assert report.render_markdown([table]).splitlines()[0] == "| # | statement |"


def test_a_row_must_fill_every_column() -> None:
    table = report.Table([report.Column("a"), report.Column("b")])

    with pytest.raises(ValueError, match="1 cells for 2 columns"):
        table.add(1)
