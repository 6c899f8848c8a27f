"""The ``cbn bench`` table stays a table when a cell holds a pipe (norms ``||A||_*``,
``max |new - old|``): every row has exactly the header's seven cells."""

from __future__ import annotations

import re

from cbn.figures.commands.bench import table
from cbn.numerics.benchmarks import BenchResult


def _cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_pipes_inside_cells_are_escaped():
    result = BenchResult(name="x", job="min sum_m ||A(m)||_*", baseline="b", seconds=1.0,
                         baseline_seconds=2.0, agreement="max |new - old| = 1e-6")
    header, _, row = table([result]).splitlines()
    assert len(_cells(header)) == 7
    cells = _cells(row)
    assert len(cells) == 7
    assert cells[1].strip() == r"min sum_m \|\|A(m)\|\|_*"
    assert cells[5].strip() == "2x"
