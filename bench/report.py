"""The benchmarks' reports: the results as JSON, or a report of text lines, tables and
preformatted blocks rendered as plain text or as Markdown (for docs/performance.md).

A command builds its report from its results (``report(results) -> list[Block]``); ``write``
prints what the command's ``--json`` / ``--markdown`` options ask for.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TextIO

from django.core.management.base import CommandParser, OutputWrapper

COLUMN_GAP = "  "


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column: its header, the format spec of its cells (``".2f"``, ``",.0f"``,
    ``".1%"``), and whether it is left-aligned (labels; numbers are right-aligned)."""

    header: str
    fmt: str = ""
    left: bool = False

    def cell(self, value: Any) -> str:
        return "-" if value is None else format(value, self.fmt)


@dataclasses.dataclass
class Table:
    """Rows under column headers; ``indent`` shifts the plain-text table right."""

    columns: Sequence[Column]
    rows: list[Sequence[Any]] = dataclasses.field(default_factory=list)
    indent: int = 0

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def cells(self) -> list[list[str]]:
        return [
            [column.cell(v) for column, v in zip(self.columns, row, strict=True)]
            for row in self.rows
        ]

    def text_lines(self) -> list[str]:
        cells = self.cells()
        widths = [
            max([len(column.header), *(len(row[k]) for row in cells)])
            for k, column in enumerate(self.columns)
        ]

        def line(values: Sequence[str]) -> str:
            parts = [
                f"{value:{'<' if column.left else '>'}{width}}"
                for column, value, width in zip(self.columns, values, widths, strict=True)
            ]
            return (" " * self.indent + COLUMN_GAP.join(parts)).rstrip()

        return [line([column.header for column in self.columns]), *map(line, cells)]

    def markdown_lines(self) -> list[str]:
        def line(values: Iterable[str]) -> str:
            return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

        rule = "|" + "|".join(":---" if c.left else "---:" for c in self.columns) + "|"
        return [line(c.header for c in self.columns), rule, *map(line, self.cells())]


@dataclasses.dataclass(frozen=True)
class Preformatted:
    """Lines shown as they are (query plans, profiles): a code block in Markdown."""

    lines: Sequence[str]


Block = str | Table | Preformatted  # a str is one line of text; "" separates paragraphs


def render_text(blocks: Iterable[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            lines += block.text_lines()
        elif isinstance(block, Preformatted):
            lines += block.lines
        else:
            lines.append(block)
    return "\n".join(lines)


def render_markdown(blocks: Iterable[Block]) -> str:
    """Each text line its own paragraph; tables and preformatted blocks apart from the text."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            parts.append("\n".join(block.markdown_lines()))
        elif isinstance(block, Preformatted):
            parts.append("\n".join(["```", *block.lines, "```"]))
        elif block.strip():
            # leading blanks would make an indented code block
            parts.append(block.strip())
    return "\n\n".join(parts)


def to_json(results: Mapping[str, Any]) -> str:
    return json.dumps(results, indent=2)


def add_output_arguments(parser: CommandParser) -> None:
    """``--json`` (the results) or ``--markdown`` (the report); the text report otherwise."""
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="Print the results as JSON.")
    output.add_argument(
        "--markdown", action="store_true", help="Print the report with Markdown tables."
    )


def write(
    stream: OutputWrapper | TextIO,
    results: dict[str, Any],
    report: Callable[[dict[str, Any]], list[Block]],
    options: Mapping[str, Any],
) -> None:
    """Write ``results`` as ``options`` (``json``, ``markdown``) ask: as JSON, or ``report``
    of them as Markdown or plain text."""
    if options.get("json"):
        stream.write(to_json(results))
    elif options.get("markdown"):
        stream.write(render_markdown(report(results)))
    else:
        stream.write(render_text(report(results)))


def cleanup_line(counts: Mapping[str, int], *, extra: str = "") -> str:
    """The report's last line: what the benchmark deleted behind itself."""
    deleted = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
    return f"Benchmark cleanup: {deleted} deleted{extra}."
